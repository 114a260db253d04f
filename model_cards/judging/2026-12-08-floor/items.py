"""Items for blind judging: per row of `gen_val.py`'s output, the answer the bundle shows (checked: the top-ranked
candidate by log-probability whose only problem, if any, is the floor). A higher floor can only withhold these.

    python model_cards/judging/2026-12-08-floor/items.py GEN.jsonl [PREFIX SEED1 SEED2]   # GEN unredacted

PREFIX (default v) starts the item ids; SEED1 / SEED2 (281, 282) order the two item files.

Writes judge/items_{1,2}.jsonl (the same items, two seeded orders; given to the judges, then deleted) and key.jsonl.
"""
import collections
import json
import random
import sys

rows = [json.loads(line) for line in open(sys.argv[1])]
UNLIKELY = "reads as unlikely to the model itself"
items, mismatches = [], 0
for r in rows:
    ok = [c for c in r["candidates"] if all(UNLIKELY in p for p in c["problems"]) and "logprob" in c]
    if not ok:
        assert r["shown"] is None
        continue
    top = max(ok, key=lambda c: c["logprob"])
    if r["shown"] is not None and r["shown"] != top["text"]:
        mismatches += 1
        print("MISMATCH", r["shown"], "|", top["text"], file=sys.stderr)
    if r["shown"] is None:  # below the bundle's floor (-0.8): the grid only raises it
        continue
    items.append({"sample": r["sample"], "source": r["source"], "context": r.get("context"), "candidate": top["text"],
                  "logprob": top["logprob"], "shown_now": r["shown"] is not None})
print(len(items), "items;", mismatches, "mismatches;", dict(collections.Counter(i["sample"] for i in items)))
prefix = sys.argv[2] if len(sys.argv) > 2 else "v"
seeds = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) > 4 else (281, 282)
for n, seed in zip((1, 2), seeds):
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    with open(f"judge/items_{n}.jsonl", "w") as fh:
        for j in order:
            fh.write(json.dumps({"id": f"{prefix}{j:03d}", "source": items[j]["source"], "context": items[j]["context"],
                                 "candidate": items[j]["candidate"]}, ensure_ascii=False) + "\n")
with open("key.jsonl", "w") as fh:
    for j, it in enumerate(items):
        fh.write(json.dumps({"id": f"{prefix}{j:03d}", **it}, ensure_ascii=False) + "\n")
