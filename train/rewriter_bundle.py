"""Write a rewriter bundle: ONNX graphs checked against PyTorch, tokenizer, generation settings, and the
reranking models (a classifier bundle and the similarity embedder) in subfolders. Written atomically.

Checks, all recorded in the manifest:
  - teacher-forced logits through the cached decoder vs BartForConditionalGeneration (max |diff| <= atol);
  - greedy outputs of the numpy/onnxruntime decoder token-identical to `model.generate` on a fixed set;
  - int8: share of greedy outputs identical to fp32 and their chrF against fp32 (quality check).
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from callinkit import __version__
from callinkit.bundle import BASE_FORMAT_VERSION as FORMAT_VERSION
from callinkit.bundle import (
    FORMAT_NAME,
    MANIFEST,
    atomic_directory,
    read_manifest,
    write_json,
)
from callinkit.errors import CallinkitError
from callinkit.train.rewriter_export import (
    CHECK_SOURCES,
    DECODER_FILE,
    ENCODER_FILE,
    export_embedder,
    export_rewriter_graphs,
    share_initializers,
)


class RewriterExportError(CallinkitError):
    """The exported rewriter disagrees with PyTorch."""


def _graphs(folder: Path, model, tokenizer):
    import onnxruntime as ort

    from callinkit.serve.generation import Seq2SeqGraphs

    cfg = model.config
    opts = ["CPUExecutionProvider"]
    return Seq2SeqGraphs(ort.InferenceSession(str(folder / ENCODER_FILE), providers=opts),
                         ort.InferenceSession(str(folder / DECODER_FILE), providers=opts),
                         n_layers=cfg.decoder_layers, heads=cfg.decoder_attention_heads,
                         head_dim=cfg.d_model // cfg.decoder_attention_heads, start_id=tokenizer.cls_token_id,
                         eos_id=tokenizer.sep_token_id, pad_id=tokenizer.pad_token_id)


def _encode(tokenizer, texts: list[str], max_length: int) -> tuple[np.ndarray, np.ndarray]:
    from callinkit.textproc import protect

    enc = tokenizer([protect(t).text for t in texts], padding=True, truncation=True, max_length=max_length,
                    return_tensors="np", return_token_type_ids=False)
    return enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(np.int64)


def torch_greedy_ids(model, ids: np.ndarray, mask: np.ndarray, settings) -> list[list[int]]:
    """Greedy ids from transformers' generate with the same logits processors (start and eos dropped)."""
    import torch

    with torch.no_grad():
        out = model.generate(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), num_beams=1,
                             do_sample=False, max_new_tokens=settings.max_new_tokens,
                             repetition_penalty=settings.repetition_penalty,
                             no_repeat_ngram_size=settings.no_repeat_ngram_size)
    eos, pad, start = model.config.eos_token_id, model.config.pad_token_id, model.config.decoder_start_token_id
    rows = []
    for row in out.tolist():
        ids_ = []
        for t in row[1:] if row and row[0] == start else row:
            if t == eos:
                break
            if t != pad:
                ids_.append(t)
        rows.append(ids_)
    return rows


def teacher_forced_diff(graphs, model, ids: np.ndarray, mask: np.ndarray, targets: list[list[int]]) -> float:
    """Max |logit diff| between the cached ONNX decoder stepped token by token and the PyTorch forward."""
    from callinkit.train.rewriter_export import reference_logits

    width = max(1, max(len(t) for t in targets))
    dec = np.full((len(targets), width + 1), graphs.pad_id, dtype=np.int64)
    dec[:, 0] = graphs.start_id
    for r, t in enumerate(targets):
        dec[r, 1:len(t) + 1] = t
    ref = reference_logits(model, ids, mask, dec)
    cross = graphs.encode(ids, mask)
    past = graphs.empty_past(len(targets))
    worst = 0.0
    for step in range(dec.shape[1]):
        logits, past = graphs.step(dec[:, step:step + 1], mask, past, cross)
        worst = max(worst, float(np.abs(logits - ref[:, step]).max()))
    return worst


