"""The figures of README.md from the judged candidates in this folder (numpy only)."""

import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def auc(good: np.ndarray, x: np.ndarray) -> float:
    """Probability that a random good item scores above a random bad one (ties count half)."""
    pos, neg = x[good], x[~good]
    return float(((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg)))


keys = {json.loads(line)["id"]: json.loads(line) for line in (HERE / "keys.jsonl").open()}
votes: dict[str, list[str]] = defaultdict(list)
reasons: Counter[str] = Counter()
for n in (1, 2, 3):
    for line in (HERE / f"verdicts_{n}.jsonl").open():
        v = json.loads(line)
        votes[v["id"]].append(v["rating"])
        reasons[v["reason"]] += v["rating"] == "bad"
shared = [i for i, v in votes.items() if len(v) == 3]
print(f"{len(votes)} items; the three judges agree on bad / not bad for "
      f"{sum(len({r == 'bad' for r in votes[i]}) == 1 for i in shared)} of {len(shared)} shared ones")
rows = [dict(keys[i], bad=sum(r == "bad" for r in v) > len(v) / 2) for i, v in votes.items()]
bad = np.array([r["bad"] for r in rows])
print(f"bad: {bad.mean():.0%} (greedy {np.mean([r['bad'] for r in rows if r['greedy']]):.0%}, sampled "
      f"{np.mean([r['bad'] for r in rows if not r['greedy']]):.0%}); reasons {dict(+reasons)}")
for f in ("lp_mean", "lp_min3", "score", "call_in", "similarity"):
    print(f"AUC for not bad, {f}: {auc(~bad, np.array([r[f] for r in rows], dtype=float)):.3f}")
by_source = defaultdict(list)
for r in rows:
    by_source[r["id_src"]].append(r)
for key in ("score", "lp_mean"):
    for floor in (None, -1.0, -0.9, -0.8, -0.7):
        shown = [max(ok, key=lambda r: r[key]) for rs in by_source.values()
                 if (ok := [r for r in rs if floor is None or r["lp_mean"] >= floor])]
        n_bad = sum(r["bad"] for r in shown)
        print(f"rank by {key:<8} floor {floor!s:>5}: {len(shown)}/130 answered ({len(shown) / 130:.0%}), "
              f"{n_bad} bad ({n_bad / max(1, len(shown)):.0%})")
