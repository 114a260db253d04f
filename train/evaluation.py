"""Classifier metrics (through the project's evaluate modules), printed tables, and `callinkit eval`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from callinkit.config import LABELS
from callinkit.corpus import NO_CONCERN_REWRITE
from callinkit.errors import CallinkitError, DataError


def classification_metrics(probs: np.ndarray, references: Sequence[int], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class P/R/F1, confusion matrix and ECE for probabilities vs reference ids."""
    from callinkit.metrics import load_metric

    probs = np.asarray(probs, dtype=np.float64)
    refs = [int(r) for r in references]
    preds = probs.argmax(axis=1).tolist()
    report = load_metric("callin_classification").compute(predictions=preds, references=refs,
                                                          label_names=list(labels))
    calib = load_metric("expected_calibration_error").compute(probabilities=probs.tolist(), references=refs)
    report["ece"] = calib["ece"]
    report["n"] = len(refs)
    # which texts carried which labels, so two evaluations can be checked to be on the same labelled split
    # (a relabelling keeps n; `callinkit release` compares only like with like)
    report["references_sha256"] = hashlib.sha256(
        (",".join(labels) + ":" + ",".join(map(str, refs))).encode()).hexdigest()
    return report


def fit_temperature(logits: np.ndarray, references: Sequence[int]) -> float:
    """The softmax temperature that minimises validation NLL (grid search: cheap and robust)."""
    from callinkit.scoring import softmax

    refs = np.asarray(references)
    best, best_nll = 1.0, float("inf")
    for t in np.exp(np.linspace(np.log(0.25), np.log(8.0), 80)):
        p = softmax(logits, float(t))[np.arange(len(refs)), refs]
        nll = float(-np.log(np.clip(p, 1e-12, None)).mean())
        if nll < best_nll:
            best, best_nll = float(t), nll
    return best


def choose_uncertain_threshold(probs: np.ndarray, references: Sequence[int], target_accuracy: float = 0.97,
                               grid: Sequence[float] = tuple(np.round(np.arange(0.40, 0.96, 0.01), 2))
                               ) -> dict[str, float]:
    """The lowest top-probability threshold at which the predictions at or above it are right at least
    `target_accuracy` of the time on validation data. Below it a prediction is flagged `uncertain` (for a
    person to read). Returns the threshold, the share flagged and the accuracy of the rest."""
    probs = np.asarray(probs, dtype=np.float64)
    refs = np.asarray(references)
    top, right = probs.max(axis=1), probs.argmax(axis=1) == refs
    chosen = float(grid[-1])
    for t in grid:
        kept = top >= t
        if kept.any() and right[kept].mean() >= target_accuracy:
            chosen = float(t)
            break
    kept = top >= chosen
    return {"uncertain_below": chosen, "target_accuracy": target_accuracy,
            "validation_flagged_share": float(1 - kept.mean()),
            "validation_accuracy_when_sure": float(right[kept].mean()) if kept.any() else float("nan"),
            "validation_accuracy_when_uncertain": float(right[~kept].mean()) if (~kept).any() else float("nan")}


def format_table(results: dict[str, dict[str, Any]], labels: Sequence[str]) -> str:
    """A plain-text table: one row per evaluated slice, macro-F1, accuracy, ECE and per-class F1."""
    head = ["slice", "n", "macro_f1", "accuracy", "ece"] + [f"{name}_f1" for name in labels]
    rows = [head]
    for name, m in results.items():
        rows.append([name, str(m["n"]), f"{m['macro_f1']:.3f}", f"{m['accuracy']:.3f}", f"{m['ece']:.3f}"]
                    + [f"{m[f'{label}_f1']:.3f}" for label in labels])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# Proxy test slices that `callinkit eval BUNDLE all` adds to the corpus slices: (spec, what it measures).
