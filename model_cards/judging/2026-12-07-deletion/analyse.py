"""Blind verdicts on the rows the deletion candidate changes (rows with `source`, op4n's `shown` and `shown_new`
with the deletion candidate; unchanged rows are skipped): new answers (the model abstained) and replaced answers
(old vs new), per judge, from FOLDER's items.jsonl and verdicts_*.jsonl.

    cd model_cards/judging/2026-12-07-deletion
    python analyse.py val_run.jsonl judge > analyse.txt                                  # validation
    python analyse.py heldout/changed.jsonl heldout > heldout/analyse_heldout.txt        # held out
"""
import collections
import json
import sys
from pathlib import Path

rows = [json.loads(line) for line in open(sys.argv[1])]
folder = Path(sys.argv[2])
items = {(x["source"], x["candidate"]): x["id"] for x in map(json.loads, open(folder / "items.jsonl"))}
judges = sorted(folder.glob("verdicts_*.jsonl"))
for vf in judges:
    v = {x["id"]: x for x in map(json.loads, open(vf))}

    def rating(source: str, text: str, v: dict = v) -> str:
        return v[items[(source, text)]]["rating"]

    new_answers = collections.Counter()
    replaced = collections.Counter()
    better = collections.Counter()
    order = {"bad": 0, "acceptable": 1, "good": 2}
    for r in rows:
        if r["shown_new"] == r["shown"]:
            continue
        if r["shown"] is None:
            new_answers[rating(r["source"], r["shown_new"])] += 1
        else:
            a, b = rating(r["source"], r["shown"]), rating(r["source"], r["shown_new"])
            replaced["old " + a] += 1
            replaced["new " + b] += 1
            better["new better" if order[b] > order[a] else "old better" if order[a] > order[b] else "same"] += 1
    print(vf.name)
    print("  new answers (model abstained):", dict(new_answers))
    print("  replaced answers:", dict(sorted(replaced.items())), dict(better))
