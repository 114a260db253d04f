"""A bundle on the corpus's 41 validation call-outs in the `ultimatum` style: its shown suggestion and candidates,
to count how many keep an ultimatum (`callinkit.guard.ULTIMATUM_RE`).

    python model_cards/judging/2026-12-07-int8-adapter/ultval.py bundles/rewriter_lm_op4q8 ultval.jsonl
"""
import json
import sys

from callinkit.corpus import read_records, read_splits
from callinkit.guard import ULTIMATUM_RE
from callinkit.serve import Rewriter

split = read_splits()["assignments"]
rows = [r.data for r in read_records("pairs") if r.data["style"] == "ultimatum" and split.get(r.data["id"]) == "validation"]
rw = Rewriter.load(sys.argv[1])
with open(sys.argv[2], "w") as out:
    for r in rows:
        cands, res = rw.generate_and_select(r["call_out"], 4, context=r.get("context"))
        out.write(json.dumps({"id": r["id"], "source": r["call_out"], "shown": res.text if res.ok else None,
                              "reason": res.reason, "cands": list(cands)}) + "\n")
shown = [json.loads(line) for line in open(sys.argv[2])]
print(len(shown), "call-outs;", sum(bool(r["shown"] and ULTIMATUM_RE.search(r["shown"])) for r in shown),
      "shown and", sum(bool(ULTIMATUM_RE.search(c)) for r in shown for c in r["cands"]), "candidates keep an ultimatum")
