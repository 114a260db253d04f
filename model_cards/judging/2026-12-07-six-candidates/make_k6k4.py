"""Blind A/B items: op4n's suggestion with six candidates against four, on every eval row where they differ
(corpus test, held-out ParaDetox, real news comments; 100 each), A/B in seeded random order.

    python model_cards/judging/2026-12-07-six-candidates/make_k6k4.py EVAL_K4.json EVAL_K6.json JUDGE_DIR

items_k6k4.jsonl goes to JUDGE_DIR (with /work/r14/judge's add.py and prompt), key_k6k4.jsonl beside this script.
"""
import json
import random
import sys
from pathlib import Path

ABSTAINED = "(no suggestion: the tool abstained and showed nothing)"
k4, k6, out = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), Path(sys.argv[3])
rng = random.Random(2020)
rows = []
for name in ("corpus_test", "paradetox_heldout", "real_comments"):
    four = {s["source"]: s["model_reranked"] for s in k4["samples"][name]}
    for s in k6["samples"][name]:
        if s["model_reranked"] != four[s["source"]]:
            rows.append((name, s, four[s["source"]] or ABSTAINED, s["model_reranked"] or ABSTAINED))
rng.shuffle(rows)
items, keys = [], []
for n, (name, s, four, six) in enumerate(rows):
    flip = rng.random() < 0.5
    i = f"k{n:03d}"
    items.append({"id": i, "context": s.get("context"), "call_out": s["source"], "A": six if flip else four,
                  "B": four if flip else six})
    keys.append({"id": i, "slice": name, "A": "k6" if flip else "k4", "B": "k4" if flip else "k6"})
(out / "items_k6k4.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items))
(Path(__file__).parent / "key_k6k4.jsonl").write_text("".join(json.dumps(x) + "\n" for x in keys))
print(len(items), "items")
