"""Re-run the guard of today's code on recorded candidates (`record.py`): what it shows for each source, beside
what the guard showed when they were recorded.

    python model_cards/judging/2026-12-07-davidson/reguard.py BUNDLE RECORDED.jsonl OUT.jsonl
"""
import json
import sys

from callinkit.serve.rewriter_lm import LMRewriter

bundle, rec_file, out = sys.argv[1], sys.argv[2], sys.argv[3]
rw = LMRewriter(bundle)
with open(out, "w") as f:
    for line in open(rec_file):
        r = json.loads(line)
        refusal = rw.refusal(r["source"])
        new = {"shown_now": None, "detox_now": False, "reason_now": [refusal.code] if refusal else None}
        if not refusal and r["candidates"] is not None:
            lp = dict([r["deletion"]]) if r["deletion"] else {}
            # a deletion the recording guard did not make (its profanity list changed since) is read now
            res = rw.choose(r["source"], r["candidates"],
                            logprob=lambda c, lp=lp, t=r["source"]: lp[c] if c in lp else rw.logprob(t, c))
            new = {"shown_now": res.text if res.ok else None, "detox_now": bool(res.ok and res.detox),
                   "reason_now": None if res.ok else list(res.reason_codes)}
        elif not refusal:
            new["reason_now"] = ["not_recorded"]  # refused when recorded, not now: decode it again to see
        f.write(json.dumps({k: r.get(k) for k in ("sample", "source", "refusal", "shown", "detox", "reason")} | new)
                + "\n")
