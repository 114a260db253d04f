"""What the guard would show on the judged validation rounds with a floor on the noisy-channel score.

For each call-out of on-policy rounds 2-5 the suggestion shown then (the best candidate by log-probability
among those that passed that round's guard, floor -0.8 included) is looked up among the judged candidates
with its channel score (score.py's output); a floor on `channel_gain` withholds it when the call-out is not
recoverable from it. Printed per floor: answered, and the shown ones judged good / acceptable / bad (majority
of the blind verdicts; ties count as bad). Rounds 2-3 choose, rounds 4-5 check.

    python model_cards/judging/2026-12-07-reverse-model/simulate.py SCORES.json
"""
import collections
import json
import sys
from pathlib import Path

import numpy as np

JUDGING = Path(__file__).resolve().parents[1]


def shown_rows(scored: list[dict]) -> list[dict]:
    by_text = {(r["round"], r["source"], r["candidate"]): r for r in scored}
    out = []
    for n in (2, 3, 4, 5):
        for src in map(json.loads, open(JUDGING / f"2026-12-06-onpolicy-round{n}" / "candidates.jsonl")):
            if not src.get("shown"):
                continue
            r = by_text.get((n, src["source"], src["shown"]))
            if r is not None:
                out.append(r)
    return out


def verdict(r: dict) -> str:
    c = collections.Counter(r["ratings"])
    good_or_ok = c["good"] + c["acceptable"]
    if good_or_ok <= c["bad"]:
        return "bad"
    return "good" if c["good"] >= c["acceptable"] else "acceptable"


def table(rows: list[dict], floors) -> None:
    for f in floors:
        kept = [r for r in rows if f is None or r["channel_gain"] >= f]
        c = collections.Counter(verdict(r) for r in kept)
        label = "none" if f is None else f"{f:.2f}"
        print(f"  floor {label:>6}: shown {len(kept):3d}  good {c['good']:3d}  acceptable {c['acceptable']:3d}  "
              f"bad {c['bad']:3d} ({c['bad'] / max(1, len(kept)):.0%})")


def main(scores: Path) -> None:
    from sklearn.metrics import roc_auc_score

    rows = shown_rows(json.loads(scores.read_text()))
    y = [verdict(r) != "bad" for r in rows]
    print(f"{len(rows)} shown suggestions judged; AUC for not bad among them: channel gain "
          f"{roc_auc_score(y, [r['channel_gain'] for r in rows]):.3f}, channel mean "
          f"{roc_auc_score(y, [r['channel_mean'] for r in rows]):.3f}, log-probability "
          f"{roc_auc_score(y, [r['logprob'] for r in rows]):.3f}")
    gains = np.array([r["channel_gain"] for r in rows if r["round"] in (2, 3)])
    floors = [None] + [float(np.quantile(gains, q)) for q in (0.1, 0.2, 0.3, 0.4, 0.5)]
    print("floors at the 10-50% quantiles of the shown suggestions' channel gain in rounds 2-3")
    for rounds in ((2, 3), (4, 5)):
        print(f"rounds {rounds}:")
        table([r for r in rows if r["round"] in rounds], floors)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
