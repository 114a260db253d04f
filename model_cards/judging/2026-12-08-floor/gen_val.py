"""A v2 bundle's candidates on validation data only, for choosing its guard's log-probability floor against blind
verdicts: 300 corpus validation call-outs (seed 28) and session 18's 160 real validation comments (100 ParaDetox
validation sources, 60 Civil Comments of the toxic_spans train file: `../2026-12-06-release1-floor/gen_r1.py`'s
items, seed 18).

    python model_cards/judging/2026-12-08-floor/gen_val.py BUNDLE OUT.jsonl [K]

Each row: what `rewrite()` shows (the bundle's guard, K candidates, default the bundle's), the source-level refusal
if any, and every candidate with its guard problems and scores (`logprob`, `p_call_in`, `similarity`, ...), as
`callinkit eval` records them. Resumes: rows already in OUT are skipped.
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

bundle, out = sys.argv[1], Path(sys.argv[2])
cfg = load_config(Path("runs/rewriter_lm_lora/config.yaml"))
pd = sorted({r["call_out"] for r in stage_rows(cfg.stages[0], cfg)["validation"] if r["source"] == "paradetox"})
cc = sorted(r["text"] for r in labelled_rows() if r["sample"] == "toxic_spans" and not r["threat"])
rng = random.Random(18)
items = ([{"sample": "paradetox_validation", "source": t} for t in rng.sample(pd, 100)]
         + [{"sample": "civil_comments", "source": t} for t in rng.sample(cc, 60)])
corpus = {}
for r in pair_rows({k: read_records(k) for k in KINDS}, read_splits()):
    if r["split"] == "validation":
        corpus.setdefault(r["call_out"], r)
for t in random.Random(28).sample(sorted(corpus), 300):
    r = corpus[t]
    items.append({"sample": "corpus_validation", "source": t, "context": r.get("context"), "reference": r["call_in"],
                  "style": r.get("style"), "strategy": r.get("strategy")})
done = {json.loads(line)["source"] for line in open(out)} if out.exists() else set()
rw = Rewriter.load(bundle)
k = int(sys.argv[3]) if len(sys.argv) > 3 else int(rw.generation["num_candidates"])
t0 = time.time()
with out.open("a", encoding="utf-8") as fh:
    for n, item in enumerate(items):
        if item["source"] in done:
            continue
        cands, chosen = rw.generate_and_select(item["source"], k, context=item.get("context"))
        fh.write(json.dumps({**item, "shown": chosen.text if chosen.ok else None, "reason_codes": list(chosen.reason_codes),
                             "candidates": [{"text": c.text, "problems": list(c.problems),
                                             **{key: round(v, 4) for key, v in c.scores.items()}}
                                            for c in chosen.candidates]}, ensure_ascii=False) + "\n")
        fh.flush()
        if n % 20 == 0:
            print(n, len(items), round(time.time() - t0), flush=True)
print("done", len(items), round(time.time() - t0))
