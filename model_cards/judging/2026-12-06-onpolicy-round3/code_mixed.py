"""Measured, not built: would abstaining on code-mixed sources spare the guard bad suggestions? (session 15)

A source's English coverage: the share of its alphabetic words (3+ letters, handles and URLs left out) that
are whole words of the MiniLM classifier's WordPiece vocabulary; below 0.6 counts as code-mixed. Per on-policy
round folder: judged candidates and shown suggestions of code-mixed and other sources.

    python model_cards/judging/2026-12-06-onpolicy-round3/code_mixed.py
"""
import collections
import json
import re
from pathlib import Path

J = Path("model_cards/judging")
tok = json.load(open("callinkit/models/classifier/tokenizer.json"))
vocab = {k for k in tok["model"]["vocab"] if not k.startswith("##")}
WORD = re.compile(r"(?<![@#\w])[a-z]{3,}(?![\w])")


def coverage(text: str) -> float:
    words = WORD.findall(re.sub(r"https?://\S+", "", text).lower())
    return 1.0 if len(words) < 4 else 1 - sum(w not in vocab for w in words) / len(words)


for name in ("2026-12-06-onpolicy", "2026-12-06-onpolicy-round2", "2026-12-06-onpolicy-round3"):
    folder = J / name
    items = {json.loads(line)["id"]: json.loads(line) for line in open(folder / "items.jsonl")}
    verdicts = {json.loads(line)["id"]: json.loads(line) for k in (1, 2, 3, 4)
                for line in open(folder / f"verdicts_{k}.jsonl")}
    by_text = {(it["source"], it["candidate"]): verdicts[i] for i, it in items.items()}
    counts: collections.Counter = collections.Counter()
    for line in open(folder / "candidates.jsonl"):
        r = json.loads(line)
        group = "code-mixed" if coverage(r["source"]) < 0.6 else "other"
        counts["sources", group] += 1
        for c in r["candidates"]:
            v = by_text.get((r["source"], c["text"].strip()))
            if v:
                counts["candidates " + ("bad" if v["rating"] == "bad" else "not bad"), group] += 1
        if r["shown"]:
            counts["shown " + by_text[(r["source"], r["shown"].strip())]["rating"], group] += 1
    print(name, dict(sorted(counts.items())))
