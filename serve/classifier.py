"""Torch-free classification with an exported bundle: `Classifier.load(bundle).predict(texts)`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from callinkit.bundle import read_manifest
from callinkit.scoring import softmax
from callinkit.serve.runtime import Device, make_session, resolve_bundle


@dataclass(frozen=True)
class Prediction:
    """One text's label and the probability of every label (they sum to 1)."""

    label: str
    scores: dict[str, float]

    @property
    def score(self) -> float:
        """Probability of the predicted label."""
        return self.scores[self.label]

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "scores": dict(self.scores)}


def _check_texts(texts: Sequence[str], method: str) -> list[str]:
    if isinstance(texts, str):
        raise TypeError(f"{method}() takes a list of strings; for one text use {method}_one(text)")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise TypeError(f"{method}(): item {i} is {type(t).__name__}, expected str")
    return out


class Classifier:
    """A call_out / call_in / neutral classifier running an ONNX bundle with onnxruntime."""

    def __init__(self, bundle_dir: Path, device: Device = "cpu", batch_size: int = 32,
                 threads: int | None = None) -> None:
        from tokenizers import Tokenizer

        self.bundle_dir = Path(bundle_dir)
        self.manifest = read_manifest(self.bundle_dir, kind="classifier")
        self.labels: tuple[str, ...] = tuple(self.manifest["labels"])
        self.max_length = int(self.manifest["max_length"])
        self.temperature = float(self.manifest.get("temperature", 1.0))
        self.batch_size = batch_size
        self.device = device
        self.session = make_session(self.bundle_dir / "model.onnx", device, threads)
        self._input_names = {i.name for i in self.session.get_inputs()}
        self.tokenizer = Tokenizer.from_file(str(self.bundle_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_length)
        self.tokenizer.enable_padding(pad_id=int(self.manifest.get("pad_token_id", 0)),
                                      pad_token=self.manifest.get("pad_token", "[PAD]"))

    @classmethod
    def load(cls, bundle: str | os.PathLike[str] | None = None, device: Device = "cpu",
             batch_size: int = 32, threads: int | None = None) -> Classifier:
        """Load a classifier bundle (default: $CALLINKIT_CLASSIFIER_BUNDLE, else the shipped release)."""
        return cls(resolve_bundle("classifier", bundle), device=device, batch_size=batch_size, threads=threads)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Raw logits, one row per text (batched internally)."""
        texts = _check_texts(texts, "logits")
        rows = [np.zeros((0, len(self.labels)), dtype=np.float32)]
        for start in range(0, len(texts), self.batch_size):
            encodings = self.tokenizer.encode_batch(texts[start:start + self.batch_size])
            feed = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            }
            if "token_type_ids" in self._input_names:
                feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
            rows.append(self.session.run(["logits"], feed)[0])
        return np.concatenate(rows, axis=0)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Label probabilities, one row per text, columns in `self.labels` order."""
        return softmax(self.logits(_check_texts(texts, "predict_proba")), self.temperature)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """One Prediction per input text, in order; an empty list gives an empty list."""
        probs = self.predict_proba(_check_texts(texts, "predict"))
        return [
            Prediction(label=self.labels[int(row.argmax())],
                       scores={name: float(p) for name, p in zip(self.labels, row)})
            for row in probs
        ]

    def predict_one(self, text: str) -> Prediction:
        """The Prediction for a single text."""
        if not isinstance(text, str):
            raise TypeError(f"predict_one() takes a str, got {type(text).__name__}; use predict() for a list")
        return self.predict([text])[0]

    def __repr__(self) -> str:
        return f"Classifier({str(self.bundle_dir)!r}, device={self.device!r}, labels={list(self.labels)})"
