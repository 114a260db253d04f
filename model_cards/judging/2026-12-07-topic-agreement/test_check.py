"""Checked once on the corpus test split, after the floor was chosen on validation rounds 2-3 (the 10% quantile
of the shown suggestions' agreement there, 0.096: good + acceptable - bad highest, 19 against 16 without it;
on rounds 4-5 36 either way, bad 14 of 64 shown against 20 of 76): op4n's suggestions for the 100 corpus-test
call-outs of the issue's blind A/B (../2026-12-06-release1-floor/gen141_op4n_r1floor.json) and what the floor
would withhold, with the three judges' verdicts on them.

    python model_cards/judging/2026-12-07-topic-agreement/test_check.py EMBEDDER_DIR [FLOOR]
"""
import collections
import json
import sys
from pathlib import Path

from topic_agreement import agreement, fit_probe

FLOOR = Path(__file__).resolve().parents[1] / "2026-12-06-release1-floor"


def v2_ratings() -> dict[str, list[str]]:
    keys = {k["id"]: k for k in map(json.loads, open(FLOOR / "key_op4nr1f.jsonl"))}
    out = collections.defaultdict(list)
    for f in sorted(FLOOR.glob("verdicts_op4nr1f*.jsonl")):
        for v in map(json.loads, open(f)):
            side = "A" if keys[v["id"]]["A"] == "X" else "B"  # X: op4n
            out[v["id"]].append(v[f"rating_{side}"])
    return out


def main(embedder_dir: str, floor: float) -> None:
    rows = [r for r in json.load(open(FLOOR / "gen141_op4n_r1floor.json")) if r["slice"] == "corpus_test" and r["v2"]]
    emb, probe, _ = fit_probe(embedder_dir)
    ratings = v2_ratings()
    tally = collections.Counter()
    for r, a in zip(rows, agreement(emb, probe, [r["call_out"] for r in rows], [r["v2"] for r in rows])):
        votes = ratings.get(r["id"], [])
        bad = sum(v == "bad" for v in votes)
        verdict = "unjudged" if not votes else "bad" if 2 * bad > len(votes) else "not bad"
        kept = a >= floor
        tally[("kept" if kept else "withheld", verdict)] += 1
        if not kept:
            print(f"withheld ({verdict}: {votes}; agreement {a:.3f}): {r['call_out']!r}\n    -> {r['v2']!r}")
    print(f"{len(rows)} corpus-test suggestions of op4n; floor {floor}:", dict(sorted(tally.items())))


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0.096)
