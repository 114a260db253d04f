"""Validation sources for the deletion candidate: texts the rewriter never trained on and no test split holds,
for which a deletion candidate exists: distinct ParaDetox call-outs of the rewriter recipe's validation split
(120 of them) and non-threat real comments labelled in session 18 (all 15 that have one), seed 22.

    python model_cards/judging/2026-12-07-deletion/sources.py > val_sources.jsonl

(val_sources.jsonl was drawn with the prototype of `callinkit.guard.without_profanity`, which differed in a few
rules; this script now filters with the shipped function, so a fresh draw can differ a little.)
"""
import json
import random
import sys
from pathlib import Path

from callinkit.config import load_config
from callinkit.guard import without_profanity
from callinkit.train.rewriter_lm import stage_rows

sys.path.insert(0, str(Path(__file__).parents[1] / "2026-12-06-real-concern"))
from texts import labelled_rows  # noqa: E402

cfg = load_config(Path("runs/rewriter_lm_lora/config.yaml"))
pd = sorted({r["call_out"] for r in stage_rows(cfg.stages[0], cfg)["validation"] if r["source"] == "paradetox"})
real = sorted({(r["sample"], r["text"]) for r in labelled_rows() if not r["threat"]})
pd_d = [t for t in pd if without_profanity(t)]
real_d = [(s, t) for s, t in real if without_profanity(t)]
rng = random.Random(22)
rows = [{"sample": "paradetox_validation", "source": t} for t in rng.sample(pd_d, min(120, len(pd_d)))]
rows += [{"sample": s, "source": t} for s, t in rng.sample(real_d, min(80, len(real_d)))]
for r in rows:
    print(json.dumps(r))
