"""Count a judge's verdicts by system: X better / Y better / tie, not-worse rate, ratings and problems of X."""
import collections
import json
import sys
from pathlib import Path

side = sys.argv[1]  # s13r1, d1r1 or d1s13 (here); op1r1, op1s13 (../2026-12-06-onpolicy-dpo)
HERE = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).parent
keys = {json.loads(line)["id"]: json.loads(line) for line in open(HERE / f"key_{side}.jsonl")}
V = [json.loads(line) for line in open(HERE / f"verdicts_{side}.jsonl")]
for sl in ("corpus_test", "threats", None):
    c = collections.Counter()
    rx = collections.Counter()
    ry = collections.Counter()
    px = collections.Counter()
    for v in V:
        k = keys[v["id"]]
        if sl and k["slice"] != sl:
            continue
        xs = "A" if k["A"] == "X" else "B"
        ys = "B" if xs == "A" else "A"
        c["X" if v["better"] == xs else "Y" if v["better"] == ys else "tie"] += 1
        rx[v[f"rating_{xs}"]] += 1
        ry[v[f"rating_{ys}"]] += 1
        for p in v[f"problems_{xs}"]:
            px[p] += 1
    n = sum(c.values())
    print(f"{sl or 'all'} n={n}: X better {c['X']}, Y better {c['Y']}, tie {c['tie']};"
          f" X not worse {100*(n-c['Y'])/max(n,1):.0f}%;"
          f" X ratings {dict(rx)}; Y ratings {dict(ry)}")
    if sl is None:
        print("X problems", px.most_common(6))
