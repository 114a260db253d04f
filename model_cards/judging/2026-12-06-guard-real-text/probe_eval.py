"""The guard's threat and no-concern probes fitted with and without the labelled real texts, side by side.

    python model_cards/judging/2026-12-06-guard-real-text/probe_eval.py BUNDLE [PARADETOX] [WEIGHT ...]

For each weight of the real texts (0: the corpus alone, as before), both probes are fitted on the corpus's
train split plus the labelled ParaDetox train fold, and judged on the corpus's validation split and on the
labelled ParaDetox validation fold (a quarter of the labels, by key). Embeddings are computed once.
"""
import json
import sys
from pathlib import Path

import numpy as np

from callinkit.serve import embedder as emb_module
from callinkit.train.threat_probe import no_concern_probe, real_text_rows, threat_probe

bundle = Path(sys.argv[1])
paradetox = sys.argv[2] if len(sys.argv) > 2 else "../shared/data/paradetox"
weights = [float(w) for w in sys.argv[3:]] or [0.0, 1.0, 3.0, 10.0]
cache: dict[str, np.ndarray] = {}
encode = emb_module.SimilarityEmbedder.encode


def cached(self, texts):
    missing = [t for t in dict.fromkeys(texts) if t not in cache]
    if missing:
        cache.update(zip(missing, encode(self, missing)))
    return np.stack([cache[t] for t in texts])


emb_module.SimilarityEmbedder.encode = cached
real = real_text_rows(paradetox)
print(len(real), "labelled real texts:", sum(r["threat"] for r in real), "threats,",
      sum(r["no_concern"] for r in real), "with no concern;", sum(r["fold"] == "validation" for r in real),
      "in the validation fold")
for w in weights:
    t = threat_probe(bundle / "embedder", threshold=0.5, real=real, real_weight=w)
    n = no_concern_probe(bundle / "embedder", threshold=0.8, real=real, real_weight=w)
    print(f"weight {w:g}\n  threat: {json.dumps(t['validation'])}\n  no concern: {json.dumps(n['validation'])}")
