"""Blind items on held-out ParaDetox: every suggestion the guard shows in an eval JSON, beside the human
reference of the same comment, shuffled, for one judge; heldout_key.jsonl here says which is which.

    python model_cards/judging/2026-12-06-detox/heldout_items.py EVAL.json JUDGE_FOLDER
    python model_cards/judging/2026-12-06-detox/heldout_items.py --score EVAL.json OLD_EVAL.json

--score: the verdicts by group: suggestions shown only with the detox path (not by OLD_EVAL.json), shown before
too, and the human references of the same comments.
"""
import collections
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).parent
if sys.argv[1] == "--score":
    rows = json.load(open(sys.argv[2]))["samples"]["paradetox_heldout"]
    old = {r["source"] for r in json.load(open(sys.argv[3]))["samples"]["paradetox_heldout"] if r["model_reranked"]}
    keys = {json.loads(line)["id"]: json.loads(line) for line in open(HERE / "heldout_key.jsonl")}
    counts, bad = collections.Counter(), collections.Counter()
    for line in open(HERE / "heldout_verdicts.jsonl"):
        v = json.loads(line)
        k = keys[v["id"]]
        group = k["system"] if k["system"] == "reference" else (
            "shown before too" if k["source"] in old else "shown with the detox path")
        counts[group, v["rating"]] += 1
        if v["rating"] == "bad":
            bad[group, v["reason"]] += 1
    for group in ("shown with the detox path", "shown before too", "reference"):
        print(group, {r: counts[group, r] for r in ("good", "acceptable", "bad")},
              {r: n for (g, r), n in bad.items() if g == group})
    sys.exit()
rows = json.load(open(sys.argv[1]))["samples"]["paradetox_heldout"]
out = Path(sys.argv[2])
found = [(r["source"], r["model_reranked"], "model") for r in rows if r["model_reranked"]]
found += [(r["source"], r["reference"], "reference") for r in rows if r["model_reranked"]]
random.Random(18).shuffle(found)
items = [{"id": f"h{n:03d}", "source": s, "candidate": c} for n, (s, c, _) in enumerate(found)]
keys = [{"id": f"h{n:03d}", "system": w, "source": s} for n, (s, _, w) in enumerate(found)]
out.mkdir(parents=True, exist_ok=True)
(out / "items_1.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items))
(HERE / "heldout_items.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items))
(HERE / "heldout_key.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in keys))
print(len(items), "items")
