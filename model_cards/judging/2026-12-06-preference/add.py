#!/usr/bin/env python3
"""Append verdict lines (id|better|rating_A|rating_B|problems_A|problems_B|reason) to verdicts_SIDE.jsonl."""
import json
import sys
from pathlib import Path

side = sys.argv[1]
HERE = Path(__file__).parent
ids = {json.loads(line)["id"] for line in open(HERE / f"items_{side}.jsonl")}
PROBLEMS = {"invented fact or name", "wrong harm or concern", "reversed concern",
            "keeps insult, threat or mockery", "drops the concern", "garbled or not fluent", "not a call-in",
            "addresses the wrong person",
            "stock phrase that does not fit", "copies the source"}
RATINGS = {"good", "acceptable", "bad", "abstain"}
out = HERE / f"verdicts_{side}.jsonl"
done = {json.loads(line)["id"] for line in open(out)} if out.exists() else set()
ok = 0
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    parts = line.split("|")
    if len(parts) != 7:
        sys.exit(f"need 7 fields separated by '|', got {len(parts)}: {line[:80]}")
    i, better, ra, rb, pa, pb, reason = (p.strip() for p in parts)
    if i not in ids:
        sys.exit(f"unknown id {i}")
    if i in done:
        sys.exit(f"{i} already judged")
    if better not in ("A", "B", "tie"):
        sys.exit(f"{i}: better must be A, B or tie")
    if ra not in RATINGS or rb not in RATINGS:
        sys.exit(f"{i}: ratings must be one of {sorted(RATINGS)}")
    pa_l = [p.strip() for p in pa.split(";") if p.strip()]
    pb_l = [p.strip() for p in pb.split(";") if p.strip()]
    bad = [p for p in pa_l + pb_l if p not in PROBLEMS]
    if bad:
        sys.exit(f"{i}: unknown problem(s) {bad}; allowed: {sorted(PROBLEMS)}")
    with open(out, "a") as fh:
        fh.write(json.dumps({"id": i, "better": better, "rating_A": ra, "rating_B": rb, "problems_A": pa_l,
                             "problems_B": pb_l, "reason": reason}, ensure_ascii=False) + "\n")
    done.add(i)
    ok += 1
print(f"added {ok}; {len(done)} of {len(ids)} judged")
