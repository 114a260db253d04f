"""A bundle's suggestions for the 141 rows again at another log-probability floor, from gen141.py's output.

gen141.py stores every candidate with its scores and the guard's problems, so the guard's choice at another
floor needs no new generation: a candidate passes when its only problems are the floor's and its mean token
log-probability reaches FLOOR; the passing candidate with the highest log-probability is shown (the bundles'
`rank_by: logprob`). Checks first that FLOOR = the bundle's own floor gives back gen141.py's suggestions.

    python model_cards/judging/2026-12-06-onpolicy-dpo2/refloor.py GEN.json BUNDLE_FLOOR FLOOR OUT.json
"""
import json
import sys
from pathlib import Path


def choose(row: dict, floor: float) -> str | None:
    ok = [c for c in row["candidates"] if c["scores"].get("logprob") is not None and c["scores"]["logprob"] >= floor
          and all(p.startswith("reads as unlikely") for p in c["problems"])]
    return max(ok, key=lambda c: c["scores"]["logprob"])["text"] if ok else None


rows = json.load(open(sys.argv[1]))
own, floor, out = float(sys.argv[2]), float(sys.argv[3]), Path(sys.argv[4])
mismatch = [r["id"] for r in rows if choose(r, own) != r["v2"]]
if mismatch:
    sys.exit(f"at the bundle's own floor {own} the choice differs from gen141.py's on {mismatch}")
for r in rows:
    r["v2"] = choose(r, floor)
    r["reason"] = None if r["v2"] is not None else (r["reason"] or f"no candidate reaches the floor {floor}")
out.write_text(json.dumps(rows, ensure_ascii=False, indent=1))
print("answered", sum(r["v2"] is not None for r in rows), "of", len(rows), "at floor", floor)