PROXY_SLICES: tuple[tuple[str, str], ...] = (
    ("crowdcounter:test", "crowd-written replies to hate posts: call_out vs call_in"),
    ("tydip:test", "real requests: polite (neutral) vs strongly impolite (call_out)"),
    ("positive_frames:test", "negative self-talk and its reframes: all neutral"),
    ("reddit_counterspeech:validation", "real Reddit replies, human-labelled 'other': all neutral"),
)
SHORT_WORDS = 12  # "short texts" are under this many words


def is_plain_register(text: str) -> bool:
    """Lowercase with no sentence punctuation: how many real chat messages look."""
    return text == text.lower() and not any(c in text for c in ".!?")


def corpus_slices(rows: list[dict[str, Any]], prefix: str) -> dict[str, list[dict[str, Any]]]:
    """A corpus split and its slices: unseen topics, threats (threat call-outs and the neutral texts that only
    sound like one), short texts, lowercase/no-punctuation texts, and the rewrites of call-outs with no
    concern (plain disagreement: neutral, see the corpus data card's hard cases)."""
    out = {prefix: rows}
    slices = {
        "unseen_topics": [r for r in rows if r["unseen_topic"]],
        "threats": [r for r in rows if r.get("style") in ("threat", "threat_near_miss")],
        f"short_under_{SHORT_WORDS}_words": [r for r in rows if len(r["text"].split()) < SHORT_WORDS],
        "lowercase_no_punctuation": [r for r in rows if is_plain_register(r["text"])],
        "no_concern_rewrites": [r for r in rows if r.get("style") == NO_CONCERN_REWRITE],
    }
    out.update({f"{prefix}:{name}": sl for name, sl in slices.items() if sl})
    return out


def read_eval_data(spec: str) -> dict[str, list[dict[str, Any]]]:
    """Evaluation rows by slice. `spec` is a JSONL/CSV path with text,label columns,
    `callin_corpus[:split]` (default split test, with its slices: unseen topics, threats, short texts,
    lowercase/no-punctuation), a public proxy `name[:split]` read from $CALLINKIT_SHARED_DATA (default
    ../shared/data), or `all`: the corpus test slices and every proxy test slice that is present."""
    from callinkit.train.data import read_table

    if spec == "all":
        out = read_eval_data("callin_corpus:test")
        for proxy, _ in PROXY_SLICES:
            try:
                out.update(read_eval_data(proxy))
            except DataError as exc:  # a proxy folder that is not there is skipped, and said so
                print(f"skipping {proxy}: {exc}")
        return out
    if spec.split(":")[0] == "callin_corpus":
        from callinkit.corpus import KINDS, classification_rows, read_records, read_splits

        split = spec.split(":", 1)[1] if ":" in spec else "test"
        rows = [r for r in classification_rows({k: read_records(k) for k in KINDS}, read_splits())
                if r["split"] == split]
        return corpus_slices(rows, f"callin_corpus:{split}")
    name, _, split = spec.partition(":")
    from callinkit.corpus.proxies import PROXIES

    if name in PROXIES and not Path(spec).exists():
        from callinkit.corpus.proxies import load_proxy

        root = Path(__import__("os").environ.get("CALLINKIT_SHARED_DATA", "../shared/data"))
        rows = [r for r in load_proxy(name, root / name, "classification") if not split or r["split"] == split]
        return {spec: rows}
    path = Path(spec)
    rows = read_table(path)
    for i, r in enumerate(rows, 1):
        if "text" not in r or "label" not in r:
            raise DataError(f"{path}: row {i} needs 'text' and 'label' fields, found {sorted(r)}")
        if r["label"] not in LABELS:
            raise DataError(f"{path}: row {i} has label {r['label']!r}; expected one of {list(LABELS)}")
    return {path.name: rows}


def load_scorer(target: str):
    """(labels, probs_fn) for an exported bundle (onnxruntime) or a checkpoint / run folder (PyTorch)."""
    root = Path(target)
    if (root / "manifest.json").is_file():
        from callinkit.serve import Classifier

        clf = Classifier.load(root)
        return clf.labels, clf.predict_proba
    checkpoint = root / "best" if (root / "best" / "config.json").is_file() else root
    if not (checkpoint / "config.json").is_file():
        raise CallinkitError(f"{target} is neither a bundle (manifest.json) nor a checkpoint (config.json)")
    max_length = 128
    if (root / "config.yaml").is_file():  # a run folder: use its max_length
        import yaml

        max_length = int(yaml.safe_load((root / "config.yaml").read_text())["model"]["max_length"])
    return torch_scorer(checkpoint, max_length=max_length)


