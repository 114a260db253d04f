"""What the bundle would show at each log-probability floor on the validation items, with the two blind judges'
verdicts: shown / good / acceptable / bad per judge and sample; the bad answers as a share of the sample's rows.

    python model_cards/judging/2026-12-08-floor/analyse.py KEY.jsonl GEN.jsonl JUDGE_DIR   (in this folder: key.jsonl
    gen_val_op4q8.jsonl judge; the confirmation set: key_fresh.jsonl gen_fresh_op4q8.jsonl judge_fresh)
"""
import collections
import json
import sys
from pathlib import Path

key = {k["id"]: k for k in map(json.loads, open(sys.argv[1]))}
n_rows = collections.Counter(json.loads(line)["sample"] for line in open(sys.argv[2]))
judge = Path(sys.argv[3])
verdicts = {}
for f in sorted(judge.glob("verdicts_*.jsonl")):
    n = f.stem.split("_")[1]
    verdicts[n] = {v["id"]: v for v in map(json.loads, open(f))}
judges = sorted(verdicts)
SAMPLES = [s for s in ("corpus_validation", "corpus_validation_fresh", "paradetox_validation", "civil_comments")
           if n_rows[s]]


def tally(keep):
    t = collections.Counter()
    for i, k in key.items():
        if not keep(k):
            continue
        t[k["sample"], "shown"] += 1
        for j in judges:
            v = verdicts[j].get(i)
            t[k["sample"], j, v["rating"] if v else "unjudged"] += 1
    return t


def line(name, t):
    parts = []
    for s in SAMPLES:
        per = " ".join(f"{t[s, j, 'good']}/{t[s, j, 'acceptable']}/{t[s, j, 'bad']}" for j in judges)
        bad = sum(t[s, j, "bad"] for j in judges) / max(len(judges), 1)
        parts.append(f"{s} {t[s, 'shown']} ({100 * t[s, 'shown'] / n_rows[s]:.0f}%): {per}; bad {100 * bad / n_rows[s]:.1f}% of rows")
    print(f"{name:<26} " + " | ".join(parts))


print("rows:", dict(n_rows), "judges:", judges, "(good/acceptable/bad per judge)")
for floor in [-0.8 + 0.05 * i for i in range(11)]:
    line(f"min_logprob {floor:.2f}", tally(lambda k, f=floor: k["logprob"] >= f - 1e-9))
agree = sum(verdicts[judges[0]][i]["rating"] == verdicts[judges[-1]][i]["rating"] for i in key
            if all(i in verdicts[j] for j in judges))
print("judges agree on", agree, "of", len(key))
for j in judges:
    print("judge", j, "bad reasons:", collections.Counter(v["reason"] for v in verdicts[j].values() if v["rating"] == "bad").most_common())
