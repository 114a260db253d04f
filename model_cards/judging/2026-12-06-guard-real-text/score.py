"""The blind ParaDetox verdicts by system: newly shown (not shown by OLD_EVAL.json), shown before too, reference.

    python model_cards/judging/2026-12-06-guard-real-text/score.py [OLD_EVAL.json]
"""
import collections
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
old_eval = sys.argv[1] if len(sys.argv) > 1 else HERE.parent / "2026-12-06-onpolicy-dpo2" / "eval_op2.json"
keys = {json.loads(line)["id"]: json.loads(line)["system"] for line in open(HERE / "key.jsonl")}
items = {json.loads(line)["id"]: json.loads(line) for line in open(HERE / "items.jsonl")}
old = {r["source"] for r in json.load(open(old_eval))["samples"]["paradetox_heldout"] if r["model_reranked"]}
counts: collections.Counter = collections.Counter()
for line in open(HERE / "verdicts.jsonl"):
    v = json.loads(line)
    system = keys[v["id"]]
    group = system if system == "reference" else (
        "shown before too" if items[v["id"]]["source"] in old else "newly shown")
    counts[group, v["rating"]] += 1
for group in ("newly shown", "shown before too", "reference"):
    print(group, {r: counts[group, r] for r in ("good", "acceptable", "bad")})
