"""Would "rewrite only what reads as an attack" withhold good or bad answers? Scored on session 18's blind
verdicts of validation comments (no test data).

    python model_cards/judging/2026-12-06-no-attack/measure.py

Rows: `../2026-12-06-detox/gen_real_op4_ng3.jsonl` (100 ParaDetox validation sources and 60 Civil Comments of the
toxic_spans train file, op4 + the n-gram probe, 4 candidates each) and their verdicts (`verdicts_*.jsonl`).
What is shown: the guard's answer, else the detox path's at 0.8 with the negation rule (what op4r shows).
An attack is found in a source when the shipped classifier labels it a call-out (as suggest() decides), or the
guard's lists find an insult, slur or profanity in it (`source_facts(...).attack_words`), or a threat pattern.
"""
import collections
import json
import sys
from pathlib import Path

from callinkit import Classifier
from callinkit.guard import THREAT_RE, negations, source_facts

DETOX = Path(__file__).parents[1] / "2026-12-06-detox"
rows = [json.loads(line) for line in open(DETOX / "gen_real_op4_ng3.jsonl")]
items = {json.loads(line)["id"]: json.loads(line) for line in open(DETOX / "items.jsonl")}
verdict = {}
for f in sorted(DETOX.glob("verdicts_[0-9].jsonl")):
    for line in open(f):
        v = json.loads(line)
        verdict[items[v["id"]]["source"], items[v["id"]]["candidate"]] = v


def shown(r):
    if r["shown"]:
        return r["shown"]
    ok = [c for c in r["candidates"] if c["problems"] and all(p.startswith("not a call-in by the classifier")
                                                               for p in c["problems"])
          and c["neutral"] >= 0.5 and c["similarity"] >= 0.8 and negations(c["text"]) == negations(r["source"])]
    return max(ok, key=lambda c: c["logprob"])["text"] if ok else None


clf = Classifier.load(sys.argv[1] if len(sys.argv) > 1 else None)
preds = clf.predict([r["source"] for r in rows])
tally = collections.Counter()
examples = []
for r, pred in zip(rows, preds):
    p = pred.scores["call_out"]
    by = ("classifier" if pred.label == "call_out" else "words" if source_facts(r["source"]).attack_words
          else "threat" if THREAT_RE.search(r["source"]) else "none")
    tally[r["sample"], "sources", by] += 1
    text = shown(r)
    if text is None:
        continue
    rating = verdict[r["source"], text]["rating"]
    tally[r["sample"], by, rating] += 1
    if by == "none":
        examples.append((r["sample"], rating, round(p, 2), r["source"][:110].replace("\n", " "), text[:110].replace("\n", " ")))
for sample in ("paradetox_validation", "civil_comments"):
    print(sample, "sources by how the attack is found:",
          {by: tally[sample, "sources", by] for by in ("classifier", "words", "threat", "none")})
    for by in ("classifier", "words", "threat", "none"):
        g, a, b = (tally[sample, by, k] for k in ("good", "acceptable", "bad"))
        if g + a + b:
            print(f"  shown where found by {by}: {g + a + b} ({g} good / {a} acceptable / {b} bad)")
print("\nshown where no attack is found (the rule would withhold these):")
for e in examples:
    print(" ", *e, sep=" | ")
