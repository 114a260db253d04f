"""Export a trained classifier run to a self-describing ONNX bundle, checked against PyTorch.

Why torch.onnx (dynamo) and not optimum: optimum-onnx 0.1.0 requires transformers<4.58 and does not import
beside transformers 5.x. We keep optimum's layout instead (model.onnx with input_ids / attention_mask ->
logits, config.json with id2label, tokenizer.json), so tools that know that layout load the bundle.
The model is reloaded from the run's `best/` folder, so the export never sees in-process training state.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from callinkit import __version__
from callinkit.bundle import BASE_FORMAT_VERSION as FORMAT_VERSION
from callinkit.bundle import FORMAT_NAME, MANIFEST, atomic_directory, write_json
from callinkit.bundle import file_sha256 as sha256
from callinkit.errors import CallinkitError

# A fixed batch for parity checks: short and long, each label, casing, emoji, an empty string.
CHECK_TEXTS = [
    "",
    "ok",
    "You absolute clown, delete this before everyone sees how dumb you are.",
    "Hey, I don't think you meant it this way, but that word hurts disabled people. Could you swap it?",
    "The bus is late AGAIN and I'm soaked. Great Monday.",
    "@maria_k that stat about vaccines isn't in the CDC link you posted; here's the page it came from.",
    "WOW. so brave of you to post this. #cancelled",
    "I think the new zoning policy will raise rents, and I'd rather we fund transit first.",
    "Thank you all for the birthday wishes 🎉🎂 best community ever",
    "nobody asked you, log off forever",
    "Quick question about the assignment: is the deadline Friday or Monday?",
    "I noticed your slides didn't have captions; our deaf colleagues couldn't follow. Happy to help add them.",
    " ".join(["this is a very long message that keeps going"] * 30),
]


class ExportError(CallinkitError):
    """The exported graph disagrees with PyTorch past tolerance, or the export failed."""


def _encode(tokenizer, texts: list[str], max_length: int) -> dict[str, np.ndarray]:
    enc = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="np",
                    return_token_type_ids=False)
    return {"input_ids": enc["input_ids"].astype(np.int64), "attention_mask": enc["attention_mask"].astype(np.int64)}


@contextmanager
def quiet_onnx_export() -> Iterator[None]:
    """Hide the exporter's expected noise: "torchvision is not installed" (it only skips torchvision's ops),
    a FutureWarning from torch's own pytree code, and "the axis name ... will not be used" for axes that share
    a shape constraint. Real errors still raise."""
    import logging
    import warnings

    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*treespec, LeafSpec.*", category=FutureWarning)
            warnings.filterwarnings("ignore", message=r".*The axis name: .* will not be used.*", category=UserWarning)
            yield
    finally:
        registration.setLevel(level)


def onnx_export(*args, **kwargs) -> None:
    """torch.onnx.export without the expected noise (see quiet_onnx_export)."""
    import torch

    with quiet_onnx_export():
        torch.onnx.export(*args, **kwargs)


def export_onnx(model, example: dict[str, np.ndarray], path: Path, opset: int) -> None:
    """torch.onnx.export (dynamo) with dynamic batch and sequence axes, outputs named `logits`."""
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).logits

    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    args = (torch.from_numpy(example["input_ids"]), torch.from_numpy(example["attention_mask"]))
    with quiet_onnx_export():
        torch.onnx.export(
            LogitsOnly(model).eval(), args, str(path),
            input_names=["input_ids", "attention_mask"], output_names=["logits"],
            dynamic_shapes={"input_ids": {0: batch, 1: sequence}, "attention_mask": {0: batch, 1: sequence}},
            dynamo=True, opset_version=opset, external_data=False, verbose=False,
        )


def onnx_logits(path: Path, feed: dict[str, np.ndarray]) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["logits"], feed)[0]


def check_parity(reference: np.ndarray, candidate: np.ndarray, atol: float) -> float:
    """Largest |difference|; raises ExportError naming it when it exceeds `atol`."""
    if reference.shape != candidate.shape:
        raise ExportError(f"ONNX logits have shape {candidate.shape}, PyTorch {reference.shape}")
    diff = np.abs(reference - candidate)
    worst = float(diff.max()) if diff.size else 0.0
    if worst > atol:
        row, col = np.unravel_index(int(diff.argmax()), diff.shape)
        raise ExportError(f"ONNX output 'logits' differs from PyTorch by {worst:.3g} (> atol {atol:g}) at "
                          f"example {row}, logit {col}; the export is not trustworthy")
    return worst


def weight_matmuls(model) -> list[str]:
    """Names of the nodes that multiply by a weight (an initializer) in graph order: MatMul / Gemm, and the
    fused Attention nodes (their QKV projection)."""
    inits = {i.name for i in model.graph.initializer}
    return [n.name for n in model.graph.node
            if n.op_type in ("MatMul", "Gemm", "Attention") and any(x in inits for x in n.input)]


def layer_nodes(model, layers: tuple[int, ...], n_layers: int) -> list[str]:
    """The weight MatMuls of the given encoder layers: the graph holds n_layers equal blocks of them, in
    order, then the head's (pooler and classifier)."""
    names = weight_matmuls(model)
    per_layer = (len(names) - 2) // n_layers if n_layers else 0
    if per_layer <= 0 or per_layer * n_layers + 2 != len(names):
        raise ExportError(f"cannot map {len(names)} weight MatMuls onto {n_layers} layers; leave export.fp32_layers empty")
    bad = [i for i in layers if not 0 <= i < n_layers]
    if bad:
        raise ExportError(f"export.fp32_layers {bad}: the model has layers 0..{n_layers - 1}")
    return [name for i in layers for name in names[i * per_layer:(i + 1) * per_layer]]


