"""Preference tuning of rewriter v2 on blind judges' verdicts (direct preference optimisation, DPO).

The judges of `model_cards/judging/` rated the rewriter's own candidates good, acceptable or bad by
`../shared/LABELS.md`, and chose the better of two suggestions. Most of the rewriter's failures are fluent but
unfaithful text (an invented name, the wrong harm, a reversed concern) that the supervised loss cannot see:
it only raises the likelihood of the reference. A preference pair says which of two rewrites *of the same
call-out* is better, so training on pairs lowers the likelihood of the judged failure against the better text.

Pairs come only from judgements of **validation-split** call-outs (the corpus test split stays unseen: every
figure on it remains a held-out figure): for one call-out, every (rated good or acceptable, rated bad)
candidate pair, every (human reference, rated bad) pair, and every A/B choice whose ratings differ.

The loss (Rafailov et al. 2023) on one pair, with the response log-likelihoods summed over the response
tokens, the policy's and the frozen starting model's:

    -log sigmoid(beta * ((logp(chosen) - ref(chosen)) - (logp(rejected) - ref(rejected))))
    + sft_weight * (mean token NLL of the chosen)

The reference log-likelihoods are computed once, before the first step, by the starting model (in a LoRA
run the stage's new adapter starts as the identity, so that is the previous stage's model), so no second
model is held in memory.
"""

from __future__ import annotations

import collections
import json
import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

RATING = {"good": 2, "acceptable": 1, "bad": 0}


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _mean(ratings: Sequence[str]) -> float:
    return sum(RATING[r] for r in ratings) / len(ratings)


def judged_candidates(folder: Path) -> list[dict[str, Any]]:
    """Rated candidates of a judging folder with `items.jsonl` (source, candidate) and `verdicts_*.jsonl`
    (rating): one row per candidate with its mean rating (2 good, 1 acceptable, 0 bad)."""
    items = {r["id"]: r for r in _jsonl(folder / "items.jsonl")}
    ratings: dict[str, list[str]] = collections.defaultdict(list)
    for f in sorted(folder.glob("verdicts*.jsonl")):
        for v in _jsonl(f):
            if v.get("rating") in RATING and v["id"] in items:
                ratings[v["id"]].append(v["rating"])
    out = []
    for i, rs in ratings.items():
        it = items[i]
        text = it.get("candidate") or it.get("suggestion") or it.get("rewrite")
        if text:
            out.append({"source": it["source"], "context": it.get("context"), "text": text, "rating": _mean(rs),
                        "origin": f"{folder.name}/{i}"})
    return out


def judged_choices(folder: Path) -> list[dict[str, Any]]:
    """A/B items (`items_K.jsonl`: call_out, A, B) with `verdicts_K.jsonl` (rating_A, rating_B): one row per
    suggestion with its rating."""
    out = []
    for items_file in sorted(folder.glob("items_*.jsonl")):
        verdicts_file = folder / items_file.name.replace("items_", "verdicts_")
        if not verdicts_file.is_file():
            continue
        verdicts = {v["id"]: v for v in _jsonl(verdicts_file)}
        for it in _jsonl(items_file):
            v = verdicts.get(it["id"])
            if not v or "call_out" not in it:  # not an A/B item (a split of a one-candidate layout)
                continue
            for side in ("A", "B"):
                text, rating = it.get(side), v.get(f"rating_{side}")
                if text and rating in RATING:
                    out.append({"source": it["call_out"], "context": it.get("context"), "text": text,
                                "rating": float(RATING[rating]), "origin": f"{folder.name}/{items_file.stem}/{it['id']}"})
    return out


