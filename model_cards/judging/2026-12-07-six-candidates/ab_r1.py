"""Blind A/B of op4n with six candidates against the shipped release 1 with its floor on the 141 rows: verdicts of the rows where the
two differ (`items_k6r1f`, one judge with `/work/r14/judge/PROMPT.md`'s rules); rows where both show the same
(both abstain) are ties.

    python model_cards/judging/2026-12-07-six-candidates/ab_r1.py VERDICTS.jsonl
"""
import collections
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
rows = json.load(open(HERE / "gen141_op4n_k6.json"))
keys = {json.loads(line)["id"]: json.loads(line) for line in open(HERE / "key_k6r1f.jsonl")}
verdicts = {json.loads(line)["id"]: json.loads(line) for line in open(sys.argv[1])}
t = collections.Counter()
for r in rows:
    s = r["slice"]
    t[s, "n"] += 1
    if r["id"] not in keys:
        t[s, "same"] += 1
        continue
    v, k = verdicts[r["id"]], keys[r["id"]]
    v2_side = "A" if k["A"] == "X" else "B"
    result = "tie" if v["better"] == "tie" else "v2 better" if v["better"] == v2_side else "release 1 better"
    t[s, result] += 1
    t[s, "v2 rating " + v["rating_" + v2_side]] += 1
for s in sorted({k[0] for k in t}):
    n = t[s, "n"]
    print(f"{s}: {n} rows, {t[s, 'same']} the same (both abstain), v2 better {t[s, 'v2 better']}, release 1 better "
          f"{t[s, 'release 1 better']}, tie {t[s, 'tie']}; v2 not worse in {100 * (n - t[s, 'release 1 better']) / n:.0f}%; "
          f"v2's judged ratings " + str({k[1][10:]: c for k, c in t.items() if k[0] == s and k[1].startswith("v2 rating")}))
