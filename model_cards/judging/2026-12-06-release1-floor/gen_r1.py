"""Release 1's guarded answers, with each shown candidate's scores, for validation data only: session 18's 160 real
comments (100 ParaDetox validation sources, 60 Civil Comments of the toxic_spans train file; the same items as
`../2026-12-06-detox/gen_real.py`, seed 18) and 100 corpus validation call-outs (seed 19).

    python model_cards/judging/2026-12-06-release1-floor/gen_r1.py OUT.jsonl
"""
import json
import random
import sys
import time
from pathlib import Path

from callinkit import Rewriter
from callinkit.config import load_config
from callinkit.corpus import KINDS, pair_rows, read_records, read_splits
from callinkit.train.rewriter_lm import stage_rows

sys.path.insert(0, str(Path(__file__).parents[1] / "2026-12-06-real-concern"))
from texts import labelled_rows  # noqa: E402

out = Path(sys.argv[1])
cfg = load_config(Path("runs/rewriter_lm_lora/config.yaml"))
pd = sorted({r["call_out"] for r in stage_rows(cfg.stages[0], cfg)["validation"] if r["source"] == "paradetox"})
cc = sorted(r["text"] for r in labelled_rows() if r["sample"] == "toxic_spans" and not r["threat"])
rng = random.Random(18)
items = [("paradetox_validation", t) for t in rng.sample(pd, 100)] + [("civil_comments", t) for t in rng.sample(cc, 60)]
corpus = sorted({r["call_out"] for r in pair_rows({k: read_records(k) for k in KINDS}, read_splits())
                 if r["split"] == "validation"})
items += [("corpus_validation", t) for t in random.Random(19).sample(corpus, 100)]
rw = Rewriter.load(None)  # the shipped release 1
t0 = time.time()
with out.open("w", encoding="utf-8") as fh:
    for start in range(0, len(items), 16):
        chunk = items[start:start + 16]
        for (sample, text), r in zip(chunk, rw.rewrite([t for _, t in chunk])):
            fh.write(json.dumps({"sample": sample, "source": text, "shown": r.text, "reason_codes": list(r.reason_codes),
                                 "scores": {k: round(v, 4) for k, v in r.scores.items()},
                                 "candidates": [{"text": c.text, "problem_codes": c.problem_codes,
                                                 **{k: round(v, 4) for k, v in c.scores.items()}}
                                                for c in r.candidates]}, ensure_ascii=False) + "\n")
        print(start, round(time.time() - t0), flush=True)
print("done", len(items), round(time.time() - t0))
