#!/usr/bin/env python3
"""Append verdict lines (id|rating|reason|note) to verdicts_N.jsonl, checking every field.

    python3 add.py N [FOLDER] < lines      # items_N.jsonl and verdicts_N.jsonl in FOLDER (default: this folder)
"""
import json
import sys
from pathlib import Path

HERE = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).parent
n = sys.argv[1]
ids = [json.loads(line)["id"] for line in open(HERE / f"items_{n}.jsonl")]
REASONS = {"garbled", "wrong_harm", "invented", "reversed", "dropped_concern", "kept_attack", "wrong_addressee",
           "not_call_in"}
out = HERE / f"verdicts_{n}.jsonl"
done = {json.loads(line)["id"] for line in open(out)} if out.exists() else set()
added = 0
for raw in sys.stdin:
    raw = raw.strip()
    if not raw:
        continue
    parts = [p.strip() for p in raw.split("|")]
    if len(parts) != 4:
        sys.exit(f"need 4 fields id|rating|reason|note, got {len(parts)}: {raw[:80]} ({added} added before it)")
    i, rating, reason, note = parts
    if i not in ids:
        sys.exit(f"unknown id {i} ({added} added before it)")
    if i in done:
        sys.exit(f"{i} already judged ({added} added before it)")
    if rating not in ("good", "acceptable", "bad"):
        sys.exit(f"{i}: rating must be good, acceptable or bad ({added} added before it)")
    if rating == "bad" and reason not in REASONS:
        sys.exit(f"{i}: a bad rating needs one reason of {sorted(REASONS)} ({added} added before it)")
    if rating != "bad":
        reason = None
    with open(out, "a") as fh:
        fh.write(json.dumps({"id": i, "rating": rating, "reason": reason, "note": note}, ensure_ascii=False) + "\n")
    done.add(i)
    added += 1
print(f"added {added}; {len(done)} of {len(ids)} judged")
