"""Blind A/B of op4n with six candidates against four, on the eval rows where they differ (`make_k6k4.py`):
per slice and judge, which one the judge preferred and the judged ratings of each side.

    python model_cards/judging/2026-12-07-six-candidates/ab_k6k4.py VERDICTS.jsonl [VERDICTS.jsonl ...]
"""
import collections
import json
import sys
from pathlib import Path

keys = {k["id"]: k for k in map(json.loads, open(Path(__file__).parent / "key_k6k4.jsonl"))}
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
        ratings = {sys_: {r: t[s, sys_, r] for r in ("good", "acceptable", "bad", "abstain")} for sys_ in ("k6", "k4")}
        print(f"  {s}: {t[s, 'n']} changed rows, six better {t[s, 'k6']}, four better {t[s, 'k4']}, tie {t[s, 'tie']}; "
              f"ratings six {ratings['k6']}, four {ratings['k4']}")
