"""A v2 bundle's guarded candidates for real comments of validation data, with the scores a detoxification path
needs: P(call_in), P(neutral), concern similarity, mean log-probability, the guard's problems.

    python model_cards/judging/2026-12-06-detox/gen_real.py BUNDLE OUT [N_PARADETOX N_CIVIL SEED]

Real comments the model never trained on and no test split holds: distinct sources of the rewriter recipe's
ParaDetox validation split (default 100) and non-threat Civil Comments labelled in session 18 (default 60;
`../2026-12-06-real-concern/labels.jsonl`), seed 18; 4 candidates each, as `callinkit eval` makes them.
"""
import json
import random
import sys
import time
from pathlib import Path

from callinkit import Rewriter
from callinkit.config import load_config
from callinkit.train.rewriter_lm import stage_rows

sys.path.insert(0, str(Path(__file__).parents[1] / "2026-12-06-real-concern"))
from texts import labelled_rows  # noqa: E402

bundle, out = sys.argv[1], Path(sys.argv[2])
n_pd, n_cc, seed = (int(a) for a in (sys.argv[3:6] if len(sys.argv) > 5 else (100, 60, 18)))
cfg = load_config(Path("runs/rewriter_lm_lora/config.yaml"))
pd = sorted({r["call_out"] for r in stage_rows(cfg.stages[0], cfg)["validation"] if r["source"] == "paradetox"})
cc = sorted(r["text"] for r in labelled_rows() if r["sample"] == "toxic_spans" and not r["threat"])
rng = random.Random(seed)
items = [("paradetox_validation", t) for t in rng.sample(pd, n_pd)] + [("civil_comments", t) for t in rng.sample(cc, n_cc)]
rw = Rewriter.load(bundle)
t0 = time.time()
with out.open("w", encoding="utf-8") as fh:
    for i, (sample, text) in enumerate(items):
        cands, result = rw.generate_and_select(text, 4)
        neutral = {p_text: p.scores["neutral"] for p_text, p in zip(cands, rw.classifier.predict(cands))} if cands else {}
        fh.write(json.dumps({"sample": sample, "source": text, "shown": result.text if result.ok else None,
                             "reason": result.reason, "no_concern": rw.has_no_concern(text),
                             "candidates": [{"text": c.text, "problems": list(c.problems), "neutral": neutral[c.text],
                                             **{k: c.scores.get(k) for k in ("call_in", "similarity", "logprob")}}
                                            for c in result.candidates]}, ensure_ascii=False) + "\n")
        if i % 20 == 0:
            print(i, round(time.time() - t0), flush=True)
print("done", len(items), round(time.time() - t0))
