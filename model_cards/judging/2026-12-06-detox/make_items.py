"""Blind items for the detoxification path, from gen_real.py's output: per real comment, what the guard shows
now, and every candidate whose only problem is the call-in check (what a detox path could show instead), each
distinct text once, shuffled; keys.jsonl here says which candidate of which row each item is.

    python model_cards/judging/2026-12-06-detox/make_items.py GEN.jsonl JUDGE_FOLDER N_JUDGES
"""
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).parent
rows = [json.loads(line) for line in open(sys.argv[1])]
out, n_judges = Path(sys.argv[2]), int(sys.argv[3])
found = {}
for r in rows:
    for c in r["candidates"]:
        only_call_in = c["problems"] and all(p.startswith("not a call-in by the classifier") for p in c["problems"])
        if c["text"] == r["shown"] or only_call_in:
            found.setdefault((r["source"], c["text"]), None)
pairs = list(found)
random.Random(18).shuffle(pairs)
items = [{"id": f"x{n:03d}", "source": s, "candidate": c} for n, (s, c) in enumerate(pairs)]
out.mkdir(parents=True, exist_ok=True)
for j in range(n_judges):
    (out / f"items_{j + 1}.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items[j::n_judges]))
(HERE / "items.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items))
print(len(items), "items for", n_judges, "judges")
