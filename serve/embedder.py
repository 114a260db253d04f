"""Concern similarity: cosine of all-MiniLM-L6-v2 mean-pooled sentence embeddings, run from ONNX."""

from __future__ import annotations

import os
import re
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
        # int8 graphs quantize activations dynamically, with one scale per input tensor: a text's embedding would
        # depend on the other texts of its batch (cosine down to 0.96 against the same text alone, enough to move
        # a similarity across the guard's floors). They embed one text per run, as fast here as batches of 64
        # (no padding): the same text always gets the same embedding.
        self.batch_size = 1 if self.manifest.get("quantization") == "int8" else batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = [np.zeros((0, int(self.manifest["dim"])), dtype=np.float32)]
        for start in range(0, len(texts), self.batch_size):
            enc = self.tokenizer.encode_batch(list(texts[start:start + self.batch_size]))
            feed = {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                    "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64)}
            out.append(self.session.run(["sentence_embedding"], feed)[0])
        return np.concatenate(out)


# Word n-grams of a probe that reads them (train/threat_probe.py): lower-cased tokens as scikit-learn's
# CountVectorizer finds them, n-grams joined by one space, each counted once.
NGRAM_TOKEN_RE = re.compile(r"\b\w[\w']*\b")


def ngram_features(text: str, max_n: int) -> set[str]:
    """The word 1- to `max_n`-grams of `text` that a probe's `ngrams` table is keyed by."""
    tokens = NGRAM_TOKEN_RE.findall(text.lower())
    return {" ".join(tokens[i:i + n]) for n in range(1, max_n + 1) for i in range(len(tokens) - n + 1)}


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def probe_probability(probe: dict[str, Any], embeddings: np.ndarray,
                      texts: Sequence[str] | None = None) -> np.ndarray:
    """A bundle probe's probability for each row: a logistic regression on these embeddings (`weights`, `bias`),
    plus, where the probe has `ngrams` ({"max_n", "weights": {n-gram: weight}}), the weights of the word n-grams
    each text holds (so `texts` are needed), and, where it has a `backstop` (an embedding-only probe with its
    own `threshold`), the backstop's probability wherever that reaches its threshold and is the higher."""
    z = (embeddings @ np.asarray(probe["weights"], dtype=np.float32)).astype(np.float64) + float(probe["bias"])
    ngrams = probe.get("ngrams")
    if ngrams:
        if texts is None or len(texts) != len(z):
            raise ValueError("this probe also reads word n-grams: pass the texts its embeddings come from")
        table, max_n = ngrams["weights"], int(ngrams["max_n"])
        z = z + np.array([sum(table.get(g, 0.0) for g in ngram_features(t, max_n)) for t in texts])
    p = _sigmoid(z)
    backstop = probe.get("backstop")
    if backstop:
        pb = _sigmoid((embeddings @ np.asarray(backstop["weights"], dtype=np.float32)).astype(np.float64)
                      + float(backstop["bias"]))
        p = np.where(pb >= float(backstop["threshold"]), np.maximum(p, pb), p)
    return p


def concern_similarity(embedder: SimilarityEmbedder, sources: Sequence[str], outputs: Sequence[str]) -> np.ndarray:
    """Cosine similarity of each output to its source (embeddings are already normalised)."""
    if len(sources) != len(outputs):
        raise ValueError("sources and outputs must have the same length")
    a, b = embedder.encode(sources), embedder.encode(outputs)
    return (a * b).sum(axis=1)
