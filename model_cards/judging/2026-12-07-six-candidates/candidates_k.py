"""What the guard would show with the first k candidates (greedy first, then the sampled ones, as generated), on the
judged validation candidates of on-policy rounds 2-5 (op1-op4; six candidates per call-out were generated and
every one was judged blind): answered share and judged ratings of what is shown (ranked by log-probability, the
-0.8 floor and the guard's other checks as stored).

    python model_cards/judging/2026-12-07-six-candidates/candidates_k.py > candidates_k.txt
"""
import collections
import json
from pathlib import Path

JUDGING = Path(__file__).resolve().parents[1]
FLOOR = -0.8


def passes(c: dict) -> bool:
    other = [p for p in (c["problems"] or []) if not p.startswith("reads as unlikely")]
    return c["problems"] is not None and c["logprob"] is not None and c["logprob"] >= FLOOR and not other


for rounds in ((2, 3, 4, 5), (2,), (3,), (4,), (5,)):
    print(f"round(s) {', '.join(map(str, rounds))}:")
    for k in range(1, 7):
        shown, total, votes = 0, 0, collections.Counter()
        for n in rounds:
            d = JUDGING / f"2026-12-06-onpolicy-round{n}"
            items = {(it["source"], it["candidate"]): it["id"] for it in map(json.loads, open(d / "items.jsonl"))}
            ratings = collections.defaultdict(list)
            for f in d.glob("verdicts_*.jsonl"):
                for v in map(json.loads, open(f)):
                    ratings[v["id"]].append(v["rating"])
            for s in map(json.loads, open(d / "candidates.jsonl")):
                total += 1
                ok = [c for c in s["candidates"][:k] if passes(c)]
                if ok:
                    shown += 1
                    r = ratings[items[(s["source"], max(ok, key=lambda c: c["logprob"])["text"])]]
                    for rating in r:
                        votes[rating] += 1 / len(r)
        bad = votes["bad"] / max(1, sum(votes.values()))
        print(f"  k={k}: answered {shown}/{total} ({shown / total:.0%}), good {votes['good']:.0f} / acceptable "
              f"{votes['acceptable']:.0f} / bad {votes['bad']:.0f} ({bad:.0%} of what is shown)")
