"""The judges' helper: append verdict lines (id|better|rating_A|rating_B|problems_A|problems_B|reason) for
items_SIDE.jsonl to verdicts_SIDE.jsonl, refusing malformed ones.

    python3 add.py SIDE <<'X'
    q000|A|good|bad||garbled or not fluent|B is broken
    X
"""
import json
import sys
from pathlib import Path

PROBLEMS = {"invented fact or name", "wrong harm or concern", "reversed concern", "keeps insult, threat or mockery",
            "drops the concern", "garbled or not fluent", "not a call-in", "addresses the wrong person",
            "stock phrase that does not fit", "copies the source"}
RATINGS = {"good", "acceptable", "bad", "abstain"}


def problem(line: str, ids: set[str], seen: set[str]) -> str | None:
    parts = [p.strip() for p in line.split("|")]
    if len(parts) != 7:
        return f"{len(parts)} fields, want 7"
    i, better, rating_a, rating_b, problems_a, problems_b, _ = parts
    unknown = [p for ps in (problems_a, problems_b) for p in ps.split(";") if p.strip() and p.strip() not in PROBLEMS]
    if i not in ids:
        return f"unknown id {i!r}"
    if i in seen:
        return f"{i} already judged"
    if better not in ("A", "B", "tie"):
        return "better must be A, B or tie"
    if rating_a not in RATINGS or rating_b not in RATINGS:
        return f"ratings must be one of {sorted(RATINGS)}"
    if unknown:
        return f"unknown problems {unknown}"
    return None


def main() -> int:
    side = sys.argv[1]
    here = Path(__file__).parent
    ids = {json.loads(line)["id"] for line in open(here / f"items_{side}.jsonl")}
    out = here / f"verdicts_{side}.jsonl"
    seen = {json.loads(line)["id"] for line in open(out)} if out.exists() else set()
    rows, errors = [], []
    for n, line in enumerate(sys.stdin.read().splitlines(), 1):
        if not line.strip():
            continue
        why = problem(line, ids, seen)
        if why:
            errors.append(f"line {n}: {why}")
            continue
        i, better, rating_a, rating_b, problems_a, problems_b, reason = (p.strip() for p in line.split("|"))
        seen.add(i)
        rows.append({"id": i, "better": better, "rating_A": rating_a, "rating_B": rating_b,
                     "problems_A": [p.strip() for p in problems_a.split(";") if p.strip()],
                     "problems_B": [p.strip() for p in problems_b.split(";") if p.strip()], "reason": reason})
    with open(out, "a") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    print(f"added {len(rows)}; {len(seen)} of {len(ids)} judged")
    for e in errors:
        print("ERROR", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
