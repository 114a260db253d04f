"""Blind verdicts on the held-out rows the deletion candidate changes (changed.jsonl: `slice`, `source`, op4n's
`shown`, `shown_new` with the deletion candidate), per judge: new answers and replaced answers.

    python model_cards/judging/2026-12-07-deletion/heldout/analyse_heldout.py > analyse_heldout.txt
"""
import collections
import json
from pathlib import Path

HERE = Path(__file__).parent
rows = [json.loads(line) for line in open(HERE / "changed.jsonl")]
items = {(x["source"], x["candidate"]): x["id"] for x in map(json.loads, open(HERE / "items.jsonl"))}
order = {"bad": 0, "acceptable": 1, "good": 2}
for vf in sorted(HERE.glob("verdicts_*.jsonl")):
    v = {x["id"]: x["rating"] for x in map(json.loads, open(vf))}
    new, old_r, new_r, cmp = (collections.Counter() for _ in range(4))
    for r in rows:
        b = v[items[(r["source"], r["shown_new"])]]
        if r["shown"] is None:
            new[b] += 1
            continue
        a = v[items[(r["source"], r["shown"])]]
        old_r[a] += 1
        new_r[b] += 1
        cmp["deletion better" if order[b] > order[a] else "op4n better" if order[a] > order[b] else "same"] += 1
    print(vf.name)
    print("  new answers (op4n abstained):", dict(new))
    print("  replaced: op4n's", dict(old_r), "| the deletion's", dict(new_r), "|", dict(cmp))
