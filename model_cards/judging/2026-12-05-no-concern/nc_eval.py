"""v2 bundle: the guard with and without the no-concern path, on the same candidates (generated once).

    python model_cards/judging/2026-12-05-no-concern/nc_eval.py bundles/rewriter_lm_s11 OUT.json
"""
import json
import sys

from tqdm import tqdm

from callinkit.serve import Rewriter
from callinkit.serve.rewriter import select
from callinkit.train.rewriter_eval import pair_slices, score_outputs


def pick(rw, src, cands, ctx, no_concern):
    return select(src, list(cands), [{} if lp is None else {"logprob": lp} for lp in cands.values()],
                  rw.classifier, rw.embedder, rw.min_call_in, rw.min_similarity, ctx,
                  min_logprob=rw.min_logprob, rank_by=rw.rank_by, no_concern=no_concern)


def main(bundle: str, out: str) -> None:
    rw = Rewriter.load(bundle)
    k = int(rw.generation["num_candidates"])
    slices = pair_slices(per_slice=100)
    res = {}
    for name in ("no_concern", "corpus_test"):
        rows = slices[name]
        recs = []
        for r in tqdm(rows, desc=name):
            src, ctx = r["call_out"], r.get("context")
            refusal = rw.refusal(src)
            p_nc = rw.no_concern_probability(src)
            if refusal:
                recs.append({"src": src, "ref": r["call_in"], "p_nc": p_nc, "old": None, "new": None,
                             "reason": refusal})
                continue
            cands = rw.scored_candidates(src, k, None, ctx)
            old, new = pick(rw, src, cands, ctx, False), pick(rw, src, cands, ctx, rw.has_no_concern(src))
            recs.append({"src": src, "ref": r["call_in"], "p_nc": p_nc, "cands": list(cands), "old": old.text,
                         "new": new.text, "old_reason": old.reason, "new_reason": new.reason})
        res[name] = {"rows": recs,
                     "old": score_outputs([x["old"] for x in recs], rows, rw.classifier, rw.embedder),
                     "new": score_outputs([x["new"] for x in recs], rows, rw.classifier, rw.embedder)}
        for v in ("old", "new"):
            m = res[name][v]
            print(name, v, {a: round(m[a], 3) for a in ("sta", "sim", "chrf", "j", "j_target", "sta_target", "answered")})
    with open(out, "w") as fh:
        json.dump(res, fh, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
