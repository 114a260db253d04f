"""A v2 bundle on the 141 A/B rows (100 corpus-test call-outs, 41 threats), beside the shipped release 1 with its
floor, for a blind A/B with `../2026-12-06-onpolicy-dpo/make_items.py`.

    python model_cards/judging/2026-12-07-six-candidates/gen141_k6.py EVAL.json OUT.json [BUNDLE K]

The corpus-test rows take the suggestion that `callinkit eval BUNDLE ...` showed (the same 100 call-outs, seed
2026; here op4n with `--num-candidates 6`, the default); the threats are generated now the same way (K
candidates, the bundle's guard); release 1's suggestion is the one stored for session 19's A/B (generation is
seeded per text).
"""
import json
import sys
from pathlib import Path

from callinkit import Rewriter

rows = json.load(open(Path(__file__).parents[1] / "2026-12-06-release1-floor" / "gen141_op4n_r1floor.json"))
shown = {s["source"]: s["model_reranked"] for s in json.load(open(sys.argv[1]))["samples"]["corpus_test"]}
bundle, k = (sys.argv[3], int(sys.argv[4])) if len(sys.argv) > 4 else ("bundles/rewriter_lm_op4n", 6)
rw = Rewriter.load(bundle)
out = []
for r in rows:
    if r["slice"] == "corpus_test":
        v2 = shown[r["call_out"]]
    else:
        got = rw.generate_and_select(r["call_out"], k, context=r.get("context"))[1]
        v2 = got.text if got.ok else None
    out.append({**r, "v2": v2})
Path(sys.argv[2]).write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
print(sum(o["v2"] is not None for o in out if o["slice"] == "corpus_test"), "corpus-test answers;",
      sum(o["v2"] is not None for o in out if o["slice"] != "corpus_test"), "threat answers")
