"""Rewriter v2 recipe: fine-tune SmolLM2-135M-Instruct as the call-in rewriter with the Trainer.

Causal-LM fine-tuning on the chat template (`callinkit.lm_prompt`), loss on the call-in tokens only, in
stages that each start from the previous stage's weights (so new corpus rounds can be added as a stage
and `--resume` keeps what is done). The run folder:

    config.yaml                        merged config
    stages/<i>-<name>/checkpoints/     Trainer checkpoints (resume with --resume)
    stages/<i>-<name>/final/           the stage's weights + tokenizer
    stages/<i>-<name>/loss_curve.png   training and validation loss
    stages/<i>-<name>/samples.jsonl    greedy rewrites of validation call-outs after the stage
    stages/<i>-<name>/stage_info.json  steps, wall time, losses, data rows per source
    best/                              the last stage's weights (what `callinkit export` reads)
    run_info.json                      base model, wall time per stage
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from callinkit.config import DataConfig, LMStageConfig, RewriterLMConfig
from callinkit.lm_prompt import IM_END, SYSTEM_PROMPT, render_prompt
from callinkit.train.checkpoints import last_checkpoint, train_with_signals
from callinkit.train.distributed import check_trainer_world, per_process_batch
from callinkit.train.stages import finish_stage, run_stages


def system_prompt(config: RewriterLMConfig) -> str:
    return config.model.system_prompt or SYSTEM_PROMPT


def encode_example(tokenizer, source: str, target: str, max_length: int, system: str,
                   context: str | None = None) -> dict[str, list[int]]:
    """input_ids = prompt + call-in + <|im_end|>; labels mask the prompt with -100.

    When too long, the source is cut (from its end), never the call-in: a model that learns from cut
    targets learns to stop mid-sentence.
    """
    target_ids = tokenizer(target.strip() + IM_END, add_special_tokens=False)["input_ids"]
    target_ids = target_ids[: max_length // 2]
    prompt_ids = tokenizer(render_prompt(source, context, system), add_special_tokens=False)["input_ids"]
    budget = max_length - len(target_ids)
    if len(prompt_ids) > budget:
        # Keep the prompt's header and its assistant turn opener; cut the middle of the user's text.
        tail = tokenizer(f"{IM_END}\n<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
        prompt_ids = prompt_ids[: budget - len(tail)] + tail
    ids = prompt_ids + target_ids
    return {"input_ids": ids, "attention_mask": [1] * len(ids),
            "labels": [-100] * len(prompt_ids) + target_ids}


class Collator:
    """Right-pads input_ids / attention_mask / labels to the batch's longest example."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, features: Sequence[dict[str, list[int]]]):
        import torch

        width = max(len(f["input_ids"]) for f in features)

        def pad(key, value):
            return torch.tensor([f[key] + [value] * (width - len(f[key])) for f in features])

        return {"input_ids": pad("input_ids", self.pad_id), "attention_mask": pad("attention_mask", 0),
                "labels": pad("labels", -100)}


def stage_rows(stage: LMStageConfig, config: RewriterLMConfig) -> dict[str, list[dict[str, Any]]]:
    from callinkit.train.data import build_splits

    data = DataConfig(sources=stage.sources, validation_fraction=config.validation_fraction,
                      test_fraction=config.test_fraction)
    return build_splits(stage.sources, data, "pairs", config.seed)


