"""Blind A/B items: system X's suggestions against system Y's on the 141 rows, A/B in seeded random order.

    python model_cards/judging/2026-12-06-onpolicy-dpo/make_items.py SIDE X.json (r1 | Y.json) SEED [changed]

items_SIDE.jsonl goes to the judges' folder (/work/r14/judge), key_SIDE.jsonl beside X.json. `r1` takes release 1's
suggestion stored in X.json; `changed` keeps only the rows whose suggestions differ.
"""
import json
import random
import sys
from pathlib import Path

ABSTAINED = "(no suggestion: the tool abstained and showed nothing)"
side, xfile, yname, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
changed_only = len(sys.argv) > 5 and sys.argv[5] == "changed"
out = Path("/work/r14/judge")
X = {r["id"]: r for r in json.load(open(xfile))}
Y = ({i: r["r1"] for i, r in X.items()} if yname == "r1"
     else {r["id"]: r["v2"] or ABSTAINED for r in json.load(open(yname))})
rng = random.Random(seed)
ids = sorted(X)
rng.shuffle(ids)
items, keys = [], []
for i in ids:
    x, y = X[i]["v2"] or ABSTAINED, Y[i]
    if changed_only and x == y:
        continue
    flip = rng.random() < 0.5
    items.append({"id": i, "context": X[i]["context"], "call_out": X[i]["call_out"], "A": x if flip else y,
                  "B": y if flip else x})
    keys.append({"id": i, "slice": X[i]["slice"], "A": "X" if flip else "Y", "B": "Y" if flip else "X",
                 "X": Path(xfile).name, "Y": Path(yname).name})
(out / f"items_{side}.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items))
(Path(xfile).parent / f"key_{side}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in keys))
print(side, len(items), "items")