def quantize_int8(src: Path, dst: Path, fp32_layers: tuple[int, ...] = (), n_layers: int = 0) -> None:
    """Dynamic int8 quantization of the MatMul weights (activations stay float); the weights of
    `fp32_layers` (encoder layer indices) stay fp32."""
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(logging.ERROR)  # the quantizer logs a pre-processing hint on the root logger

    # The dynamo exporter records intermediate shapes (value_info) that onnx's shape inference, run by the
    # quantizer, rejects as inconsistent; dropping them lets inference recompute them from the graph.
    model = onnx.load(str(src))
    model.graph.ClearField("value_info")
    exclude = layer_nodes(model, fp32_layers, n_layers) if fp32_layers else []
    plain = dst.with_name(dst.stem + ".noinfo.onnx")
    onnx.save(model, str(plain))
    try:
        # Per-channel scales keep the label agreement with fp32 much higher than one scale per tensor.
        # DefaultTensorType: shape inference cannot type the outputs of onnxruntime's fused ops (Attention,
        # SkipLayerNormalization), which feed the next weight MatMuls; they are float.
        quantize_dynamic(str(plain), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                         nodes_to_exclude=exclude, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        plain.unlink(missing_ok=True)


def _fuse(fp32: Path, model_config, reference: np.ndarray, feed: dict[str, np.ndarray], atol: float) -> dict:
    """Replace `fp32` by its fused graph (train/onnx_fusion.py), checked against PyTorch like the export."""
    from callinkit.train.onnx_fusion import fuse_bert

    fused = fp32.with_name("model.fused.onnx")
    try:
        counts = fuse_bert(fp32, fused, int(model_config.num_attention_heads), int(model_config.hidden_size))
        diff = check_parity(reference, onnx_logits(fused, feed), atol)
    except ExportError as exc:
        raise ExportError(f"{exc} (after onnxruntime's transformer fusions; set export.fuse: false to export "
                          "the unfused graph)") from None
    except Exception as exc:  # the optimizer raises assorted errors on graphs it does not expect
        raise ExportError(f"onnxruntime's transformer fusions failed ({type(exc).__name__}: {exc}); set "
                          "export.fuse: false to export the unfused graph") from None
    fused.replace(fp32)
    return {"fusion": counts, "max_abs_logit_diff_fused": diff}


def fp32_layer_trials(setting: tuple[int, ...] | str, n_layers: int) -> list[tuple[int, ...]]:
    """The fp32-layer sets an int8 export tries, in order, stopping at the first that passes the agreement gate:
    the configured set alone, or for 'auto' no layer, then layer 0, then layers 0-1, ... (the lowest layers are
    the most sensitive to quantization: on v3, layers 0+1 gave 99.59% agreement, 0+5 98.97%, 0 alone 98.87%)."""
    if setting == "auto":
        return [tuple(range(k)) for k in range(n_layers + 1)]
    return [tuple(setting)]


def export_classifier(run_dir: Path, out_dir: Path, quantize: str | None = None, overwrite: bool = False,
                      agreement_texts: list[str] | None = None,
                      validation_labels: list[str] | None = None) -> dict[str, Any]:
    """Export `run_dir/best` to `out_dir` atomically; returns the manifest written.

    `agreement_texts` (validation texts) check int8 labels against PyTorch; with `validation_labels` (their
    labels, same order) the `uncertain` threshold is chosen on the exported model's own probabilities."""
    import json

    import torch
    import yaml
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from callinkit.config import config_from_dict

    best = run_dir / "best"
    if not (best / "config.json").is_file():
        raise CallinkitError(f"{run_dir} has no trained model in best/; run `callinkit train` first")
    config = config_from_dict(yaml.safe_load((run_dir / "config.yaml").read_text()), str(run_dir / "config.yaml"))
    quantize = quantize or config.export.quantize
    info = json.loads((run_dir / "run_info.json").read_text()) if (run_dir / "run_info.json").is_file() else {}
    tokenizer = AutoTokenizer.from_pretrained(best)
    model = AutoModelForSequenceClassification.from_pretrained(best, attn_implementation="eager").eval()
    max_length = config.model.max_length
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    feed = _encode(tokenizer, CHECK_TEXTS, max_length)
    with torch.no_grad():
        reference = model(**{k: torch.from_numpy(v) for k, v in feed.items()}).logits.numpy()

    started = time.perf_counter()
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:
        fp32 = tmp / "model.onnx"
        export_onnx(model, _encode(tokenizer, CHECK_TEXTS[2:4], max_length), fp32, config.export.opset)
        max_diff = check_parity(reference, onnx_logits(fp32, feed), config.export.atol)
        validation: dict[str, Any] = {"check_examples": len(CHECK_TEXTS), "max_abs_logit_diff": max_diff,
                                      "atol": config.export.atol}
        if config.export.fuse:
            validation.update(_fuse(fp32, model.config, reference, feed, config.export.atol))
        if quantize == "int8":
            int8 = tmp / "model.int8.onnx"
            texts = CHECK_TEXTS + list(agreement_texts or [])
            feed_all = _encode(tokenizer, texts, max_length)
            with torch.no_grad():
                ref_labels = np.concatenate([
                    model(**{k: torch.from_numpy(v[i:i + 64]) for k, v in feed_all.items()}).logits.numpy()
                    for i in range(0, len(texts), 64)]).argmax(1)
            n_layers = int(model.config.num_hidden_layers)
            gate = config.export.min_int8_agreement
            tried: dict[str, float] = {}
            for layers in fp32_layer_trials(config.export.fp32_layers, n_layers):
                quantize_int8(fp32, int8, layers, n_layers)
                agreement = float((ref_labels == onnx_logits(int8, feed_all).argmax(1)).mean())
                tried[",".join(map(str, layers)) or "none"] = agreement
                if agreement >= gate:
                    break
            validation.update({"int8_label_agreement": agreement, "int8_check_examples": len(texts),
                               "fp32_layers": list(layers), "min_int8_agreement": gate})
            if config.export.fp32_layers == "auto":
                validation["fp32_layers_tried"] = tried
            if agreement < gate:
                what = ("with every layer prefix kept fp32" if config.export.fp32_layers == "auto"
                        else f"with export.fp32_layers {list(layers)}")
                raise ExportError(f"int8 labels agree with PyTorch on only {agreement:.1%} of {len(texts)} "
                                  f"examples {what} (< {gate:.0%}); try export.fp32_layers: auto, or export "
                                  "without --quantize int8")
            int8.replace(fp32)  # the bundle's model.onnx is the quantized graph
        temperature = float(info.get("temperature", getattr(model.config, "callinkit_temperature", 1.0)))
        uncertainty = info.get("uncertainty")
        if agreement_texts and validation_labels:
            from callinkit.scoring import softmax
            from callinkit.train.evaluation import choose_uncertain_threshold

            logits = np.concatenate([onnx_logits(fp32, _encode(tokenizer, agreement_texts[i:i + 256], max_length))
                                     for i in range(0, len(agreement_texts), 256)])
            uncertainty = choose_uncertain_threshold(softmax(logits, temperature),
                                                     [labels.index(x) for x in validation_labels])
        model.config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        shutil.copy(run_dir / "config.yaml", tmp / "training_config.yaml")
        metrics = {p.stem: json.loads(p.read_text()) for p in sorted((run_dir / "metrics").glob("*.json"))}
        write_json(tmp / "metrics.json", metrics)
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "kind": "classifier",
            "name": config.name,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "callinkit_version": __version__,
            "labels": labels,
            "max_length": max_length,
            "pad_token": tokenizer.pad_token,
            "pad_token_id": tokenizer.pad_token_id,
            "temperature": temperature,
            # Predictions whose top probability is below this are flagged `uncertain` (chosen on validation).
            **({"uncertain_below": uncertainty["uncertain_below"], "uncertainty": uncertainty}
               if uncertainty else {}),
            "quantization": quantize,
            "opset": config.export.opset,
            "inputs": ["input_ids", "attention_mask"],
            "outputs": ["logits"],
            "base_model": info.get("base_model"),
            "data": info.get("data"),
            "training": info.get("training"),
            "validation": validation,
            "metrics": {split: {k: v for k, v in m.items() if isinstance(v, float)} for split, m in metrics.items()},
            "export_seconds": round(time.perf_counter() - started, 1),
        }
        manifest["files"] = {p.name: sha256(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        write_json(tmp / MANIFEST, manifest)
    return manifest