def _count(rows: Sequence[dict[str, Any]], key: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        out[r[key]] = out.get(r[key], 0) + 1
    return out


def load_lm(location: str):
    """(model, tokenizer) from a Hugging Face folder or hub id, fp32, ready to train."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(location)
    model = AutoModelForCausalLM.from_pretrained(location, dtype=torch.float32)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = IM_END
    return model, tokenizer


def apply_freezing(model, config: RewriterLMConfig) -> dict[str, int]:
    """Freeze what the config says; returns trainable and total parameter counts."""
    m = config.model
    for p in model.parameters():
        p.requires_grad = True
    if m.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad = False
        out = model.get_output_embeddings()
        if out is not None:
            out.weight.requires_grad = False
    for layer in model.model.layers[: m.freeze_layers]:
        for p in layer.parameters():
            p.requires_grad = False
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"trainable_parameters": trainable, "total_parameters": total}


@dataclasses.dataclass
class _Encoded:
    train: Any
    validation: Any
    validation_rows: list[dict[str, Any]]
    provenance: dict[str, Any]


def encode_stage(stage: LMStageConfig, config: RewriterLMConfig, tokenizer) -> _Encoded:
    splits = stage_rows(stage, config)
    system = system_prompt(config)

    def encode(rows):
        # A plain list of dicts is a map-style dataset to the Trainer (and to its length-grouped sampler):
        # this recipe needs no `datasets` package.
        return [encode_example(tokenizer, r["call_out"], r["call_in"], config.model.max_length, system,
                               r.get("context")) for r in rows]

    validation = splits["validation"][: stage.validation_examples]
    provenance = {"sources": [{"name": s.name, "path": s.path, "weight": s.weight, "mode": s.mode}
                              for s in stage.sources],
                  "rows": {k: len(v) for k, v in splits.items()},
                  "train_rows_by_source": _count(splits["train"], "source")}
    return _Encoded(encode(splits["train"]), encode(validation), splits["validation"], provenance)


def generate_greedy(model, tokenizer, texts: Sequence[str], system: str, max_new_tokens: int = 80,
                    contexts: Sequence[str | None] | None = None, batch_size: int = 8) -> list[str]:
    """Greedy rewrites with transformers.generate (the reference the ONNX path is checked against)."""
    import torch

    model.eval()
    contexts = list(contexts or [None] * len(texts))
    eos = tokenizer.convert_tokens_to_ids(IM_END)
    out: list[str] = []
    old_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        for start in range(0, len(texts), batch_size):
            prompts = [render_prompt(t, c, system) for t, c in
                       zip(texts[start:start + batch_size], contexts[start:start + batch_size])]
            enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
            with torch.no_grad():
                ids = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eos,
                                     pad_token_id=tokenizer.pad_token_id)
            for row in ids[:, enc["input_ids"].shape[1]:]:
                out.append(tokenizer.decode(row, skip_special_tokens=True).strip())
    finally:
        tokenizer.padding_side = old_side
    return out


def prepare_trainable(model, config: RewriterLMConfig) -> dict[str, Any]:
    """Full fine-tuning (with the configured freezing) or LoRA adapters; returns parameter counts."""
    m = config.model
    if not m.lora_rank:
        return apply_freezing(model, config)
    from callinkit.train.lora import add_lora

    layers = add_lora(model, m.lora_rank, m.lora_alpha, m.lora_dropout, m.lora_targets)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"trainable_parameters": trainable, "total_parameters": total,
            "lora": {"rank": m.lora_rank, "alpha": m.lora_alpha, "dropout": m.lora_dropout, "layers": layers}}


def _adapter_callback(config: RewriterLMConfig):
    """A TrainerCallback that writes the adapters alone at each save, into `<stage>/adapters/step-N/`.

    Beside the checkpoints, not inside them: `save_total_limit` prunes old checkpoints, and the adapters of
    earlier epochs are what lets one compare epochs without keeping 540 MB per checkpoint."""
    from transformers import TrainerCallback

    from callinkit.train.lora import save_adapter

    class SaveAdapter(TrainerCallback):
        def on_save(self, args, state, control, model=None, **kwargs):
            if model is not None and state.is_world_process_zero:
                folder = Path(args.output_dir).parent / "adapters" / f"step-{state.global_step}"
                save_adapter(model, folder, config.model.lora_rank, config.model.lora_alpha)

    return SaveAdapter()


def run_stage(model, tokenizer, stage: LMStageConfig, config: RewriterLMConfig, stage_dir: Path,
              resume: bool) -> dict[str, Any]:
    import torch
    from transformers import Trainer, TrainingArguments

    preference = stage.objective == "preference"
    if preference:
        from callinkit.train import preference as pref

        enc = pref.encode_preference_stage(stage, config, tokenizer)
    else:
        enc = encode_stage(stage, config, tokenizer)
    params = prepare_trainable(model, config)
    if preference:  # the starting model's log-likelihoods (a new LoRA adapter starts as the identity)
        pref.reference_logps(model, enc.train + enc.validation, tokenizer.pad_token_id)
    checkpoints = stage_dir / "checkpoints"
    checkpoint = last_checkpoint(checkpoints) if resume else None
    args = TrainingArguments(
        output_dir=str(checkpoints),
        max_steps=-1 if stage.epochs else stage.max_steps,
        num_train_epochs=stage.epochs or 1.0,
        per_device_train_batch_size=per_process_batch(stage.batch_size, f"stages.{stage.name}.batch_size"),
        per_device_eval_batch_size=stage.batch_size * 2,  # per process: it only sets memory use
        gradient_accumulation_steps=stage.gradient_accumulation_steps,
        learning_rate=stage.learning_rate,
        weight_decay=stage.weight_decay,
        warmup_steps=stage.warmup_ratio,
        lr_scheduler_type="linear",
        logging_steps=stage.logging_steps,
        eval_strategy="steps",
        eval_steps=stage.eval_steps,
        save_strategy="steps",
        save_steps=stage.save_steps,
        save_total_limit=2,
        seed=config.seed,
        data_seed=config.seed,
        train_sampling_strategy="group_by_length" if stage.group_by_length and not preference else "random",
        use_cpu=not torch.cuda.is_available(),
        bf16=stage.bf16 and torch.cuda.is_available(),
        report_to="none",
        remove_unused_columns=False,
        ddp_find_unused_parameters=False,  # frozen parameters are not DDP's; every trainable one is used
    )
    check_trainer_world(args)
    if preference:
        trainer_class = type("PreferenceTrainer", (pref.preference_trainer_class(),),
                             {"beta": stage.beta, "sft_weight": stage.sft_weight})
        collator = pref.PairCollator(tokenizer.pad_token_id)
    else:
        trainer_class, collator = Trainer, Collator(tokenizer.pad_token_id)
    trainer = trainer_class(model=model, args=args, train_dataset=enc.train, eval_dataset=enc.validation,
                      data_collator=collator, processing_class=tokenizer,
                      callbacks=[_adapter_callback(config)] if config.model.lora_rank else None)
    started = time.perf_counter()
    result = train_with_signals(trainer, checkpoint, stage_dir / "checkpoints")
    if config.model.lora_rank:
        from callinkit.train.lora import merge_lora, save_adapter

        # The adapter alone (small enough to copy between machines), then fold it in: final/ is a plain model.
        if trainer.is_world_process_zero():
            save_adapter(model, stage_dir / "adapter", config.model.lora_rank, config.model.lora_alpha)
        merge_lora(model)  # every process: each one carries the model into the next stage
    info = finish_stage(trainer, result, time.perf_counter() - started, checkpoint, config, stage, stage_dir,
                        tokenizer, {**params, "data": enc.provenance})
    if not trainer.is_world_process_zero():
        return info
    rows = [r for r in enc.validation_rows if not r["source"].endswith(":copy")][:20]
    outs = generate_greedy(model, tokenizer, [r["call_out"] for r in rows], system_prompt(config),
                           config.generation.max_new_tokens, [r.get("context") for r in rows])
    with (stage_dir / "samples.jsonl").open("w", encoding="utf-8") as fh:
        for r, o in zip(rows, outs):
            fh.write(json.dumps({"source": r["call_out"], "reference": r["call_in"], "greedy": o},
                                ensure_ascii=False) + "\n")
    return info


def train(config: RewriterLMConfig, run_dir: Path | None = None, resume: bool = False) -> dict[str, Any]:
    """Run every stage in order (skipping finished stages when resuming); returns run_info."""
    from callinkit.train.lm_base import resolve_lm_base

    return run_stages(config, run_dir, resume, resolve_base=lambda: resolve_lm_base(config.model.base),
                      build=lambda base: load_lm(base.location), load_final=lambda folder: load_lm(str(folder)),
                      run_stage=run_stage, run_info={"system_prompt": system_prompt(config)})
