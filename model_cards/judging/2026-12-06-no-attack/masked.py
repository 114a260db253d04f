"""Session 19's guard words: profanity hidden behind symbols (`guard.masked_profanity`: "f**k", "sh!t", "F()()K")
and party or politician names turned into insults ("DemonRat", "Repuglicans"). What they refuse among human
rewrites, which must stay allowed, and among session 18's judged real validation comments' candidates.

    python model_cards/judging/2026-12-06-no-attack/masked.py

Before = the guard without them (monkeypatched); after = the guard as shipped.
"""
import collections
import json
from pathlib import Path

from callinkit import guard
from callinkit.config import SourceConfig
from callinkit.corpus import KINDS, load_corpus, pair_rows, read_records, read_splits
from callinkit.train.data import source_rows

ADDED = ("demonrat*", "democrap*", "dumbocrat*", "repuglican*", "rethuglican*", "republicunt*", "trumptard*",
         "trumpanzee*", "libtard*")
DATA = Path("../shared/data")
DETOX = Path(__file__).parents[1] / "2026-12-06-detox"
shipped_terms, shipped_insults = guard.attack_terms, guard.INSULT_RE


def before_terms(text):
    return ({m.group(0).lower() for m in guard.INSULT_RE.finditer(text)}
            | {m.group(0).lower() for m in guard.SLUR_RE.finditer(text)}
            | {m.group(0).lower() for m in guard.PHRASE_RE.finditer(text)})


def refused(pairs):
    return {i for i, (s, c) in enumerate(pairs) if any("insult" in p for p in guard.check_candidate(s, c))}


corpus = [(r["call_out"], r["call_in"]) for r in pair_rows({k: read_records(k) for k in KINDS}, read_splits())]
pd = [(r["call_out"], r["call_in"]) for r in source_rows(SourceConfig(name="paradetox", path=str(DATA / "paradetox")),
                                                         "pairs")]
items = {json.loads(line)["id"]: json.loads(line) for line in open(DETOX / "items.jsonl")}
verdicts = [json.loads(line) for f in sorted(DETOX.glob("verdicts_[0-9].jsonl")) for line in open(f)]
judged = [(items[v["id"]]["source"], items[v["id"]]["candidate"], v["rating"], v["reason"]) for v in verdicts]
sets = {"corpus pairs' references": corpus, "ParaDetox references": pd,
        "judged real validation candidates": [(s, c) for s, c, _, _ in judged]}

guard.attack_terms = before_terms
guard.INSULT_RE = guard._word_re(tuple(w for w in guard.INSULTS if w not in ADDED) + ("libtard*",))
before = {name: refused(pairs) for name, pairs in sets.items()}
guard.attack_terms, guard.INSULT_RE = shipped_terms, shipped_insults
after = {name: refused(pairs) for name, pairs in sets.items()}
for name, pairs in sets.items():
    print(f"{name} refused for an insult: {len(before[name])} -> {len(after[name])} of {len(pairs)}")
    for i in sorted(after[name] - before[name])[:12]:
        print("   newly refused:", pairs[i][0][:80].replace("\n", " "), "->", pairs[i][1][:100].replace("\n", " "))
newly = sorted(after["judged real validation candidates"] - before["judged real validation candidates"])
print("judged candidates newly refused, by verdict:", dict(collections.Counter(judged[i][2] for i in newly)))
corpus_texts = load_corpus("classification")
hits = collections.Counter((split, r["label"]) for split in ("train", "validation", "test") for r in corpus_texts[split]
                           if guard.masked_profanity(r["text"]))
print("corpus texts with masked profanity (split, label):", dict(hits))
