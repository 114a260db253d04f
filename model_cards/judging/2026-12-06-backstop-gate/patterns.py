"""Session 18's threat patterns for calls to lynch, hang or shoot a person: what they match beyond the other
patterns in the corpus (every split), the corpus's call-in references, the 1,504 labelled ParaDetox comments and
the 600 real comments labelled in session 18 (whose 21 threats they were written after).

    python model_cards/judging/2026-12-06-backstop-gate/patterns.py
"""
import collections
import re
import sys
from pathlib import Path

from callinkit import guard
from callinkit.corpus import KINDS, load_corpus, pair_rows, read_records, read_splits
from callinkit.train.threat_probe import real_text_rows

sys.path.insert(0, str(Path(__file__).parents[1] / "2026-12-06-real-concern"))
from texts import labelled_rows  # noqa: E402

first = next(i for i, p in enumerate(guard._THREAT_PATTERNS) if "noose|bullet" in p)
NEW = re.compile("|".join(f"(?:{p})" for p in guard._THREAT_PATTERNS[first:first + 7]), re.IGNORECASE)
OLD = re.compile("|".join(f"(?:{p})" for p in guard._THREAT_PATTERNS[:first] + guard._THREAT_PATTERNS[first + 7:]),
                 re.IGNORECASE)


def newly(text):
    return bool(NEW.search(text)) and not OLD.search(text)


corpus = load_corpus("classification")
counts = collections.Counter((split, r.get("style") == "threat") for split in ("train", "validation", "test")
                             for r in corpus[split] if newly(r["text"]))
print("corpus texts newly matched (split, is a threat):", dict(counts))
refs = [r["call_in"] for r in pair_rows({k: read_records(k) for k in KINDS}, read_splits())]
print("call-in references matched:", sum(bool(NEW.search(t)) for t in refs), "of", len(refs))
real = real_text_rows("../shared/data/paradetox")
print("labelled ParaDetox comments newly matched (threat?, text):")
for r in real:
    if newly(r["text"]):
        print("  ", r["threat"], r["text"][:120])
s18 = labelled_rows()
print("session-18 labelled comments newly matched (fold, threat?, text):")
for r in s18:
    if newly(r["text"]):
        print("  ", r["fold"], r["threat"], r["text"][:120])
print("session-18 threats matched by all patterns:", sum(bool(guard.THREAT_RE.search(r["text"])) for r in s18
                                                          if r["threat"]), "of", sum(r["threat"] for r in s18),
      "; non-threats:", sum(bool(guard.THREAT_RE.search(r["text"])) for r in s18 if not r["threat"]))
