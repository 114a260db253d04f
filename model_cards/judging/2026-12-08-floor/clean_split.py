"""The floor grid of `analyse.py` on corpus validation call-outs, split by whether the call-out was among the 480
validation call-outs whose candidates the on-policy preference rounds 1-4 trained on (`rounds.py`):
op4's model has seen those, so only the others are held out from it.

    python model_cards/judging/2026-12-08-floor/clean_split.py    # from the repository root
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from rounds import preference_sources  # noqa: E402

HERE = Path(__file__).parent
trained = preference_sources(4)
rows = [json.loads(line) for line in open(HERE / "gen_val_op4q8.jsonl") if '"corpus_validation"' in line]
n = {False: sum(r["source"] not in trained for r in rows), True: sum(r["source"] in trained for r in rows)}
key = [json.loads(line) for line in open(HERE / "key.jsonl")]
verdicts = {j: {v["id"]: v for v in map(json.loads, open(HERE / "judge" / f"verdicts_{j}.jsonl"))} for j in "12"}
for floor in [-0.8 + 0.05 * i for i in range(7)]:
    parts = []
    for seen in (False, True):
        kept = [k for k in key if k["sample"] == "corpus_validation" and (k["source"] in trained) == seen
                and k["logprob"] >= floor - 1e-9]
        bad = sum(verdicts[j][k["id"]]["rating"] == "bad" for k in kept for j in "12") / 2
        parts.append(f"{'trained on' if seen else 'held out'}: {len(kept)} of {n[seen]} answered "
                     f"({100 * len(kept) / n[seen]:.0f}%), bad {bad:g} ({100 * bad / n[seen]:.1f}% of rows)")
    print(f"min_logprob {floor:.2f}  " + " | ".join(parts))
