"""Which floor on release 1's own score of a candidate (`model_score`: the beam's length-normalised log-probability)
or on its concern similarity withholds its bad answers and keeps its good ones? Blind verdicts of every answer
release 1 shows for `gen_r1.py`'s validation items.

    python model_cards/judging/2026-12-06-release1-floor/analyse.py GEN.jsonl JUDGE_DIR
"""
import collections
import json
import sys
from pathlib import Path

rows = [json.loads(line) for line in open(sys.argv[1])]
judge = Path(sys.argv[2])
key = {json.loads(line)["id"]: json.loads(line) for line in open(judge / "key.jsonl")}
verdict = {}
for f in sorted(judge.glob("verdicts_*.jsonl")):
    for line in open(f):
        v = json.loads(line)
        verdict[key[v["id"]]["source"], key[v["id"]]["candidate"]] = v
shown = [(r, verdict[r["source"], r["shown"]]) for r in rows if r["shown"]]
print(f"{len(rows)} validation items; release 1 shows {len(shown)}")


def tally(keep):
    """What release 1 would show with the floor: the best-ranked candidate that passes the guard and the floor
    (candidates are stored ranked, passing ones first); "unjudged" where that is a candidate no judge saw."""
    t = collections.Counter()
    for r in rows:
        passing = [c for c in r["candidates"] if not c["problem_codes"] and keep(c)]
        if not passing:
            continue
        v = verdict.get((r["source"], passing[0]["text"]))
        rating = v["rating"] if v else "unjudged"
        t[r["sample"], rating] += 1
        t["all", rating] += 1
    return t


def line(name, t):
    parts = []
    for s in ("all", "corpus_validation", "paradetox_validation", "civil_comments"):
        g, a, b, u = (t[s, k] for k in ("good", "acceptable", "bad", "unjudged"))
        parts.append(f"{s} {g + a + b + u}: {g}/{a}/{b}" + (f" +{u} unjudged" if u else ""))
    print(f"{name:<32} " + " | ".join(parts))


line("as shipped", tally(lambda c: True))
for floor in (-0.4, -0.5, -0.6, -0.7, -0.8, -0.9, -1.0):
    line(f"model_score >= {floor}", tally(lambda c, f=floor: c["model_score"] >= f))
for floor in (0.5, 0.6, 0.7, 0.8):
    line(f"similarity >= {floor}", tally(lambda c, f=floor: c["similarity"] >= f))
reasons = collections.Counter(v["reason"] for _, v in shown if v["rating"] == "bad")
print("bad reasons:", reasons.most_common())
