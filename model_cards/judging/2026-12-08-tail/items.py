"""Items for blind judging: every distinct (source, answer) that rule M or rule T shows (`gen_tail.py`'s output).

    python model_cards/judging/2026-12-08-tail/items.py GEN.jsonl JUDGE_FOLDER     # from the repository root

Writes JUDGE_FOLDER/items_{1,2}.jsonl (the same items in two seeded orders; given to the judges, then deleted) and
key.jsonl here (which rules showed each item).
"""
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).parent
rows = [json.loads(line) for line in open(sys.argv[1])]
items: dict[tuple[str, str], dict] = {}
for r in rows:
    for rule, text in r["shown"].items():
        if text is not None:
            items.setdefault((r["source"], text), {"row": r["id"], "source": r["source"], "candidate": text,
                                                   "rules": []})["rules"].append(rule)
items = list(items.values())
print(len(rows), "rows;", len(items), "items;", sum(i["rules"] == ["M", "T"] for i in items), "shown by both;",
      sum(i["rules"] == ["M"] for i in items), "by M only;", sum(i["rules"] == ["T"] for i in items), "by T only")
folder = Path(sys.argv[2])
for n, seed in ((1, 291), (2, 292)):
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    with open(folder / f"items_{n}.jsonl", "w") as fh:
        for j in order:
            fh.write(json.dumps({"id": f"t{j:03d}", "source": items[j]["source"], "context": None,
                                 "candidate": items[j]["candidate"]}, ensure_ascii=False) + "\n")
with open(HERE / "key.jsonl", "w") as fh:
    for j, it in enumerate(items):
        fh.write(json.dumps({"id": f"t{j:03d}", **it}, ensure_ascii=False) + "\n")
