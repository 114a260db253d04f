"""The classifier recipe: fine-tune MiniLM for call_out / call_in / neutral with the Hugging Face Trainer.

setup() builds tokenizer, model and tokenized data from a ClassifierConfig; train() runs the Trainer
(accelerate underneath, so `accelerate launch -m callinkit train ...` runs it on several processes, GPUs or
CPUs: see `callinkit.train.distributed`); save() writes the run folder, from the main process only:

    config.yaml               merged config (file + overrides)
    checkpoints/checkpoint-N  Trainer checkpoints every save_steps (resume with --resume)
    best/                     best checkpoint by validation macro-F1 (model + tokenizer)
    metrics/<split>.json      metrics per split (and the test split's unseen-topic slice)
    confusion_matrix.json/png on the test split (validation when there is no test split)
    loss_curve.png            training and validation loss
    run_info.json             base-model and data provenance, timings, calibration temperature
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from callinkit.config import ClassifierConfig, config_to_yaml
from callinkit.errors import CallinkitError
from callinkit.train.base_model import BaseModel, resolve_base_model
from callinkit.train.checkpoints import (
    check_writable,
    checkpoint_bytes,
    last_checkpoint,
    train_with_signals,
    write_text_atomic,
)
from callinkit.train.distributed import (
    check_launch,
    check_trainer_world,
    is_main_process,
    per_process_batch,
    world_size,
)
from callinkit.train.evaluation import (
    choose_uncertain_threshold,
    classification_metrics,
    fit_temperature,
    format_table,
    torch_logits,
)
from callinkit.train.plots import plot_confusion_matrix, plot_loss_curve


@dataclass
class Setup:
    config: ClassifierConfig
    run_dir: Path
    base: BaseModel
    tokenizer: Any
    model: Any
    data: Any  # tokenized DatasetDict
    raw_data: Any  # DatasetDict before tokenization (text kept for reports)


def balance_by_oversampling(dataset, seed: int):
    """Repeat rows of the smaller classes (seeded) until every class has as many rows as the largest."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(dataset["label"])
    counts = Counter(labels.tolist())
    target = max(counts.values())
    index = [np.arange(len(labels))]
    for label, count in counts.items():
        rows = np.flatnonzero(labels == label)
        if count < target:
            index.append(rng.choice(rows, size=target - count, replace=True))
    return dataset.select(np.concatenate(index).tolist())


def balance_sources(dataset, source_balance: float, seed: int):
    """Resample rows so each source's share is proportional to n ** (1 - source_balance) (n: its rows), with
    the same total (up to rounding): 0 returns `dataset` unchanged, 1 gives every source as many rows.
    A source above its target keeps a seeded sample of its rows; one below repeats all of them and then a
    seeded sample. Needs a `source` column."""
    if source_balance == 0:
        return dataset
    rng = np.random.default_rng(seed)
    sources = np.asarray(dataset["source"])
    names, counts = np.unique(sources, return_counts=True)  # sorted: the same seed gives the same rows
    share = counts.astype(np.float64) ** (1.0 - source_balance)
    targets = np.maximum(1, np.round(share / share.sum() * counts.sum()).astype(np.int64))
    index = []
    for name, count, target in zip(names, counts, targets):
        rows = np.flatnonzero(sources == name)
        whole, rest = divmod(int(target), int(count))
        index += [rows] * whole
        if rest:
            index.append(np.sort(rng.choice(rows, size=rest, replace=False)))
    return dataset.select(np.concatenate(index).tolist())


