"""Concern similarity: cosine of all-MiniLM-L6-v2 mean-pooled sentence embeddings, run from ONNX."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from callinkit.bundle import read_manifest
from callinkit.serve.runtime import Device, make_session


class SimilarityEmbedder:
    """Normalised sentence embeddings from an `embedder` bundle (graph output `sentence_embedding`)."""

    def __init__(self, bundle_dir: str | os.PathLike[str], device: Device = "cpu", batch_size: int = 64) -> None:
        from tokenizers import Tokenizer

        self.bundle_dir = Path(bundle_dir)
        self.manifest = read_manifest(self.bundle_dir, kind="embedder")
        self.session = make_session(self.bundle_dir / "model.onnx", device)
        self.tokenizer = Tokenizer.from_file(str(self.bundle_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=int(self.manifest["max_length"]))
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = [np.zeros((0, int(self.manifest["dim"])), dtype=np.float32)]
        for start in range(0, len(texts), self.batch_size):
            enc = self.tokenizer.encode_batch(list(texts[start:start + self.batch_size]))
            feed = {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                    "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64)}
            out.append(self.session.run(["sentence_embedding"], feed)[0])
        return np.concatenate(out)


def probe_probability(probe: dict[str, Any], embeddings: np.ndarray) -> np.ndarray:
    """A bundle probe's (logistic regression on these embeddings: `weights`, `bias`) probability for each row."""
    z = (embeddings @ np.asarray(probe["weights"], dtype=np.float32)).astype(np.float64) + float(probe["bias"])
    return 1.0 / (1.0 + np.exp(-z))


def concern_similarity(embedder: SimilarityEmbedder, sources: Sequence[str], outputs: Sequence[str]) -> np.ndarray:
    """Cosine similarity of each output to its source (embeddings are already normalised)."""
    if len(sources) != len(outputs):
        raise ValueError("sources and outputs must have the same length")
    a, b = embedder.encode(sources), embedder.encode(outputs)
    return (a * b).sum(axis=1)
