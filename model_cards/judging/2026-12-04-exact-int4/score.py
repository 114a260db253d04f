"""Tallies of the blind judging: `python model_cards/judging/2026-12-04-exact-int4/score.py` (repo root)."""

import collections
import json
from pathlib import Path

HERE = Path(__file__).parent


def load(name: str) -> list[dict]:
    return [json.loads(line) for line in (HERE / name).read_text().splitlines() if line.strip()]


for other in ("r1", "ref"):
    key = {k["id"]: k for k in load(f"key_{other}.jsonl")}
    verdicts = load(f"verdicts_{other}.jsonl")
    by: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    ratings: collections.Counter = collections.Counter()
    problems: collections.Counter = collections.Counter()
    for v in verdicts:
        k = key[v["id"]]
        winner = "tie" if v["better"] == "tie" else ("v2" if k[v["better"]] == "v2" else "other")
        by[k["slice"]][winner] += 1
        by["all"][winner] += 1
        side = "A" if k["A"] == "v2" else "B"
        ratings[v.get(f"rating_{side}", "?")] += 1
        problems.update(v.get(f"problems_{side}") or [])
    print(f"== v2 against {other}: {len(verdicts)} judged")
    for slice_, c in by.items():
        n = sum(c.values())
        print(f"  {slice_:<12} v2 better {c['v2']}, {other} better {c['other']}, tie {c['tie']}; "
              f"v2 not worse {(c['v2'] + c['tie']) / n:.0%} (n={n})")
    print("  v2 ratings:", dict(ratings))
    print("  v2 problems:", problems.most_common(10))
