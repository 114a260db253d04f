"""Insults that real comments use and the guard's word list lacks: mined from toxic_spans' annotated spans
(train file only), kept where no corpus call-in reference uses them in its own words, and measured.

    python model_cards/judging/2026-12-06-span-insults/measure.py [WORD ...]

1. The words of toxic_spans train spans that the guard's lists do not match, by how many comments' spans hold
   them (the top 60). 2. For the words given (default: ADDED, session 18's additions; WIDE: the first list tried): corpus pairs whose human call-in reference the
   guard refuses for an insult (repeated or added), before and after; ParaDetox references (every pair's human
   detoxification) refused the same way; and the session-18 judged real
   comments' candidates (`../2026-12-06-detox/`) newly refused, by verdict.
"""
import collections
import csv
import json
import re
import sys
from pathlib import Path

from callinkit import guard
from callinkit.config import SourceConfig
from callinkit.corpus import KINDS, pair_rows, read_records, read_splits
from callinkit.train.data import source_rows

WIDE = ("ignorant", "jerk", "jerks", "buffoon*", "foolish", "coward*", "dotard*", "sanctimonious", "insignificant",
        "woodhead*", "imbecilic", "pea-brained", "pussy", "damned", "arrogant", "liar", "liars", "incompetent")
# what session 18 added to guard.INSULTS (measured here as an addition to the list before it)
ADDED = ("jerk", "jerks", "buffoon*", "coward*", "dotard*", "insignificant", "woodhead*", "imbecilic", "pea-brained",
         "pussy", "damned")
words = tuple(sys.argv[1:]) or ADDED
BASE = tuple(w for w in guard.INSULTS if w not in ADDED)  # the list without session 18's words
guard.INSULT_RE = guard._word_re(BASE)
DATA = Path("../shared/data")

with open(DATA / "toxic_spans" / "tsd_train.csv", encoding="utf-8", newline="") as fh:
    spans_rows = list(csv.DictReader(fh))
docs = collections.Counter()
for r in spans_rows:
    offsets = json.loads(r["spans"])
    chars = "".join(ch if i in set(offsets) else " " for i, ch in enumerate(r["text"]))
    docs.update({w for w in re.findall(r"[a-z][a-z'-]*", chars.lower())
                 if not guard.INSULT_RE.fullmatch(w) and not guard.SLUR_RE.fullmatch(w)})
print("span words the guard's lists lack (comments):", docs.most_common(60))


def insult_problems(source, candidate):
    return [p for p in guard.check_candidate(source, candidate) if "insult" in p]


def refused(pairs):
    return {i for i, (s, c) in enumerate(pairs) if insult_problems(s, c)}


corpus = [(r["call_out"], r["call_in"]) for r in pair_rows({k: read_records(k) for k in KINDS}, read_splits())]
pd = [(r["call_out"], r["call_in"]) for r in source_rows(SourceConfig(name="paradetox", path=str(DATA / "paradetox")),
                                                         "pairs")]
judged_items = {json.loads(line)["id"]: json.loads(line) for line in open(Path(__file__).parents[1] / "2026-12-06-detox" / "items.jsonl")}
verdicts = [json.loads(line) for f in sorted((Path(__file__).parents[1] / "2026-12-06-detox").glob("verdicts_*.jsonl"))
            for line in open(f)]
judged = [(judged_items[v["id"]]["source"], judged_items[v["id"]]["candidate"], v["rating"], v["reason"]) for v in verdicts]

before = {"corpus": refused(corpus), "paradetox": refused(pd), "judged": refused([(s, c) for s, c, _, _ in judged])}
guard.INSULT_RE = guard._word_re(BASE + words)
after = {"corpus": refused(corpus), "paradetox": refused(pd), "judged": refused([(s, c) for s, c, _, _ in judged])}
print("words:", " ".join(words))
for key, name, pairs in (("corpus", "corpus pairs' references", corpus), ("paradetox", "ParaDetox references", pd)):
    print(f"{name} refused for an insult: {len(before[key])} -> {len(after[key])} of {len(pairs)}")
    for i in sorted(after[key] - before[key])[:15]:
        print("   newly refused:", pairs[i][0][:80], "->", pairs[i][1][:100])
newly = sorted(after["judged"] - before["judged"])
print("judged real-comment candidates newly refused:", dict(collections.Counter(judged[i][2] for i in newly)),
      "; bad for kept_attack among them:", sum(judged[i][3] == "kept_attack" for i in newly),
      "of", sum(v["reason"] == "kept_attack" for v in verdicts))
for i in newly:
    print("  ", judged[i][2], "|", judged[i][0][:70], "->", judged[i][1][:90])
