"""Per validation source: what a v2 bundle shows without and with the deletion candidate (the same loaded
bundle; the model's candidates are seeded per text, so both runs see the same ones).

    python model_cards/judging/2026-12-07-deletion/val_run.py bundles/rewriter_lm_op4n val_sources.jsonl val_run.jsonl
"""
import json
import sys
import time

from callinkit.serve.rewriter_lm import LMRewriter

bundle, src_file, out = sys.argv[1], sys.argv[2], sys.argv[3]
rw = LMRewriter(bundle)
rows = [json.loads(line) for line in open(src_file)]
t0 = time.time()
with open(out, "w") as f:
    for i, r in enumerate(rows):
        text = r["source"]
        rw.deletion_candidate = False
        _, base = rw.generate_and_select(text, 4)
        rw.deletion_candidate = True
        _, new = rw.generate_and_select(text, 4)
        dc = [c for c in new.candidates if c.scores.get("deletion")]
        f.write(json.dumps({"sample": r.get("sample"), "source": text, "shown": base.text, "shown_new": new.text,
                            "new_is_deletion": bool(new.ok and new.scores.get("deletion")),
                            "deletion": dc[0].text if dc else None, "deletion_scores": dc[0].scores if dc else None,
                            "deletion_problems": list(dc[0].problems) if dc else None}) + "\n")
        if i % 20 == 0:
            print(i, round(time.time() - t0), flush=True)