def preference_pairs(rated: Iterable[dict[str, Any]], references: dict[str, str], allowed_sources: set[str],
                     max_pairs_per_source: int = 12, seed: int = 42) -> list[dict[str, Any]]:
    """(chosen, rejected) pairs of rewrites of the same call-out.

    A candidate rated >= 1 (acceptable or good, averaged over judges) beats one rated < 0.5; the human
    reference beats every candidate rated < 0.5. Sources outside `allowed_sources` are refused (raise), so
    test-split judgements cannot leak into training. At most `max_pairs_per_source` pairs per call-out, so a
    call-out with many candidates does not dominate."""
    by_source: dict[str, dict[str, Any]] = {}
    for r in rated:
        if r["source"] not in allowed_sources:
            raise ValueError(f"judged call-out not in the allowed split: {r['source'][:80]!r} ({r['origin']})")
        entry = by_source.setdefault(r["source"], {"context": r.get("context"), "texts": {}})
        entry["texts"].setdefault(r["text"].strip(), []).append(r["rating"])
    rng = random.Random(seed)
    pairs = []
    for source, entry in sorted(by_source.items()):
        rated_texts = {t: sum(v) / len(v) for t, v in entry["texts"].items()}
        good = [t for t, v in rated_texts.items() if v >= 1.0]
        bad = [t for t, v in rated_texts.items() if v < 0.5]
        ref = references.get(source)
        if ref and ref.strip() not in rated_texts:
            good.append(ref.strip())
        found = [(g, b) for g in good for b in bad if g != b]
        rng.shuffle(found)
        for g, b in found[:max_pairs_per_source]:
            pairs.append({"source": source, "context": entry["context"], "chosen": g, "rejected": b})
    return pairs


def encode_pair(tokenizer, pair: dict[str, Any], max_length: int, system: str) -> dict[str, Any]:
    """The chosen and the rejected rewrite, each encoded as the supervised recipe encodes an example."""
    from callinkit.train.rewriter_lm import encode_example

    return {side: encode_example(tokenizer, pair["source"], pair[side], max_length, system, pair.get("context"))
            for side in ("chosen", "rejected")}


class PairCollator:
    """Stacks chosen then rejected rows into one right-padded batch of 2 x B (one forward pass per step), padded
    by the supervised recipe's Collator, with the reference log-likelihoods as `ref` once they are known."""

    def __init__(self, pad_id: int):
        from callinkit.train.rewriter_lm import Collator

        self.pad = Collator(pad_id)

    def __call__(self, features: Sequence[dict[str, Any]]):
        import torch

        batch = self.pad([f["chosen"] for f in features] + [f["rejected"] for f in features])
        if "ref_chosen" in features[0]:
            batch["ref"] = torch.tensor([f["ref_chosen"] for f in features] + [f["ref_rejected"] for f in features],
                                        dtype=torch.float32)
        return batch


def response_logps(model, input_ids, attention_mask, labels):
    """(sum of the response tokens' log-probabilities, their count) per row."""
    import torch

    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1].float()
    target = labels[:, 1:]
    mask = target != -100
    logp = torch.log_softmax(logits, dim=-1).gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (logp * mask).sum(-1), mask.sum(-1)


def dpo_loss(policy, counts, ref, beta: float, sft_weight: float):
    """(loss, stats) for a 2 x B batch laid out chosen rows first."""
    import torch

    b = policy.shape[0] // 2
    margin = (policy[:b] - ref[:b]) - (policy[b:] - ref[b:])
    loss = -torch.nn.functional.logsigmoid(beta * margin).mean()
    if sft_weight:
        loss = loss + sft_weight * (-(policy[:b] / counts[:b].clamp(min=1))).mean()
    margin = margin.detach()
    return loss, {"reward_margin": float((beta * margin).mean()), "pair_accuracy": float((margin > 0).float().mean())}


def reference_logps(model, dataset: list[dict[str, Any]], pad_id: int, batch_size: int = 8,
                    desc: str = "reference log-probabilities") -> None:
    """Adds ref_chosen / ref_rejected to every row, computed by `model` as it is now (eval mode, no grad)."""
    import torch
    from tqdm.auto import tqdm

    collate = PairCollator(pad_id)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in tqdm(range(0, len(dataset), batch_size), desc=desc, unit="batch"):
                rows = dataset[start:start + batch_size]
                batch = collate(rows)
                logps, _ = response_logps(model, batch["input_ids"].to(model.device),
                                          batch["attention_mask"].to(model.device), batch["labels"].to(model.device))
                n = len(rows)
                for i, row in enumerate(rows):
                    row["ref_chosen"], row["ref_rejected"] = float(logps[i]), float(logps[n + i])
    finally:
        model.train(was_training)