def setup(config: ClassifierConfig, run_dir: Path) -> Setup:
    """Resolve the base model, load and tokenize the data, and build the model."""
    from transformers import AutoTokenizer, set_seed

    from callinkit.train.data import load_classification_data

    set_seed(config.training.seed)
    base = resolve_base_model(config.model.base)
    labels = list(config.labels)
    raw = load_classification_data(config.data, labels, config.training.seed)
    raw["train"] = balance_sources(raw["train"], config.training.source_balance, config.training.seed)
    if config.training.imbalance == "sampling":
        raw["train"] = balance_by_oversampling(raw["train"], config.training.seed)
    tokenizer = AutoTokenizer.from_pretrained(base.location)

    def tokenize(batch):
        return tokenizer(batch["text"], truncation=True, max_length=config.model.max_length,
                         return_token_type_ids=False)

    data = raw.map(tokenize, batched=True, remove_columns=["text", "source", "unseen_topic"],
                   desc="tokenizing")
    kwargs: dict[str, Any] = {}
    if config.model.dropout is not None:
        kwargs["hidden_dropout_prob"] = config.model.dropout
    model = load_with_new_head(base.location, num_labels=len(labels), id2label=dict(enumerate(labels)),
                               label2id={name: i for i, name in enumerate(labels)}, **kwargs)
    return Setup(config, run_dir, base, tokenizer, model, data, raw)


HEAD_KEYS = {"classifier.weight", "classifier.bias"}


def load_with_new_head(location: str, **kwargs):
    """The base encoder with a fresh classification head. transformers prints a "LOAD REPORT ... MISSING" table
    for the head, which is expected (training learns it); say that in one line instead, and still show the
    report when anything other than the head is missing or unexpected."""
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        model, info = AutoModelForSequenceClassification.from_pretrained(location, output_loading_info=True, **kwargs)
    finally:
        hf_logging.set_verbosity(previous)
    surprising = {k: sorted(set(info.get(k) or ()) - HEAD_KEYS) for k in ("missing_keys", "unexpected_keys",
                                                                        "mismatched_keys")}
    if any(surprising.values()):
        print(f"warning: loading {location}: " + "; ".join(f"{k}: {v}" for k, v in surprising.items() if v))
    print(f"base model {location}: a new classification head ({', '.join(sorted(HEAD_KEYS))}) is initialised; "
          "training learns it (transformers' MISSING report for it is expected and hidden)")
    return model


def class_weights(train_labels: list[int], n: int) -> np.ndarray:
    """Inverse-frequency weights normalised to mean 1 (a missing class gets weight 1)."""
    counts = np.bincount(np.asarray(train_labels, dtype=np.int64), minlength=n).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / (n * np.maximum(counts, 1)), 1.0)
    return weights / weights.mean()


def make_trainer(s: Setup):
    """A Trainer with dynamic padding, length grouping, imbalance handling and early stopping."""
    import torch
    from transformers import DataCollatorWithPadding, EarlyStoppingCallback, Trainer, TrainingArguments

    t = s.config.training
    labels = list(s.config.labels)
    best_metric = "eval_loss" if t.metric_for_best_model == "loss" else f"eval_{t.metric_for_best_model}"
    args = TrainingArguments(
        output_dir=str(s.run_dir / "checkpoints"),
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        per_device_train_batch_size=per_process_batch(t.batch_size),
        per_device_eval_batch_size=t.eval_batch_size,  # per process: it only sets memory use
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        warmup_steps=t.warmup_ratio,
        lr_scheduler_type="linear",
        seed=t.seed,
        data_seed=t.seed,
        logging_steps=t.logging_steps,
        eval_strategy="steps",
        eval_steps=t.eval_steps,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=t.save_total_limit,
        load_best_model_at_end=True,
        metric_for_best_model=best_metric,
        greater_is_better=t.metric_for_best_model != "loss",
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        use_cpu=t.device == "cpu" or (t.device == "auto" and not torch.cuda.is_available()),
        report_to="none",
        dataloader_num_workers=0,
        ddp_find_unused_parameters=False,  # every parameter is used; the extra autograd pass only costs time
        # Our loss is each process's mean over its own examples, and DDP averages those. With the default (True)
        # the Trainer multiplies every loss by the number of processes, which is right only for losses divided
        # by the global count of items: ours would double (two processes) the gradients and the logged losses.
        average_tokens_across_devices=False,
    )
    check_trainer_world(args)
    if t.device == "cuda" and not torch.cuda.is_available():
        raise CallinkitError("training.device is 'cuda' but PyTorch sees no CUDA device; use 'auto' or 'cpu'")

    compute_loss_func = None
    if t.imbalance == "class_weights":
        compute_loss_func = weighted_cross_entropy(class_weights(s.data["train"]["label"], len(labels)))

    def compute_metrics(eval_pred) -> dict[str, float]:
        from callinkit.scoring import softmax

        logits, refs = eval_pred.predictions, eval_pred.label_ids
        report = classification_metrics(softmax(logits), refs, labels)
        return {k: v for k, v in report.items() if isinstance(v, float)}

    callbacks = []
    if t.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=t.early_stopping_patience))
    trainer = Trainer(
        model=s.model,
        args=args,
        train_dataset=s.data["train"],
        eval_dataset=s.data["validation"],
        data_collator=DataCollatorWithPadding(s.tokenizer),
        processing_class=s.tokenizer,
        compute_loss_func=compute_loss_func,
        compute_metrics=compute_metrics,
        callbacks=callbacks,
    )
    if compute_loss_func is not None:
        # Our loss is a mean over the micro-batch, not a sum over the accumulated batch's items: let the Trainer
        # divide it by gradient_accumulation_steps (it assumes otherwise for a compute_loss_func).
        trainer.loss_is_scaled_for_ga = False
    return trainer


