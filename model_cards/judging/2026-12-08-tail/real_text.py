"""After the choice, on real text: two new blind judges rated every answer rule M (`eval_op4f.json` of
`../2026-12-08-floor/`) or rule T (`eval_op4g.json`) shows on the eval's 100 held-out ParaDetox comments and 100
real news comments (49 distinct answers; `key_real.jsonl`, `judge/verdicts_real_{1,2}.jsonl`). Reported, not used
to choose.

    python model_cards/judging/2026-12-08-tail/real_text.py
"""
import collections
import json
from pathlib import Path

HERE = Path(__file__).parent
keys = [json.loads(line) for line in open(HERE / "key_real.jsonl")]
verdicts = [{v["id"]: v for v in map(json.loads, open(HERE / "judge" / f"verdicts_real_{n}.jsonl"))} for n in (1, 2)]
assert all(len(v) == len(keys) for v in verdicts), "every item needs both judges' verdicts"
print(f"{len(keys)} items; the judges gave the same rating to "
      f"{sum(verdicts[0][k['id']]['rating'] == verdicts[1][k['id']]['rating'] for k in keys)}")
for slice_ in ("paradetox_heldout", "real_comments"):
    for rule in ("M", "T"):
        shown = [k for k in keys if k["slice"] == slice_ and rule in k["rules"]]
        counts = [collections.Counter(v[k["id"]]["rating"] for k in shown) for v in verdicts]
        print(f"{slice_}, {rule}: {len(shown)} answers of 100; good / acceptable / bad, judge 1: "
              + " / ".join(str(counts[0][r]) for r in ("good", "acceptable", "bad")) + ", judge 2: "
              + " / ".join(str(counts[1][r]) for r in ("good", "acceptable", "bad")))
    only = [k for k in keys if k["slice"] == slice_ and k["rules"] == ["T"]]
    print(f"  shown by T only: {len(only)}: " + ", ".join("/".join(v[k['id']]['rating'] for v in verdicts) for k in only))
reasons = collections.Counter(v[k["id"]]["reason"] for v in verdicts for k in keys if v[k["id"]]["rating"] == "bad")
print("bad reasons (both judges):", dict(reasons.most_common()))