def preference_trainer_class():
    """A transformers Trainer whose loss is DPO's (with beta and sft_weight set as attributes)."""
    from transformers import Trainer

    class PreferenceTrainer(Trainer):
        beta: float = 0.1
        sft_weight: float = 0.0

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            ref = inputs.pop("ref")
            logps, counts = response_logps(model, inputs["input_ids"], inputs["attention_mask"], inputs["labels"])
            loss, stats = dpo_loss(logps, counts, ref.to(logps.device), self.beta, self.sft_weight)
            self._pref_stats = stats
            return (loss, {"logps": logps}) if return_outputs else loss

        def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
            import torch

            with torch.no_grad():
                inputs = self._prepare_inputs(inputs)
                loss = self.compute_loss(model, dict(inputs))
            return loss.detach(), None, None

        def log(self, logs, *args, **kwargs):
            stats = getattr(self, "_pref_stats", None)
            if stats and "loss" in logs:
                logs = {**logs, **{k: round(v, 4) for k, v in stats.items()}}
            return super().log(logs, *args, **kwargs)

    return PreferenceTrainer


def rated_rewrites(folder: Path) -> list[dict[str, Any]]:
    """Every rated rewrite of a judging folder, whichever of the two layouts it uses."""
    folder = Path(folder)
    if not folder.is_dir():
        from callinkit.errors import CallinkitError

        raise CallinkitError(f"preferences: {folder} is not a folder; give judging folders such as "
                             "model_cards/judging/2026-12-04-logprob")
    rows = judged_candidates(folder) if (folder / "items.jsonl").is_file() else []
    rows += judged_choices(folder)
    return rows


def encode_preference_stage(stage, config, tokenizer):
    """The stage's preference pairs, split by call-out into training and held-out pairs, encoded.

    Returns the same shape as `rewriter_lm.encode_stage` (train, validation, validation_rows, provenance)."""
    from callinkit.errors import CallinkitError
    from callinkit.train.rewriter_lm import _Encoded, stage_rows, system_prompt

    splits = stage_rows(stage, config)
    pairs_rows = [r for r in splits["validation"] if not r["source"].endswith(":copy")]
    references = {r["call_out"]: r["call_in"] for r in pairs_rows}
    rated = [r for folder in stage.preferences for r in rated_rewrites(Path(folder))]
    if not rated:
        raise CallinkitError(f"stage {stage.name}: the preference folders {list(stage.preferences)} hold no rated "
                             "rewrites (items*.jsonl with verdicts*.jsonl)")
    try:
        pairs = preference_pairs(rated, references, set(references), stage.max_pairs_per_source, config.seed)
    except ValueError as exc:
        raise CallinkitError(f"stage {stage.name}: {exc}. Preference pairs may only come from call-outs of the "
                             "stage's validation split, so that the test split stays unseen") from None
    sources = sorted({p["source"] for p in pairs})
    random.Random(config.seed).shuffle(sources)
    held = set(sources[: int(round(len(sources) * stage.heldout_fraction))])
    system = system_prompt(config)

    def encode(ps):
        return [encode_pair(tokenizer, p, config.model.max_length, system) for p in ps]

    train_pairs = [p for p in pairs if p["source"] not in held]
    held_pairs = [p for p in pairs if p["source"] in held]
    if not train_pairs or not held_pairs:
        raise CallinkitError(f"stage {stage.name}: {len(pairs)} preference pairs from {len(sources)} call-outs "
                             "leave no training or held-out pairs; add judged call-outs or change heldout_fraction")
    provenance = {"preferences": list(stage.preferences), "rated_rewrites": len(rated),
                  "pairs": {"train": len(train_pairs), "heldout": len(held_pairs)}, "call_outs": len(sources),
                  "heldout_call_outs": sorted(held),
                  "beta": stage.beta, "sft_weight": stage.sft_weight}
    return _Encoded(encode(train_pairs), encode(held_pairs), pairs_rows, provenance)