def weighted_cross_entropy(weights: np.ndarray):
    """The Trainer's `compute_loss_func` for class weights: PyTorch's weighted mean cross-entropy over the batch.

    With several processes each one holds part of the batch; it divides its weighted sum by the weight total
    of every process (one all-reduce of a scalar per step) times the number of processes, which DDP's gradient
    averaging then undoes, so N processes take the step one process would take on the whole batch. Evaluation
    (no gradients) keeps the per-process mean and makes no collective call."""
    import torch
    import torch.distributed as dist

    weight = torch.tensor(weights, dtype=torch.float32)

    def compute_loss_func(outputs, targets, num_items_in_batch=None):
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
        w = weight.to(logits.device)
        if torch.is_grad_enabled() and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            weighted_sum = torch.nn.functional.cross_entropy(logits, targets, weight=w, reduction="sum")
            weight_total = w[targets].sum().detach()
            dist.all_reduce(weight_total)
            return weighted_sum * dist.get_world_size() / weight_total
        return torch.nn.functional.cross_entropy(logits, targets, weight=w)

    return compute_loss_func


def train(config: ClassifierConfig, run_dir: Path | None = None, resume: bool = False) -> dict[str, Any]:
    """Run the recipe end to end and write the run folder; returns the metrics per split (on the main process;
    the other processes of a multi-process launch return {} once training is done)."""
    check_launch()
    run_dir = Path(run_dir or config.run_dir)
    main = is_main_process()
    checkpoint = None
    if resume:
        checkpoint = last_checkpoint(run_dir / "checkpoints")
        if checkpoint is None:
            raise CallinkitError(f"--resume: {run_dir}/checkpoints has no checkpoint to resume from")
        step, max_steps = int(checkpoint.name.rsplit("-", 1)[-1]), config.training.max_steps
        if 0 < max_steps <= step and (run_dir / "run_info.json").is_file():
            # The Trainer would train one step past max_steps when resumed from its final checkpoint.
            raise CallinkitError(f"--resume: {run_dir} already finished ({step} of {max_steps} steps; best/ and "
                                 "metrics/ are written): nothing to resume. Train again into a new run_dir")
        saved = run_dir / "config.yaml"
        if saved.is_file() and saved.read_text(encoding="utf-8") != config_to_yaml(config):
            raise CallinkitError(f"--resume: the config differs from the one saved in {saved}; resume with "
                                 "the same config and overrides, or start a new run_dir")
    elif (run_dir / "checkpoints").exists() and any((run_dir / "checkpoints").iterdir()):
        raise CallinkitError(f"{run_dir} already has checkpoints; pass --resume to continue, or choose "
                             "another run_dir (e.g. run_dir=runs/new)")
    if main:
        check_writable(run_dir)
        # Atomic: the other processes of a resumed launch may be reading it for the check above.
        write_text_atomic(run_dir / "config.yaml", config_to_yaml(config))

    s = setup(config, run_dir)
    if main:
        check_writable(run_dir, checkpoint_bytes(s.model, config.training.save_total_limit or 2))
    trainer = make_trainer(s)
    started = time.perf_counter()
    result = train_with_signals(trainer, checkpoint, run_dir / "checkpoints")
    seconds = time.perf_counter() - started
    if not trainer.is_world_process_zero():
        return {}
    return save(s, trainer, seconds, result.global_step)


