"""Suggestions of a bundle for the 141 judged rows (100 corpus-test call-outs, 41 threats) of sessions 6-8.

Since session 14 every candidate is written with its scores and the guard's problems (gen_s13.json and
gen_dpo1.json, written before, hold the candidates' texts only).

    python model_cards/judging/2026-12-06-preference/gen141.py BUNDLE OUT.json
"""
import json
import sys
import time
from pathlib import Path

from callinkit import Rewriter

bundle, out = sys.argv[1], Path(sys.argv[2])
P = Path("model_cards/judging/2026-12-05-copy-boost/pairs")
items = [json.loads(line) for line in open(P / "items_r1.jsonl")]
keys = {json.loads(line)["id"]: json.loads(line) for line in open(P / "key_r1.jsonl")}
rw = Rewriter.load(bundle)
rows = []
t0 = time.time()
for n, it in enumerate(items):
    r = rw.rewrite([it["call_out"]], contexts=[it["context"]])[0]
    k = keys[it["id"]]
    r1 = it["B" if k["A"] == "v2" else "A"]
    rows.append({"id": it["id"], "slice": k["slice"], "call_out": it["call_out"], "context": it["context"],
                 "v2": r.text if r.ok else None, "reason": None if r.ok else r.reason, "r1": r1,
                 "candidates": [{"text": c.text, "scores": c.scores, "problems": list(c.problems)}
                                for c in r.candidates]})
    if n % 20 == 0:
        print(n, round(time.time() - t0), flush=True)
out.write_text(json.dumps(rows, ensure_ascii=False, indent=1))
print("answered", sum(r["v2"] is not None for r in rows), "of", len(rows), "in", round(time.time() - t0), "s")
