"""The cross-validated quality score against the model's own log-probability: AUC for "not bad", and what each
would show (per call-out, the best candidate passing the guard's other checks and the floor).

    python analyse.py cv_preds_e3.json > analyse.txt
"""
import collections
import json
import sys

from data import load
from sklearn.metrics import roc_auc_score

preds = {(p["round"], p["id"]): p["qe"] for p in json.load(open(sys.argv[1]))}
rows = [dict(r, qe=preds[(r["round"], r["id"])]) for r in load()]
for r in rows:  # the guard's checks other than the log-probability floor, which the policies below replace
    if r["problems"] is not None:
        r["problems"] = [p for p in r["problems"] if not p.startswith("reads as unlikely")]
print("AUC quality score, all items:", round(roc_auc_score([r["y"] >= 0.5 for r in rows], [r["qe"] for r in rows]), 3))
scored = [r for r in rows if r["logprob"] is not None]
y = [r["y"] >= 0.5 for r in scored]
print(f"{len(scored)} items with a log-probability: AUC log-probability "
      f"{roc_auc_score(y, [r['logprob'] for r in scored]):.3f}, quality score {roc_auc_score(y, [r['qe'] for r in scored]):.3f}, "
      f"quality + 2 x log-probability {roc_auc_score(y, [r['qe'] + 2 * r['logprob'] for r in scored]):.3f}")
by_source = collections.defaultdict(list)
for r in rows:
    by_source[(r["round"], r["source"])].append(r)


def policy(key, floor, extra=lambda r: True):
    shown = []
    for cands in by_source.values():
        ok = [c for c in cands if c["problems"] == [] and c["logprob"] is not None and key(c) >= floor and extra(c)]
        if ok:
            shown.append(max(ok, key=key))
    votes = collections.Counter()
    for s in shown:
        for rating in s["ratings"]:
            votes[rating] += 1 / len(s["ratings"])
    return (f"answered {len(shown) / len(by_source):.0%}, bad {votes['bad'] / max(1, sum(votes.values())):.0%} "
            f"(good {votes['good']:.0f} / acceptable {votes['acceptable']:.0f} / bad {votes['bad']:.0f})")


print(len(by_source), "call-outs")
for floor in (-0.6, -0.7, -0.8, -0.9, -1.0):
    print(f"log-probability >= {floor}: {policy(lambda r: r['logprob'], floor)}")
for t in (-1.0, -0.5, 0.0, 0.5):
    print(f"quality score >= {t}: {policy(lambda r: r['qe'], t)}; with log-probability >= -0.8: "
          f"{policy(lambda r: r['qe'], t, lambda r: r['logprob'] >= -0.8)}")