def save(s: Setup, trainer, train_seconds: float, steps: int) -> dict[str, Any]:
    """Write the best checkpoint, calibrated metrics per split, the plots and the provenance."""
    from callinkit.scoring import softmax

    run_dir, labels = s.run_dir, list(s.config.labels)
    max_length = s.config.model.max_length
    logits = {split: torch_logits(trainer.model, s.tokenizer, s.raw_data[split]["text"], max_length)
              for split in ("validation", "test") if len(s.raw_data[split])}
    val_logits = logits["validation"]
    temperature = fit_temperature(val_logits, s.data["validation"]["label"])
    trainer.model.config.callinkit_temperature = temperature
    uncertainty = choose_uncertain_threshold(softmax(val_logits, temperature), s.data["validation"]["label"])
    best = run_dir / "best"
    trainer.save_model(str(best))
    s.tokenizer.save_pretrained(str(best))

    metrics_dir = run_dir / "metrics"
    metrics_dir.mkdir(exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    for split, split_logits in logits.items():
        probs = softmax(split_logits, temperature)
        refs = s.data[split]["label"]
        results[split] = classification_metrics(probs, refs, labels)
        unseen = np.asarray(s.raw_data[split]["unseen_topic"], dtype=bool)
        if unseen.any():
            results[f"{split}:unseen_topics"] = classification_metrics(
                probs[unseen], np.asarray(refs)[unseen], labels)
    for name, m in results.items():
        (metrics_dir / f"{name.replace(':', '_')}.json").write_text(json.dumps(m, indent=2) + "\n")
    report_split = "test" if "test" in results else "validation"
    cm = results[report_split]["confusion_matrix"]
    (run_dir / "confusion_matrix.json").write_text(
        json.dumps({"split": report_split, "labels": labels, "matrix": cm}, indent=2) + "\n")
    plot_confusion_matrix(cm, labels, run_dir / "confusion_matrix.png",
                          title=f"{s.config.name}: {report_split} split")
    plot_loss_curve(trainer.state.log_history, run_dir / "loss_curve.png", title=f"{s.config.name}: loss")
    (run_dir / "log_history.json").write_text(json.dumps(trainer.state.log_history, indent=2) + "\n")
    n_train = len(s.data["train"])
    info = {
        "name": s.config.name,
        "base_model": s.base.provenance(),
        "data": {
            "sources": [{"name": src.name, "path": src.path, "weight": src.weight} for src in s.config.data.sources],
            "rows": {split: len(s.data[split]) for split in s.data},
            "train_label_counts": {labels[k]: v for k, v in sorted(Counter(s.data["train"]["label"]).items())},
            # after source_balance and class sampling; the Trainer's tokenized data no longer has the column
            "train_source_counts": dict(sorted(Counter(s.raw_data["train"]["source"]).items())),
        },
        "training": {"steps": steps, "seconds": round(train_seconds, 1), "processes": world_size(),
                     "seconds_per_1k_examples": round(
                         train_seconds / max(1, steps * s.config.training.batch_size) * 1000, 2),
                     "train_rows": n_train},
        "temperature": temperature,
        "uncertainty": uncertainty,
        "best_checkpoint": trainer.state.best_model_checkpoint,
    }
    (run_dir / "run_info.json").write_text(json.dumps(info, indent=2) + "\n")
    print(format_table(results, labels))
    print(f"run folder: {run_dir}")
    return results
