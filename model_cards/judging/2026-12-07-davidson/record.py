"""Decode once, guard many times: for each source, the bundle's source-level refusal and, when it is not refused,
every candidate with its log-probability (and the deletion candidate's, whether or not it would be read), so that
`reguard.py` can re-run a changed guard on the same candidates without decoding again.

    python model_cards/judging/2026-12-07-davidson/record.py BUNDLE SOURCES.jsonl OUT.jsonl [--all]

--all (session 24) decodes the sources the guard refuses too, so that a guard that refuses fewer can be re-run.
"""
import json
import sys
import time
from pathlib import Path

from callinkit.guard import without_profanity
from callinkit.serve.rewriter_lm import LMRewriter

ALL = "--all" in sys.argv
bundle, src_file, out = [a for a in sys.argv[1:] if a != "--all"]
rw = LMRewriter(bundle)
k = int(rw.generation["num_candidates"])
rows = [json.loads(line) for line in open(src_file)]
done = {json.loads(line)["source"] for line in open(out)} if Path(out).exists() else set()
t0 = time.time()
with open(out, "a") as f:
    for i, r in enumerate(rows):
        text = r["source"]
        if text in done:
            continue
        refusal = rw.refusal(text)
        rec = {**r, "refusal": refusal.code if refusal else None, "candidates": None, "deletion": None}
        if not refusal or ALL:
            cands = rw.scored_candidates(text, k)
            res = rw.choose(text, cands) if not refusal else None
            deletion = without_profanity(text)
            rec |= {"candidates": cands, "shown": res.text if res and res.ok else None,
                    "detox": bool(res and res.ok and res.detox), "reason": None if res is None or res.ok else list(res.reason_codes)}
            if deletion is not None:
                rec["deletion"] = [deletion, cands.get(deletion) if deletion in cands else rw.logprob(text, deletion)]
        f.write(json.dumps(rec) + "\n")
        f.flush()
        if i % 20 == 0:
            print(i, round(time.time() - t0), flush=True)
