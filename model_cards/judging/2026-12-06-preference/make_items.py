"""(Kept for the record: it wrote to the judges' folder /work/r13/judge and to runs/dpo on the machine it ran on.)

items_SIDE.jsonl / key_SIDE.jsonl: system X against system Y on the 141 rows, A/B in seeded random order."""
import json
import random
import sys
from pathlib import Path

ABSTAINED = "(no suggestion: the tool abstained and showed nothing)"
side, xfile, yname, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
out = Path("/work/r13/judge")
X = {r["id"]: r for r in json.load(open(xfile))}
if yname == "r1":
    Y = {i: r["r1"] for i, r in X.items()}
else:
    Y = {r["id"]: r["v2"] or ABSTAINED for r in json.load(open(yname))}
rng = random.Random(seed)
items, keys = [], []
ids = sorted(X)
rng.shuffle(ids)
for i in ids:
    r = X[i]
    x = r["v2"] or ABSTAINED
    y = Y[i]
    if len(sys.argv) > 5 and sys.argv[5] == "changed" and x == y:
        continue
    flip = rng.random() < 0.5
    a, b = (x, y) if flip else (y, x)
    items.append({"id": i, "context": r["context"], "call_out": r["call_out"], "A": a, "B": b})
    keys.append({"id": i, "slice": r["slice"], "A": "X" if flip else "Y", "B": "Y" if flip else "X",
                 "X": xfile, "Y": yname})
(out / f"items_{side}.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items))
(Path("runs/dpo") / f"key_{side}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in keys))
print(side, len(items), "items")
