"""The pre-registered comparison (`prereg.md`): per rule, the call-outs answered and the judges' ratings of what it
shows; then the decision and the rows where the rules differ.

    python model_cards/judging/2026-12-08-tail/analyse.py    # reads gen_tail_op4q8.jsonl, key.jsonl, judge/verdicts_*.jsonl
"""
import collections
import json
from pathlib import Path

HERE = Path(__file__).parent
rows = [json.loads(line) for line in open(HERE / "gen_tail_op4q8.jsonl")]
key = {(k["source"], k["candidate"]): k["id"] for k in map(json.loads, open(HERE / "key.jsonl"))}
verdicts = [{v["id"]: v for v in map(json.loads, open(f))} for f in sorted((HERE / "judge").glob("verdicts_[12].jsonl"))]
assert len(verdicts) == 2 and all(len(v) == len(key) for v in verdicts), "every item needs both judges' verdicts"
n = len(rows)
print(f"{n} fresh call-outs; refused before generating: {dict(collections.Counter(r['refused'] for r in rows if 'refused' in r))}")
same = sum(verdicts[0][i]["rating"] == verdicts[1][i]["rating"] for i in key.values())
print(f"{len(key)} items; the judges gave the same rating to {same}")
result = {}
for rule in ("M", "T"):
    shown = [(r, key[(r["source"], r["shown"][rule])]) for r in rows if r["shown"][rule] is not None]
    counts = [collections.Counter(v[i]["rating"] for _, i in shown) for v in verdicts]
    bad = sum(c["bad"] for c in counts) / 2
    result[rule] = (len(shown), bad)
    print(f"{rule}: {len(shown)} answered ({100 * len(shown) / n:.1f}%); good / acceptable / bad, judge 1: "
          f"{counts[0]['good']} / {counts[0]['acceptable']} / {counts[0]['bad']}, judge 2: {counts[1]['good']} / "
          f"{counts[1]['acceptable']} / {counts[1]['bad']}; bad (mean) {bad:g} = {100 * bad / n:.1f}% of the call-outs, "
          f"{100 * bad / max(1, len(shown)):.0f}% of the answers")
reasons = collections.Counter(v[i]["reason"] for v in verdicts for i in key.values() if v[i]["rating"] == "bad")
print("bad reasons (both judges, all items):", dict(reasons.most_common()))
adopt = result["T"][1] <= 0.05 * n and result["T"][0] > result["M"][0]
print(f"decision (prereg.md): (a) T's bad answers {result['T'][1]:g} <= 5% of {n} = {0.05 * n:g}: "
      f"{result['T'][1] <= 0.05 * n}; (b) T answers more than M ({result['T'][0]} vs {result['M'][0]}): "
      f"{result['T'][0] > result['M'][0]} -> {'adopt T' if adopt else 'keep M'}")


def rated(source: str, text: str | None) -> str:
    return "-" if text is None else "/".join(v[key[(source, text)]]["rating"] for v in verdicts)


print("\nrows where the rules differ:")
for r in rows:
    m, t = r["shown"]["M"], r["shown"]["T"]
    if m != t:
        print(f"  {r['id']} M: {rated(r['source'], m)}  T: {rated(r['source'], t)}")