def export_rewriter(run_dir: Path, out_dir: Path, quantize: str | None = None, classifier_bundle: str | None = None,
                    overwrite: bool = False, extra_sources: list[str] | None = None,
                    with_embedder: bool = True) -> dict[str, Any]:
    """Export `run_dir/best` to a rewriter bundle in `out_dir`; returns the manifest."""
    import yaml
    from sacrebleu.metrics import CHRF

    from callinkit.config import config_from_dict
    from callinkit.serve.generation import DecodeSettings, greedy
    from callinkit.train.export import quantize_int8, sha256
    from callinkit.train.rewriter_model import load_rewriter_checkpoint

    best = run_dir / "best"
    if not (best / "config.json").is_file():
        raise CallinkitError(f"{run_dir} has no trained rewriter in best/; run `callinkit train` first")
    config = config_from_dict(yaml.safe_load((run_dir / "config.yaml").read_text()), str(run_dir / "config.yaml"))
    quantize = quantize or config.export.quantize
    classifier_bundle = classifier_bundle or config.export.classifier_bundle
    if classifier_bundle:
        read_manifest(classifier_bundle, kind="classifier")
    model, tokenizer = load_rewriter_checkpoint(best, attn_implementation="eager")
    model.eval()
    gen = config.generation
    greedy_settings = DecodeSettings(max_new_tokens=gen.max_new_tokens, num_beams=1,
                                     repetition_penalty=gen.repetition_penalty,
                                     no_repeat_ngram_size=gen.no_repeat_ngram_size)
    sources = CHECK_SOURCES + list(extra_sources or [])
    ids, mask = _encode(tokenizer, sources, config.model.max_source_length)
    started = time.perf_counter()
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:
        export_rewriter_graphs(model, tmp, config.export.opset)
        graphs = _graphs(tmp, model, tokenizer)
        want = torch_greedy_ids(model, ids, mask, greedy_settings)
        got = [h.token_ids for h in greedy(graphs, ids, mask, greedy_settings)]
        identical = sum(a == b for a, b in zip(want, got))
        diff = teacher_forced_diff(graphs, model, ids[:4], mask[:4], want[:4])
        validation: dict[str, Any] = {"check_examples": len(sources), "greedy_identical_to_pytorch": identical,
                                      "teacher_forced_max_abs_logit_diff": diff, "atol": config.export.atol}
        if diff > config.export.atol:
            raise RewriterExportError(f"decoder logits differ from PyTorch by {diff:.3g} (> atol {config.export.atol:g})")
        if identical != len(sources):
            bad = next(i for i, (a, b) in enumerate(zip(want, got)) if a != b)
            raise RewriterExportError(f"greedy ONNX output differs from transformers.generate on {len(sources) - identical}"
                                      f" of {len(sources)} sources (first: {sources[bad]!r})")
        if quantize == "int8":
            for name in (ENCODER_FILE, DECODER_FILE):
                q = tmp / f"{name}.int8"
                quantize_int8(tmp / name, q)
                q.replace(tmp / name)
            q_got = [h.token_ids for h in greedy(_graphs(tmp, model, tokenizer), ids, mask, greedy_settings)]
            decode = tokenizer.decode
            chrf = CHRF().corpus_score([decode(t) for t in q_got], [[decode(t) for t in got]]).score
            validation.update({"int8_greedy_identical_to_fp32": sum(a == b for a, b in zip(got, q_got)),
                               "int8_chrf_vs_fp32": round(chrf, 2)})
        last = q_got if quantize == "int8" else got
        saved = share_initializers([tmp / ENCODER_FILE, tmp / DECODER_FILE])
        if saved:  # the tied word embeddings, stored once for both graphs
            shared = [h.token_ids for h in greedy(_graphs(tmp, model, tokenizer), ids, mask, greedy_settings)]
            if shared != last:
                raise RewriterExportError("graphs with shared weights decode differently; this is a bug")
        validation["shared_weight_bytes"] = saved
        tokenizer.save_pretrained(tmp)
        model.config.save_pretrained(tmp)
        model.generation_config.save_pretrained(tmp)
        shutil.copy(run_dir / "config.yaml", tmp / "training_config.yaml")
        info = json.loads((run_dir / "run_info.json").read_text()) if (run_dir / "run_info.json").is_file() else {}
        metrics_file = run_dir / "metrics.json"
        metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
        write_json(tmp / "metrics.json", metrics)
        if classifier_bundle:
            shutil.copytree(classifier_bundle, tmp / "classifier")
        if with_embedder:
            export_embedder(tmp / "embedder", quantize, config.export.opset)
        cfg = model.config
        manifest = {
            "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "kind": "rewriter", "name": config.name,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "callinkit_version": __version__,
            "files_layout": {"encoder": ENCODER_FILE, "decoder": DECODER_FILE},
            "decoder_layers": cfg.decoder_layers, "encoder_layers": cfg.encoder_layers,
            "heads": cfg.decoder_attention_heads, "head_dim": cfg.d_model // cfg.decoder_attention_heads,
            "decoder_start_token_id": cfg.decoder_start_token_id, "eos_token_id": cfg.eos_token_id,
            "pad_token_id": cfg.pad_token_id, "max_source_length": config.model.max_source_length,
            "generation": {"num_beams": gen.num_beams, "num_candidates": gen.num_candidates,
                           "max_new_tokens": gen.max_new_tokens, "no_repeat_ngram_size": gen.no_repeat_ngram_size,
                           "repetition_penalty": gen.repetition_penalty},
            "quantization": quantize, "opset": config.export.opset,
            "reranking": {"classifier": "classifier/" if classifier_bundle else None,
                          "embedder": "embedder/" if with_embedder else None},
            "base_model": info.get("base_model"), "training": info.get("stages"), "validation": validation,
            "metrics": metrics, "export_seconds": round(time.perf_counter() - started, 1),
        }
        if config.export.min_model_score is not None:
            manifest["guard"] = {"min_model_score": config.export.min_model_score}
        manifest["files"] = {p.name: sha256(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        write_json(tmp / MANIFEST, manifest)
    return manifest
