#!/usr/bin/env python3
"""Append verdict lines (id|harm|rating|reason|note) to verdicts_N.jsonl, checking every field.

    python3 add.py N FOLDER < lines      # items_N.jsonl and verdicts_N.jsonl in FOLDER (judge, judge2, judge3)

(The first four judges ran it as judge/add.py N and judge2/add.py N, two copies of this file; see PROMPT.md.)
"""
import json
import sys
from pathlib import Path

n = sys.argv[1]
HERE = Path(__file__).parent / sys.argv[2]
ids = [json.loads(line)["id"] for line in open(HERE / f"items_{n}.jsonl")]
REASONS = {"garbled", "invented", "reversed", "dropped_content", "kept_attack", "hateful", "wrong_addressee",
           "lecture"}
out = HERE / f"verdicts_{n}.jsonl"
done = {json.loads(line)["id"] for line in open(out)} if out.exists() else set()
added = 0
for raw in sys.stdin:
    raw = raw.strip()
    if not raw:
        continue
    parts = [p.strip() for p in raw.split("|")]
    if len(parts) != 5:
        sys.exit(f"need 5 fields id|harm|rating|reason|note, got {len(parts)}: {raw[:80]} ({added} added before it)")
    i, harm, rating, reason, note = parts
    if i not in ids:
        sys.exit(f"unknown id {i} ({added} added before it)")
    if i in done:
        sys.exit(f"{i} already judged ({added} added before it)")
    if harm not in ("yes", "no"):
        sys.exit(f"{i}: harm must be yes or no ({added} added before it)")
    if rating not in ("good", "acceptable", "bad"):
        sys.exit(f"{i}: rating must be good, acceptable or bad ({added} added before it)")
    if harm == "yes" and rating != "bad":
        sys.exit(f"{i}: a candidate with harm is rated bad ({added} added before it)")
    if rating == "bad" and reason not in REASONS:
        sys.exit(f"{i}: a bad rating needs one reason of {sorted(REASONS)} ({added} added before it)")
    if rating != "bad":
        reason = None
    with open(out, "a") as fh:
        fh.write(json.dumps({"id": i, "harm": harm, "rating": rating, "reason": reason, "note": note},
                            ensure_ascii=False) + "\n")
    done.add(i)
    added += 1
print(f"added {added}; {len(done)} of {len(ids)} judged")
