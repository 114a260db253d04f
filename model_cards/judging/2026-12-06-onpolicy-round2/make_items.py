"""Blind items from candidates.jsonl: every distinct candidate once, in seeded random order, a quarter per
judge (items.jsonl with `judge`; keys.jsonl says which call-out and whether greedy). Also writes the judges'
copies items_1..4.jsonl and add.py into the folder given (default /work/r14/onpolicy).

    python model_cards/judging/2026-12-06-onpolicy-round2/make_items.py [JUDGE_FOLDER [FOLDER SEED]]

FOLDER (default: this one) holds candidates.jsonl and gets items.jsonl and keys.jsonl; round 2 used seed 14.
"""
import json
import random
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).parent
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/work/r14/onpolicy")
folder = Path(sys.argv[2]) if len(sys.argv) > 2 else HERE
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 14
rows = [json.loads(line) for line in open(folder / "candidates.jsonl")]
found = []
for si, r in enumerate(rows):
    seen = set()
    for c in r["candidates"]:
        text = c["text"].strip()
        if text and text not in seen:
            seen.add(text)
            found.append((si, c["greedy"], text))
random.Random(seed).shuffle(found)
items, keys = [], []
for n, (si, greedy, text) in enumerate(found):
    i = f"q{n:03d}"
    items.append({"id": i, "source": rows[si]["source"], "context": rows[si]["context"], "candidate": text,
                  "judge": n % 4 + 1})
    keys.append({"id": i, "source_index": si, "greedy": greedy})


def dump(path, records):
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in records), encoding="utf-8")


dump(folder / "items.jsonl", items)
dump(folder / "keys.jsonl", keys)
out.mkdir(parents=True, exist_ok=True)
for j in (1, 2, 3, 4):
    dump(out / f"items_{j}.jsonl", [{k: v for k, v in it.items() if k != "judge"} for it in items if it["judge"] == j])
shutil.copy(HERE.parent / "2026-12-06-onpolicy" / "add.py", out / "add.py")
print(len(items), "items for", len(rows), "call-outs")
