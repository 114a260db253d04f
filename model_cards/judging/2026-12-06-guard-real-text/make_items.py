"""Blind items: every ParaDetox suggestion the guard shows (from an eval JSON's samples) beside the human
reference of the same source, shuffled, for one judge; key.jsonl here says which is which.

    python model_cards/judging/2026-12-06-guard-real-text/make_items.py EVAL.json [JUDGE_FOLDER]
"""
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).parent
rows = json.load(open(sys.argv[1]))["samples"]["paradetox_heldout"]
out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("/work/r15/pd")
found = [(r["source"], r["model_reranked"], "model") for r in rows if r["model_reranked"]]
found += [(r["source"], r["reference"], "reference") for r in rows if r["model_reranked"]]
random.Random(16).shuffle(found)
items = [{"id": f"d{n:03d}", "source": s, "candidate": c} for n, (s, c, _) in enumerate(found)]
keys = [{"id": f"d{n:03d}", "system": w} for n, (_, _, w) in enumerate(found)]
out.mkdir(parents=True, exist_ok=True)
(out / "items.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items))
(HERE / "items.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items))
(HERE / "key.jsonl").write_text("".join(json.dumps(x) + "\n" for x in keys))
print(len(items), "items")
