"""The guard's threat probe with and without each round of labelled real texts, on each round's validation fold.

    python model_cards/judging/2026-12-06-real-threats/probe_eval.py BUNDLE [PARADETOX]

Round 1 (session 15, labellers 1-4): 800 random ParaDetox training sources. Round 2 (session 16, labellers
5-8): ParaDetox sentences with a violent word, from its pairs and from the sentences its annotators could not
detoxify. Each probe is judged as the guard uses it (probe >= 0.5 or the threat patterns) on the corpus's
validation split and on the validation fold (a quarter, by key) of each round; the probe is also fitted on the
corpus's train split and the train folds of the rounds it names. Embeddings are computed once.
"""
import json
import sys
from pathlib import Path

import numpy as np

from callinkit.guard import THREAT_RE
from callinkit.serve import embedder as emb_module
from callinkit.train.threat_probe import probability, real_text_rows, threat_probe

bundle = Path(sys.argv[1])
paradetox = sys.argv[2] if len(sys.argv) > 2 else "../shared/data/paradetox"
cache: dict[str, np.ndarray] = {}
encode = emb_module.SimilarityEmbedder.encode


def cached(self, texts):
    missing = [t for t in dict.fromkeys(texts) if t not in cache]
    if missing:
        cache.update(zip(missing, encode(self, missing)))
    return np.stack([cache[t] for t in texts])


emb_module.SimilarityEmbedder.encode = cached
real = real_text_rows(paradetox)
rounds = {"round 1 (random)": [r for r in real if (r["labeller"] or 0) <= 4],
          "round 2 (violent words)": [r for r in real if (r["labeller"] or 0) > 4]}
for name, rows in rounds.items():
    val = [r for r in rows if r["fold"] == "validation"]
    print(f"{name}: {len(rows)} labelled, {sum(r['threat'] for r in rows)} threats; validation fold {len(val)} "
          f"({sum(r['threat'] for r in val)} threats)")
embedder = emb_module.SimilarityEmbedder(bundle / "embedder")
settings = [("corpus alone", [], 10.0), ("+ round 1, weight 10 (shipped)", rounds["round 1 (random)"], 10.0)]
settings += [(f"+ rounds 1 and 2, weight {w:g}", real, w) for w in (1.0, 3.0, 10.0)]
for label, part, w in settings:
    t = threat_probe(bundle / "embedder", threshold=0.5, real=part or None, real_weight=w)
    v = t["validation"]
    line = [f"corpus threats {v['threats_flagged']:.3f}, other call-outs {v['other_call_outs_flagged']:.3f}, "
            f"near misses {v['near_misses_flagged']:.3f}"]
    for name, rows in rounds.items():
        val = [r for r in rows if r["fold"] == "validation"]
        x = embedder.encode([r["text"] for r in val])
        flagged = (probability(x, np.array(t["weights"]), t["bias"]) >= 0.5) | np.array(
            [bool(THREAT_RE.search(r["text"])) for r in val])
        y = np.array([r["threat"] for r in val])
        line.append(f"{name}: threats {flagged[y].mean():.3f} ({flagged[y].sum()}/{y.sum()}), "
                    f"others {flagged[~y].mean():.3f} ({flagged[~y].sum()}/{(~y).sum()})")
    print(f"{label}\n  " + "\n  ".join(line))
print(json.dumps({"bundle": str(bundle)}))
