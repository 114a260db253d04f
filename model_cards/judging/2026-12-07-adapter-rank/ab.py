"""Blind A/B of op4n with the adapter cut to rank 48 (op4s) against the exact rank-160 one (op4n), on the eval rows where they differ (`make_ab.py`):
per slice and judge, which one the judge preferred and the judged ratings of each side.

    python model_cards/judging/2026-12-07-adapter-rank/ab.py VERDICTS.jsonl [VERDICTS.jsonl ...]
"""
import collections
import json
import sys
from pathlib import Path

keys = {k["id"]: k for k in map(json.loads, open(Path(__file__).parent / "key_r48.jsonl"))}
for f in sys.argv[1:]:
    verdicts = {v["id"]: v for v in map(json.loads, open(f))}
    assert set(verdicts) == set(keys), f"{f}: {len(verdicts)} verdicts for {len(keys)} items"
    t = collections.Counter()
    for i, k in keys.items():
        v, s = verdicts[i], k["slice"]
        t[s, "n"] += 1
        winner = "tie" if v["better"] == "tie" else k[v["better"]]
        t[s, winner] += 1
        for side in ("A", "B"):
            t[s, k[side], v["rating_" + side]] += 1
    print(Path(f).name)
    for s in ("corpus_test", "paradetox_heldout", "real_comments"):
        ratings = {sys_: {r: t[s, sys_, r] for r in ("good", "acceptable", "bad", "abstain")} for sys_ in ("r48", "r160")}
        print(f"  {s}: {t[s, 'n']} changed rows, rank 48 better {t[s, 'r48']}, rank 160 better {t[s, 'r160']}, tie "
              f"{t[s, 'tie']}; ratings rank 48 {ratings['r48']}, rank 160 {ratings['r160']}")
