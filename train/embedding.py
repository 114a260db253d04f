"""Sentence embeddings with all-MiniLM-L6-v2 (mean pooling + L2 norm), as sentence-transformers computes them.

Used for near-duplicate detection in the corpus, the SIM metric, and exported to ONNX as the rewriter's
concern-similarity embedder.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class MiniLMEmbedder:
    """Mean-pooled, normalised MiniLM embeddings (torch)."""

    def __init__(self, location: str | None = None, max_length: int = 128, batch_size: int = 64) -> None:
        from transformers import AutoModel, AutoTokenizer

        from callinkit.train.base_model import resolve_base_model

        path = location or resolve_base_model("minilm").location
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()
        self.max_length = max_length
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        import torch

        # Batches of similar length waste little compute on padding; results go back in input order.
        order = np.argsort([len(t) for t in texts], kind="stable")
        chunks = range(0, len(texts), self.batch_size)
        if progress:
            from tqdm.auto import tqdm

            chunks = tqdm(chunks, desc="embedding", unit="batch")
        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        for start in chunks:
            index = order[start:start + self.batch_size]
            enc = self.tokenizer([texts[i] for i in index], padding=True, truncation=True,
                                 max_length=self.max_length, return_tensors="pt")
            with torch.no_grad():
                hidden = self.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out[index] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
        return out
