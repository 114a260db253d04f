"""What session 17's leak-threat patterns (the last four of callinkit.guard._THREAT_PATTERNS) add: threats and
non-threats matched per corpus split (the test split counted, not listed), labelled real texts, and call-in
references; every newly matched train or validation text is printed.

    python model_cards/judging/2026-12-06-leak-threats/patterns.py
"""
import re

from callinkit.corpus import load_corpus
from callinkit.guard import _THREAT_PATTERNS, THREAT_RE
from callinkit.train.threat_probe import real_text_rows

OLD = re.compile("|".join(f"(?:{p})" for p in _THREAT_PATTERNS[:-4]), re.IGNORECASE)
NEW = re.compile("|".join(f"(?:{p})" for p in _THREAT_PATTERNS[-4:]), re.IGNORECASE)
assert THREAT_RE.pattern == "|".join(f"(?:{p})" for p in _THREAT_PATTERNS)
corpus = load_corpus("classification")
for split in ("train", "validation", "test"):
    rows = list(corpus[split])
    threats = [r["text"] for r in rows if r.get("style") == "threat"]
    others = [r for r in rows if r.get("style") != "threat"]
    old = sum(bool(OLD.search(t)) for t in threats)
    new = sum(bool(OLD.search(t) or NEW.search(t)) for t in threats)
    o_old = sum(bool(OLD.search(r["text"])) for r in others)
    o_new = sum(bool(OLD.search(r["text"]) or NEW.search(r["text"])) for r in others)
    print(f"{split}: threats matched {old} -> {new} of {len(threats)}; non-threats {o_old} -> {o_new} of {len(others)}")
    if split != "test":
        for t in threats:
            if NEW.search(t) and not OLD.search(t):
                print("   +", t[:160].replace("\n", " "))
        for r in others:
            if NEW.search(r["text"]):
                print("   non-threat:", r.get("style"), r["text"][:160].replace("\n", " "))
real = real_text_rows("../shared/data/paradetox")
print("labelled real texts matched by the new patterns: threats", sum(bool(NEW.search(r["text"])) for r in real if r["threat"]),
      "of", sum(r["threat"] for r in real), "; others", sum(bool(NEW.search(r["text"])) for r in real if not r["threat"]),
      "of", sum(not r["threat"] for r in real))
pairs = load_corpus("pairs")
for split in ("train", "validation", "test"):
    refs = [r["call_in"] for r in pairs[split]]
    print(f"{split} call-in references matched by the new patterns: {sum(bool(NEW.search(t)) for t in refs)} of {len(refs)}")
