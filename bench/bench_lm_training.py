"""Rewriter v2 training cost per step: full fine-tuning against frozen embeddings and frozen lower layers, and
the padding that length-bucketed batches save.

    python -m bench.bench_lm_training [--config configs/rewriter_lm.yaml] [--steps 12]

For each setting it times `--steps` optimizer steps (batch as in the config's first stage, after 2 warm-up
steps) on the same batches, and reports seconds per step and trainable parameters. Separately it counts, over
the stage's training rows, the padded tokens per real token with random batches and with length-grouped
batches (no training needed). Writes JSON to --out.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import time
from pathlib import Path

from bench.bench_training import epoch_order


def padding_ratio(lengths: list[int], batch: int, grouped: bool, seed: int = 0) -> float:
    idx = epoch_order(lengths, batch, grouped, seed)
    padded = sum(max(lengths[i] for i in idx[s:s + batch]) * len(idx[s:s + batch]) for s in range(0, len(idx), batch))
    return padded / sum(lengths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/rewriter_lm.yaml")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--out", default="runs/bench_lm_training")
    args = parser.parse_args()

    import torch

    from callinkit.config import load_config
    from callinkit.train.lm_base import resolve_lm_base
    from callinkit.train.rewriter_lm import Collator, apply_freezing, encode_stage, load_lm

    config = load_config(args.config)
    stage = config.stages[0]
    base = resolve_lm_base(config.model.base)
    model, tokenizer = load_lm(base.location)
    enc = encode_stage(stage, config, tokenizer)
    lengths = [len(x["input_ids"]) for x in enc.train]
    result = {"padding_tokens_per_real_token": {
        "random_batches": padding_ratio(lengths, stage.batch_size, False),
        "length_grouped": padding_ratio(lengths, stage.batch_size, True)}}
    print(f"padded/real tokens: random {result['padding_tokens_per_real_token']['random_batches']:.3f}, "
          f"length-grouped {result['padding_tokens_per_real_token']['length_grouped']:.3f}")
    rng = random.Random(0)
    rows = [enc.train[i] for i in rng.sample(range(len(enc.train)), stage.batch_size * (args.steps + 2))]
    collate = Collator(tokenizer.pad_token_id)
    batches = [collate(rows[i:i + stage.batch_size]) for i in range(0, len(rows), stage.batch_size)]
    settings = {
        "full fine-tuning": dict(freeze_embeddings=False, freeze_layers=0),
        "frozen embeddings (shipped)": dict(freeze_embeddings=True, freeze_layers=0),
        "frozen embeddings + lower 15 layers": dict(freeze_embeddings=True, freeze_layers=15),
        "frozen embeddings + lower 24 layers": dict(freeze_embeddings=True, freeze_layers=24),
    }
    state = {k: v.clone() for k, v in model.state_dict().items()}
    timings = {}
    for name, freeze in settings.items():
        model.load_state_dict(state)
        cfg = dataclasses.replace(config, model=dataclasses.replace(config.model, **freeze))
        params = apply_freezing(model, cfg)
        optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
        model.train()
        seconds = []
        for i, batch in enumerate(batches):
            start = time.perf_counter()
            loss = model(**batch).loss
            loss.backward()
            optim.step()
            optim.zero_grad(set_to_none=True)
            if i >= 2:
                seconds.append(time.perf_counter() - start)
        timings[name] = {"seconds_per_step_median": statistics.median(seconds), **params}
        print(f"{name:<40} {statistics.median(seconds):6.2f} s/step  trainable {params['trainable_parameters'] / 1e6:.1f}M")
    result["seconds_per_step"] = timings
    result["batch_size"] = stage.batch_size
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out / 'results.json'}")


if __name__ == "__main__":
    main()
