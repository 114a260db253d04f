"""Blind A/B of op4n against the shipped release 1 with its floor on the 141 rows: verdicts of the rows where the
two differ (`items_op4nr1f`, one judge with `/work/r14/judge/PROMPT.md`'s rules); rows where both show the same
(both abstain) are ties.

    python model_cards/judging/2026-12-06-release1-floor/ab.py VERDICTS.jsonl [ROWS.json KEY.jsonl]

ROWS.json and KEY.jsonl default to this folder's gen141_op4n_r1floor.json and key_op4nr1f.jsonl (another v2
side against the same release 1: e.g. ../2026-12-07-six-candidates/gen141_op4n_k6.json and key_k6r1f.jsonl).
"""
import collections
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
rows_file, key_file = (sys.argv[2], sys.argv[3]) if len(sys.argv) > 3 else (HERE / "gen141_op4n_r1floor.json",
                                                                         HERE / "key_op4nr1f.jsonl")
rows = json.load(open(rows_file))
keys = {json.loads(line)["id"]: json.loads(line) for line in open(key_file)}
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
