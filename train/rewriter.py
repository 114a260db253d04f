"""The rewriter recipe: train the MiniLM-initialised BART in stages with Seq2SeqTrainer.

Each stage (e.g. detox on ParaDetox + copy pairs, then call-in on the corpus pairs) starts from the
previous stage's weights. The run folder:

    config.yaml                        merged config
    stages/<name>/checkpoints/         Trainer checkpoints (resume with --resume)
    stages/<name>/final/               the stage's last weights + tokenizer
    stages/<name>/loss_curve.png       training and validation loss
    stages/<name>/samples.jsonl        greedy rewrites of validation sources after the stage
    stages/<name>/stage_info.json      steps, wall time, losses
    best/                              the last stage's final weights (what `callinkit export` reads)
    run_info.json                      base model, data provenance, wall time per stage
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from callinkit.config import DataConfig, GenerationSettings, RewriterConfig, StageConfig
from callinkit.textproc import postprocess, protect
from callinkit.train.base_model import resolve_base_model
from callinkit.train.checkpoints import last_checkpoint, train_with_signals
from callinkit.train.distributed import check_trainer_world, per_process_batch
from callinkit.train.stages import finish_stage, run_stages


def encode_pair(tokenizer, source: str, target: str, max_source: int, max_target: int) -> dict[str, list[int]]:
    """Token ids for one (call-out, call-in) pair, with shared placeholders for protected spans.

    Labels are the target ids without the leading [CLS] and ending in [SEP]; BART shifts them right and
    prepends the decoder start ([CLS]) itself.
    """
    src = protect(source)
    tgt = protect(target, src.spans)
    enc = tokenizer(src.text, truncation=True, max_length=max_source, return_token_type_ids=False)
    labels = tokenizer(tgt.text, truncation=True, max_length=max_target + 1, return_token_type_ids=False)["input_ids"]
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "labels": labels[1:]}


def stage_data(stage: StageConfig, config: RewriterConfig, tokenizer) -> tuple[Any, Any, dict[str, Any]]:
    """(train Dataset, validation Dataset, provenance) for one stage."""
    import datasets

    from callinkit.train.data import build_splits

    data = DataConfig(sources=stage.sources, validation_fraction=config.validation_fraction,
                      test_fraction=config.test_fraction)
    splits = build_splits(stage.sources, data, "pairs", config.seed)
    m = config.model

    def encode(rows: Sequence[dict[str, Any]]):
        encoded = [encode_pair(tokenizer, r["call_out"], r["call_in"], m.max_source_length, m.max_target_length)
                   for r in rows]
        return datasets.Dataset.from_dict({k: [e[k] for e in encoded] for k in ("input_ids", "attention_mask", "labels")})

    validation = splits["validation"][: stage.validation_examples]
    provenance = {
        "sources": [{"name": s.name, "path": s.path, "weight": s.weight, "mode": s.mode} for s in stage.sources],
        "rows": {k: len(v) for k, v in splits.items()},
        "train_rows_by_source": _count(splits["train"], "source"),
    }
    return encode(splits["train"]), encode(validation), provenance


def _count(rows: Sequence[dict[str, Any]], key: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        out[r[key]] = out.get(r[key], 0) + 1
    return out


def make_optimizer(model, stage: StageConfig):
    """AdamW with the cross-attention on its own (scaled) learning rate; no decay on biases and norms."""
    import torch

    groups: dict[tuple[bool, bool], list] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        cross = ".encoder_attn" in name
        no_decay = name.endswith("bias") or "layer_norm" in name or "layernorm" in name
        groups.setdefault((cross, no_decay), []).append(param)
    param_groups = [{"params": params, "lr": stage.learning_rate * (stage.cross_attention_lr_scale if cross else 1.0),
                     "weight_decay": 0.0 if no_decay else stage.weight_decay}
                    for (cross, no_decay), params in groups.items()]
    return torch.optim.AdamW(param_groups, lr=stage.learning_rate)


def freeze_encoder(model) -> None:
    """Keep the encoder (and the embeddings it shares) identical to the base model."""
    for param in model.model.encoder.parameters():
        param.requires_grad = False
    model.model.shared.weight.requires_grad = False


def torch_generate(model, tokenizer, texts: Sequence[str], gen: GenerationSettings, max_source: int,
                   num_beams: int | None = None, num_return: int = 1, batch_size: int = 16) -> list[list[str]]:
    """Rewrites of `texts` with transformers.generate, post-processed like the ONNX path (list per text)."""
    import torch

    model.eval()
    out: list[list[str]] = []
    beams = num_beams or gen.num_beams
    for start in range(0, len(texts), batch_size):
        chunk = list(texts[start:start + batch_size])
        protected = [protect(t) for t in chunk]
        enc = tokenizer([p.text for p in protected], padding=True, truncation=True, max_length=max_source,
                        return_tensors="pt", return_token_type_ids=False)
        with torch.no_grad():
            ids = model.generate(**enc, num_beams=max(beams, num_return), num_return_sequences=num_return,
                                 max_new_tokens=gen.max_new_tokens, no_repeat_ngram_size=gen.no_repeat_ngram_size,
                                 repetition_penalty=gen.repetition_penalty, do_sample=False, early_stopping=True)
        for i, (source, p) in enumerate(zip(chunk, protected)):
            rows = ids[i * num_return:(i + 1) * num_return]
            out.append([postprocess(tokenizer.convert_ids_to_tokens(_strip(r.tolist(), tokenizer)), source, p.spans)
                        for r in rows])
    return out


def _strip(ids: list[int], tokenizer) -> list[int]:
    """Drop the decoder start, stop at eos, drop padding."""
    special = {tokenizer.cls_token_id, tokenizer.pad_token_id}
    out = []
    for i in ids:
        if i == tokenizer.sep_token_id:
            break
        if i not in special:
            out.append(i)
    return out


def run_stage(model, tokenizer, stage: StageConfig, config: RewriterConfig, stage_dir: Path,
              resume: bool) -> dict[str, Any]:
    """Train one stage in place on `model`; write its final weights, curve, samples and info."""
    import torch
    from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments

    train_ds, val_ds, provenance = stage_data(stage, config, tokenizer)
    checkpoints = stage_dir / "checkpoints"
    checkpoint = last_checkpoint(checkpoints) if resume else None
    if config.model.freeze_encoder:
        freeze_encoder(model)
    args = Seq2SeqTrainingArguments(
        output_dir=str(checkpoints),
        max_steps=stage.max_steps,
        per_device_train_batch_size=per_process_batch(stage.batch_size, f"stages.{stage.name}.batch_size"),
        per_device_eval_batch_size=stage.batch_size * 2,  # per process: it only sets memory use
        learning_rate=stage.learning_rate,
        warmup_steps=stage.warmup_ratio,
        lr_scheduler_type="linear",
        label_smoothing_factor=stage.label_smoothing,
        logging_steps=stage.logging_steps,
        eval_strategy="steps",
        eval_steps=stage.eval_steps,
        save_strategy="steps",
        save_steps=stage.save_steps,
        save_total_limit=2,
        seed=config.seed,
        data_seed=config.seed,
        train_sampling_strategy="group_by_length",
        use_cpu=not torch.cuda.is_available(),
        report_to="none",
        predict_with_generate=False,
    )
    check_trainer_world(args)
    trainer = Seq2SeqTrainer(
        model=model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
        data_collator=DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100),
        processing_class=tokenizer, optimizers=(make_optimizer(model, stage), None),
    )
    started = time.perf_counter()
    result = train_with_signals(trainer, checkpoint, stage_dir / "checkpoints")
    info = finish_stage(trainer, result, time.perf_counter() - started, checkpoint, config, stage, stage_dir,
                        tokenizer, {"data": provenance})
    if trainer.is_world_process_zero():
        _write_samples(model, tokenizer, config, stage, stage_dir)
    return info


def _write_samples(model, tokenizer, config: RewriterConfig, stage: StageConfig, stage_dir: Path, n: int = 20) -> None:
    from callinkit.train.data import build_splits

    data = DataConfig(sources=stage.sources, validation_fraction=config.validation_fraction,
                      test_fraction=config.test_fraction)
    rows = [r for r in build_splits(stage.sources, data, "pairs", config.seed)["validation"]
            if not r["source"].endswith(":copy")][:n]
    outputs = torch_generate(model, tokenizer, [r["call_out"] for r in rows], config.generation,
                             config.model.max_source_length, num_beams=1)
    with (stage_dir / "samples.jsonl").open("w", encoding="utf-8") as fh:
        for r, out in zip(rows, outputs):
            fh.write(json.dumps({"source": r["call_out"], "reference": r["call_in"], "greedy": out[0]},
                                ensure_ascii=False) + "\n")


def train(config: RewriterConfig, run_dir: Path | None = None, resume: bool = False) -> dict[str, Any]:
    """Run every stage in order (skipping stages already finished when resuming); returns run_info."""
    from callinkit.train.rewriter_model import build_rewriter, load_rewriter_checkpoint

    return run_stages(
        config, run_dir, resume, resolve_base=lambda: resolve_base_model(config.model.base),
        build=lambda base: build_rewriter(base.location, config.model.encoder_layers, config.model.decoder_layers),
        load_final=load_rewriter_checkpoint, run_stage=run_stage)
