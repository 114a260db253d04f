"""What the detox path would show on gen_real.py's real comments, scored by the blind verdicts.

    python model_cards/judging/2026-12-06-detox/analyse.py GEN.jsonl JUDGE_FOLDER [SIMILARITY ...] [--no-negation-check]

Per comment: the guard's suggestion as now; or, where none passes, the detox path's (select(): candidates whose
only problem is the call-in check, P(neutral) >= 0.5, similarity >= the floor and as many negation words as
the source, the best by log-probability).
"""
import collections
import json
import sys
from pathlib import Path

from callinkit.guard import negations

HERE = Path(__file__).parent
rows = [json.loads(line) for line in open(sys.argv[1])]
folder = Path(sys.argv[2])
items = {json.loads(line)["id"]: json.loads(line) for line in open(HERE / "items.jsonl")}
verdict = {}
for f in sorted(folder.glob("verdicts_*.jsonl")):
    for line in open(f):
        v = json.loads(line)
        verdict[items[v["id"]]["source"], items[v["id"]]["candidate"]] = v
NEGATIONS = "--no-negation-check" not in sys.argv  # as select(): a detox keeps the source's negations
floors = [float(a) for a in sys.argv[3:] if not a.startswith("--")] or [0.6, 0.7, 0.75, 0.8, 0.85, 0.9]


def shown_now(r):
    return r["shown"]


def detox(r, floor):
    ok = [c for c in r["candidates"] if c["problems"] and all(p.startswith("not a call-in by the classifier")
                                                               for p in c["problems"])
          and c["neutral"] >= 0.5 and c["similarity"] >= floor
          and (not NEGATIONS or negations(c["text"]) == negations(r["source"]))]
    return max(ok, key=lambda c: c["logprob"])["text"] if ok else None


def tally(pick):
    out = collections.Counter()
    for r in rows:
        text = pick(r)
        if text is None:
            continue
        v = verdict[r["source"], text]
        out[r["sample"], v["rating"]] += 1
        out["all", v["rating"]] += 1
    return out


def line(name, t):
    parts = []
    for s in ("all", "paradetox_validation", "civil_comments"):
        n = sum(t[s, k] for k in ("good", "acceptable", "bad"))
        parts.append(f"{s}: {n} shown, {t[s, 'good']}/{t[s, 'acceptable']}/{t[s, 'bad']} "
                     f"({100 * t[s, 'bad'] / max(1, n):.0f}% bad)")
    print(f"{name}: " + " | ".join(parts))


n = collections.Counter(r["sample"] for r in rows)
print("comments:", dict(n))
line("guard now", tally(shown_now))
for floor in floors:
    line(f"detox path only (similarity >= {floor})", tally(lambda r, f=floor: None if r["shown"] else detox(r, f)))
reasons = collections.Counter(verdict[r["source"], t]["reason"] for r in rows if not r["shown"]
                              for t in [detox(r, floors[0])] if t and verdict[r["source"], t]["rating"] == "bad")
print(f"bad reasons of the detox path at {floors[0]}:", reasons.most_common())
