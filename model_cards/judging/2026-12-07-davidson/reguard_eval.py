"""Re-run the guard of today's code on the candidates a `callinkit eval --output` file recorded (each with its
log-probability, the deletion candidate flagged): what the guard shows per row, to compare two versions of the
guard on the same candidates. Log-probabilities are stored to 4 decimals.

    python model_cards/judging/2026-12-07-davidson/reguard_eval.py BUNDLE EVAL.json OUT.jsonl
"""
import json
import sys

from callinkit.serve.rewriter_lm import LMRewriter

bundle, eval_file, out = sys.argv[1], sys.argv[2], sys.argv[3]
rw = LMRewriter(bundle)
data = json.load(open(eval_file))
with open(out, "w") as f:
    for slice_name, rows in data["samples"].items():
        for r in rows:
            text, context = r["source"], r.get("context")
            cands = {c["text"]: c.get("logprob") for c in r["model_candidates"] or [] if not c.get("deletion")}
            deletion = {c["text"]: c["logprob"] for c in r["model_candidates"] or [] if c.get("deletion")}
            refusal = rw.refusal(text)
            if refusal:
                shown, codes = None, [refusal.code]
            elif not cands:
                shown, codes = None, ["not_recorded"]
            else:
                # a deletion the old guard never read has no recorded log-probability: read it now
                res = rw.choose(text, cands, context,
                                logprob=lambda c, d=deletion, t=text, x=context: d[c] if c in d else rw.logprob(t, c, x))
                shown, codes = (res.text, []) if res.ok else (None, list(res.reason_codes))
            f.write(json.dumps({"slice": slice_name, "source": text, "shown": shown, "codes": codes}) + "\n")
