"""Blind A/B items: op4s (adapter cut to rank 48) against op4n (exact rank 160), on every eval row where their
suggestions differ (corpus test, held-out ParaDetox, real news comments; 100 each), A/B in seeded random order.

    python model_cards/judging/2026-12-07-adapter-rank/make_ab.py EVAL_OP4N.json EVAL_OP4S.json JUDGE_DIR

items_r48.jsonl goes to JUDGE_DIR (with /work/r14/judge's add.py and prompt), key_r48.jsonl beside this script.
"""
import json
import random
import sys
from pathlib import Path

ABSTAINED = "(no suggestion: the tool abstained and showed nothing)"
r160, r48, out = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), Path(sys.argv[3])
rng = random.Random(2048)
rows = []
for name in ("corpus_test", "paradetox_heldout", "real_comments"):
    exact = {s["source"]: s["model_reranked"] for s in r160["samples"][name]}
    for s in r48["samples"][name]:
        if s["model_reranked"] != exact[s["source"]]:
            rows.append((name, s, exact[s["source"]] or ABSTAINED, s["model_reranked"] or ABSTAINED))
rng.shuffle(rows)
items, keys = [], []
for n, (name, s, exact, cut) in enumerate(rows):
    flip = rng.random() < 0.5
    i = f"r{n:03d}"
    items.append({"id": i, "context": s.get("context"), "call_out": s["source"], "A": cut if flip else exact,
                  "B": exact if flip else cut})
    keys.append({"id": i, "slice": name, "A": "r48" if flip else "r160", "B": "r160" if flip else "r48"})
(out / "items_r48.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items))
(Path(__file__).parent / "key_r48.jsonl").write_text("".join(json.dumps(x) + "\n" for x in keys))
print(len(items), "items")
