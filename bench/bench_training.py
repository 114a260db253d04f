"""Training throughput of both recipes, with random and with length-grouped batches: examples/s and real
(unpadded) tokens/s per optimizer step.

    python -m bench.bench_training [--steps 6] [--out runs/bench_training]

- classifier: `configs/release/classifier.yaml` (MiniLM, its data mix after source balancing, batch 32);
- rewriter v2: `configs/rewriter_lm_lora.yaml`'s first stage (SmolLM2-135M with rank-32 LoRA, batch 16), fp32
  on this CPU (the config's bf16 is for a GPU).

For each recipe the same training rows are cut into batches two ways: shuffled (random batches), and
shuffled then sorted by length within mega-batches of 50 batches, as the Trainer's `group_by_length` does.
`--steps` batches are taken evenly spread over each epoch order (so the grouped ones are not all the longest),
each is padded to its own longest row, and forward + backward + AdamW are timed after one warm-up step.
examples/s = examples / seconds over the timed steps. Torch is needed (the `[train]` extra).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def epoch_order(lengths: list[int], batch: int, grouped: bool, seed: int = 0) -> list[int]:
    """One epoch's row order: shuffled, or shuffled then sorted by length (longest first) within mega-batches of
    50 batches, as the Trainer's `group_by_length` does."""
    idx = list(range(len(lengths)))
    random.Random(seed).shuffle(idx)
    if grouped:
        mega = batch * 50
        idx = [i for s in range(0, len(idx), mega) for i in sorted(idx[s:s + mega], key=lambda i: -lengths[i])]
    return idx


def epoch_batches(lengths: list[int], batch: int, grouped: bool, seed: int = 0) -> list[list[int]]:
    """One epoch's full batches of row indices, in `epoch_order`."""
    idx = epoch_order(lengths, batch, grouped, seed)
    return [idx[s:s + batch] for s in range(0, len(idx) - batch + 1, batch)]


def spread(batches: list[list[int]], n: int) -> list[list[int]]:
    """n batches evenly spread over the epoch (the first one is the warm-up)."""
    step = max(1, len(batches) // n)
    return batches[::step][:n]


def time_steps(model, make_batch, batches: list[list[int]], lengths: list[int]) -> dict[str, float]:
    import torch

    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    model.train()
    seconds = examples = tokens = padded = 0
    for i, rows in enumerate(batches):
        start = time.perf_counter()
        loss = model(**make_batch(rows)).loss
        loss.backward()
        optim.step()
        optim.zero_grad(set_to_none=True)
        if i == 0:  # warm-up
            continue
        seconds += time.perf_counter() - start
        examples += len(rows)
        tokens += sum(lengths[r] for r in rows)
        padded += max(lengths[r] for r in rows) * len(rows)
    return {"examples_per_s": examples / seconds, "real_tokens_per_s": tokens / seconds,
            "seconds_per_step": seconds / max(1, len(batches) - 1), "padded_per_real_token": padded / tokens,
            "timed_steps": len(batches) - 1}


def classifier_recipe(steps: int, config_path: Path) -> dict[str, Any]:
    import torch

    from callinkit.config import load_config
    from callinkit.train.classifier import setup

    config = load_config(str(config_path))
    s = setup(config, ROOT / "runs" / "bench_training_unused")
    train = s.data["train"]
    ids, labels = train["input_ids"], train["label"]
    lengths = [len(x) for x in ids]
    batch = config.training.batch_size

    def make_batch(rows: list[int]) -> dict[str, Any]:
        width = max(lengths[r] for r in rows)
        input_ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros_like(input_ids)
        for j, r in enumerate(rows):
            input_ids[j, :lengths[r]] = torch.tensor(ids[r])
            mask[j, :lengths[r]] = 1
        return {"input_ids": input_ids, "attention_mask": mask, "labels": torch.tensor([labels[r] for r in rows])}

    state = {k: v.clone() for k, v in s.model.state_dict().items()}
    out: dict[str, Any] = {"config": str(config_path.relative_to(ROOT)), "batch_size": batch, "rows": len(lengths)}
    for name, grouped in (("random", False), ("length_grouped", True)):
        s.model.load_state_dict(state)
        out[name] = time_steps(s.model, make_batch, spread(epoch_batches(lengths, batch, grouped), steps + 1),
                               lengths)
    return out


def rewriter_recipe(steps: int, config_path: Path) -> dict[str, Any]:
    from callinkit.config import load_config
    from callinkit.train.lm_base import resolve_lm_base
    from callinkit.train.rewriter_lm import Collator, encode_stage, load_lm, prepare_trainable

    config = load_config(str(config_path))
    stage = config.stages[0]
    model, tokenizer = load_lm(resolve_lm_base(config.model.base).location)
    prepare_trainable(model, config)
    enc = encode_stage(stage, config, tokenizer)
    lengths = [len(x["input_ids"]) for x in enc.train]
    collate = Collator(tokenizer.pad_token_id)
    out: dict[str, Any] = {"config": str(config_path.relative_to(ROOT)), "batch_size": stage.batch_size,
                           "rows": len(lengths), "precision": "fp32 (CPU)"}
    for name, grouped in (("random", False), ("length_grouped", True)):
        out[name] = time_steps(model, lambda rows: collate([enc.train[r] for r in rows]),
                               spread(epoch_batches(lengths, stage.batch_size, grouped), steps + 1), lengths)
    return out


def run(steps: int = 6, rewriter_steps: int = 4) -> dict[str, Any]:
    import torch

    torch.manual_seed(0)
    return {"classifier": classifier_recipe(steps, ROOT / "configs" / "release" / "classifier.yaml"),
            "rewriter_lm_lora": rewriter_recipe(rewriter_steps, ROOT / "configs" / "rewriter_lm_lora.yaml")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6, help="timed classifier steps per batching (plus one warm-up)")
    parser.add_argument("--rewriter-steps", type=int, default=4, help="timed rewriter steps per batching")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_training"))
    args = parser.parse_args()
    result = run(args.steps, args.rewriter_steps)
    for recipe, r in result.items():
        for name in ("random", "length_grouped"):
            x = r[name]
            print(f"{recipe:<18} {name:<15} {x['examples_per_s']:7.1f} examples/s  {x['real_tokens_per_s']:8.0f} "
                  f"tokens/s  {x['seconds_per_step']:.2f} s/step  padded/real {x['padded_per_real_token']:.2f}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out / 'results.json'}")


if __name__ == "__main__":
    main()
