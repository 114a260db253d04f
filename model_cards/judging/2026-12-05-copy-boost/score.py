"""The figures of README.md from the two judges' verdicts and the rewrites in this folder (standard library)."""

import json
import re
from collections import Counter
from pathlib import Path

HERE = Path(__file__).parent
keys = {json.loads(line)["id"]: json.loads(line) for line in (HERE / "keys.jsonl").open()}
winners: dict[str, list[str]] = {}
for judge in ("1", "2"):
    better, ratings = Counter(), Counter()
    for line in (HERE / f"verdicts_{judge}.jsonl").open():
        v = json.loads(line)
        boosted = keys[v["id"]]["boosted"]
        plain = "B" if boosted == "A" else "A"
        won = {boosted: "boost", plain: "plain"}.get(v["better"], "tie")
        better[won] += 1
        winners.setdefault(v["id"], []).append(won)
        ratings[("boost", v[f"rating_{boosted}"])] += 1
        ratings[("plain", v[f"rating_{plain}"])] += 1
    n = sum(better.values())
    print(f"judge {judge}: boosted better {better['boost']}, plain better {better['plain']}, tie {better['tie']}; "
          f"rated bad: boosted {ratings[('boost', 'bad')]}/{n}, plain {ratings[('plain', 'bad')]}/{n}")
print(f"the judges agree on {sum(len(set(w)) == 1 for w in winners.values())} of {len(winners)} items")

rows = [json.loads(line) for line in (HERE / "rewrites.jsonl").open()]
quote = re.compile(r'"([^"]{3,})"')
for col in ("plain", "boost3", "boost3_quotes"):
    bad = sum(q.lower() not in r["source"].lower() for r in rows for q in quote.findall(r[col]))
    changed = sum(r[col] != r["plain"] for r in rows)
    print(f"{col:<14} changed {changed:>3} of {len(rows)}; double-quoted spans not in the source: {bad}")
