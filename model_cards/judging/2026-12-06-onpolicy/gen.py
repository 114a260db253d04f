"""On-policy candidates for preference pairs: the current v2 bundle's own candidates (greedy + sampled) for
validation-split call-outs that no earlier judging folder holds, with the guard's verdict on each."""
import json
import random
import sys
import time
from pathlib import Path

from callinkit import Rewriter
from callinkit.config import load_config
from callinkit.train import preference as pref
from callinkit.train.rewriter_lm import stage_rows

# gen.py BUNDLE OUT N K [SEED [JUDGED_FOLDER ...]]: N call-outs not judged in the judging folders named (by
# default the two of sessions 7-8), K candidates each; session 13 ran it with SEED 13, session 14 with 14 and
# this folder added.
bundle, out, n, k = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
seed = int(sys.argv[5]) if len(sys.argv) > 5 else 13
judged = sys.argv[6:] or ["2026-12-04-logprob", "2026-12-05-copy-boost"]
cfg = load_config(Path("runs/rewriter_lm_lora/config.yaml"))
rows = [r for r in stage_rows(cfg.stages[0], cfg)["validation"] if r["source"] == "callin_corpus"]
J = Path("model_cards/judging")
seen = {r["source"] for f in judged for r in pref.rated_rewrites(J / f)}
rows = [r for r in rows if r["call_out"] not in seen]
random.Random(seed).shuffle(rows)
rows = rows[:n]
rw = Rewriter.load(bundle)
t0 = time.time()
with out.open("w", encoding="utf-8") as fh:
    for i, r in enumerate(rows):
        cands, result = rw.generate_and_select(r["call_out"], k, context=r.get("context"))
        refusal = None
        if not cands:  # refused before generating (a threat): generate anyway, unguarded, for judging
            refusal = result.reason
            cands = list(rw.scored_candidates(r["call_out"], k, context=r.get("context")))
            checked = {}
        else:
            checked = {c.text: c for c in result.candidates}
        fh.write(json.dumps({"source": r["call_out"], "context": r.get("context"), "reference": r["call_in"],
                             "topic": r.get("topic"), "style": r.get("style"), "refusal": refusal,
                             "shown": result.text if result.ok else None,
                             "candidates": [{"text": t, "greedy": j == 0,
                                             "logprob": (checked[t].scores.get("logprob") if t in checked else None),
                                             "problems": list(checked[t].problems) if t in checked else None}
                                            for j, t in enumerate(cands)]}, ensure_ascii=False) + "\n")
        if i % 10 == 0:
            print(i, round(time.time() - t0), flush=True)
print("done", len(rows), round(time.time() - t0))
