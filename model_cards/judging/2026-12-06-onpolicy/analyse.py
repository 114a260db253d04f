"""On-policy judged candidates: bad rates by greedy / guard / shown, log-probability AUC, and pair counts.

    python model_cards/judging/2026-12-06-onpolicy/analyse.py [FOLDER [FLOOR ...]]

FLOORs: the log-probability floors of the last line's sweep (default -0.6 to -1.0).
"""
import collections
import json
import sys
from pathlib import Path

HERE = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
rows = [json.loads(line) for line in open(HERE / "candidates.jsonl")]
items = {}
for line in open(HERE / "items.jsonl"):
    it = json.loads(line)
    items[it["id"]] = it
verdicts = {}
for k in (1, 2, 3, 4):
    for line in open(HERE / f"verdicts_{k}.jsonl"):
        v = json.loads(line)
        verdicts[v["id"]] = v
by_text = {(it["source"], it["candidate"]): verdicts[i] for i, it in items.items()}
stats = collections.Counter()
reasons = collections.Counter()
lp_pos, lp_neg = [], []
shown = collections.Counter()
for r in rows:
    for c in r["candidates"]:
        v = by_text.get((r["source"], c["text"].strip()))
        if v is None:
            continue
        bad = v["rating"] == "bad"
        stats["all", bad] += 1
        stats["greedy" if c["greedy"] else "sampled", bad] += 1
        if c["problems"] is not None:
            stats["guard pass" if not c["problems"] else "guard fail", bad] += 1
        if c["logprob"] is not None:
            (lp_neg if bad else lp_pos).append(c["logprob"])
        if bad:
            reasons[v["reason"]] += 1
    if r["refusal"]:
        shown["refused before generating"] += 1
    elif r["shown"] is None:
        shown["abstained (no candidate passed)"] += 1
    else:
        shown["shown, " + by_text[(r["source"], r["shown"].strip())]["rating"]] += 1


def rate(group):
    n_bad, n_ok = stats[group, True], stats[group, False]
    return f"{group}: {n_bad + n_ok} candidates, {100 * n_bad / max(1, n_bad + n_ok):.0f}% bad"


for g in ("all", "greedy", "sampled", "guard pass", "guard fail"):
    print(rate(g))
auc = sum((p > q) + 0.5 * (p == q) for p in lp_pos for q in lp_neg) / max(1, len(lp_pos) * len(lp_neg))
print(f"mean log-probability, AUC for not bad: {auc:.3f} ({len(lp_pos)} not bad, {len(lp_neg)} bad)")
print("what a person would see, per call-out:", dict(shown))
print("bad reasons:", reasons.most_common())

# The guard's log-probability floor: per call-out (threats left out), the best-ranked candidate with no other
# problem that reaches the floor, and whether the judges called it bad.
sweep = []
for floor in [float(f) for f in sys.argv[2:]] or (-0.6, -0.7, -0.8, -0.9, -1.0):
    n_shown = n_bad = 0
    for r in rows:
        ok = [c for c in r["candidates"] if not r["refusal"] and c["problems"] is not None and c["logprob"] is not None
              and c["logprob"] >= floor and all(p.startswith("reads as unlikely") for p in c["problems"])]
        if ok:
            best = max(ok, key=lambda c: c["logprob"])
            n_shown += 1
            n_bad += by_text[(r["source"], best["text"].strip())]["rating"] == "bad"
    sweep.append(f"{floor}: {n_shown} shown, {100 * n_bad / max(1, n_shown):.0f}% bad")
print("log-probability floors:", "; ".join(sweep))