def torch_logits(model, tokenizer, texts: Sequence[str], max_length: int, batch_size: int = 64) -> np.ndarray:
    """Logits of a PyTorch classifier, in input order (the Trainer's eval loop may reorder by length)."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    out = [np.zeros((0, model.config.num_labels), dtype=np.float32)]
    for start in range(0, len(texts), batch_size):
        enc = tokenizer(list(texts[start:start + batch_size]), padding=True, truncation=True,
                        max_length=max_length, return_tensors="pt", return_token_type_ids=False)
        with torch.no_grad():
            out.append(model(**enc.to(device)).logits.float().cpu().numpy())
    return np.concatenate(out)


def torch_scorer(checkpoint: Path, max_length: int = 128, batch_size: int = 64):
    """(labels, probs_fn) that runs a saved PyTorch checkpoint, with the shared softmax."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from callinkit.scoring import softmax

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
    labels = tuple(model.config.id2label[i] for i in range(model.config.num_labels))
    temperature = float(getattr(model.config, "callinkit_temperature", 1.0))

    def probs(texts: Sequence[str]) -> np.ndarray:
        return softmax(torch_logits(model, tokenizer, texts, max_length, batch_size), temperature)

    return labels, probs


def confident_errors(rows: Sequence[dict[str, Any]], probs: np.ndarray, labels: Sequence[str],
                     n: int) -> list[dict[str, Any]]:
    """The n misclassified rows with the highest predicted-label probability."""
    pred = probs.argmax(axis=1)
    wrong = [i for i, r in enumerate(rows) if labels[pred[i]] != r["label"]]
    wrong.sort(key=lambda i: -probs[i, pred[i]])
    return [{"text": rows[i]["text"], "label": rows[i]["label"], "predicted": labels[pred[i]],
             "confidence": round(float(probs[i, pred[i]]), 3)} for i in wrong[:n]]


def run_eval(target: str, data_spec: str, out: Path | None = None, show_errors: int = 0) -> dict[str, dict[str, Any]]:
    """Evaluate a bundle or checkpoint on a data file or the corpus; print a table; optionally write JSON."""
    labels, probs_fn = load_scorer(target)
    results = {}
    errors: dict[str, list[dict[str, Any]]] = {}
    for name, rows in read_eval_data(data_spec).items():
        if not rows:
            raise DataError(f"{name}: no rows to evaluate")
        probs = probs_fn([r["text"] for r in rows])
        refs = [labels.index(r["label"]) for r in rows]
        results[name] = classification_metrics(probs, refs, labels)
        errors[name] = confident_errors(rows, probs, labels, show_errors)
        if out is not None:
            from callinkit.train.plots import plot_confusion_matrix

            slug = name.replace(":", "_").replace("/", "_")
            plot_confusion_matrix(results[name]["confusion_matrix"], labels,
                                  out.parent / f"{out.stem}_confusion_{slug}.png", title=f"{target}: {name}")
    print(format_table(results, labels))
    for name, m in results.items():
        if name.endswith(":threats"):
            print(f"threat recall ({name}): {m['call_out_recall']:.3f} of {m['call_out_support']} threats "
                  f"labelled call_out; near misses kept neutral: {m['neutral_recall']:.3f} of "
                  f"{m['neutral_support']}")
    first = next(iter(errors))
    if show_errors and errors[first]:
        print(f"\n{len(errors[first])} most confidently wrong on {first}:")
        for e in errors[first]:
            print(f"  {e['confidence']:.2f} {e['label']} -> {e['predicted']}: {e['text']}")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"target": str(target), "data": data_spec, "results": results,
                                   "confident_errors": errors}, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {out}")
    return results
