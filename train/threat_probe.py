"""A threat probe for the rewriter's guard: logistic regression on the bundle's sentence embeddings.

A v2 bundle abstains on threats (`guard.abstain_on_threat`): judges found its rewrites of them unfaithful and
often keeping a trace of the threat. The guard's threat patterns (`callinkit.guard.THREAT_RE`) match only 39% of
the corpus's validation threats, since threats are mostly implied ("Ref, we know your car. Remember that."),
in slang or in other languages. (Veiled threats in stock idioms, "accidents happen", read low to the probe and
are patterns instead.) The probe reads the MiniLM embedding the bundle already computes for concern
similarity, and is fitted on the corpus's training split (style `threat` against every other text, near misses
such as "this printer is going out the window" included). The bundle abstains when the patterns match or the
probe's probability reaches its threshold.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

PROBE_FILE = "threat_probe.json"
NO_CONCERN_PROBE_FILE = "no_concern_probe.json"


def fit_probe(x: np.ndarray, y: np.ndarray, c: float = 0.3) -> tuple[np.ndarray, float]:
    """(weights, bias) of an L2 logistic regression with balanced class weights."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(x, y)
    return model.coef_[0].astype(np.float32), float(model.intercept_[0])


def threat_probe(embedder_dir: Path, threshold: float = 0.5, c: float = 0.3) -> dict[str, Any]:
    """Fit the probe on the corpus's train split with the embedder in `embedder_dir`; its validation figures
    (with the patterns beside it, as the guard uses them) go into the returned dict."""
    from callinkit.corpus import load_corpus
    from callinkit.guard import THREAT_RE
    from callinkit.serve.embedder import SimilarityEmbedder

    embedder = SimilarityEmbedder(embedder_dir)
    corpus = load_corpus("classification")
    data = {}
    for split in ("train", "validation"):
        rows = list(corpus[split])
        data[split] = (embedder.encode([r["text"] for r in rows]),
                       np.array([r.get("style") == "threat" for r in rows]), rows)
    weights, bias = fit_probe(data["train"][0], data["train"][1], c)
    x, y, rows = data["validation"]
    patterns = np.array([bool(THREAT_RE.search(r["text"])) for r in rows])
    flagged = (1 / (1 + np.exp(-(x @ weights + bias))) >= threshold) | patterns
    other_call_outs = np.array([r["label"] == "call_out" for r in rows]) & ~y
    near_misses = np.array([r.get("style") == "threat_near_miss" for r in rows])
    return {"weights": [round(float(w), 6) for w in weights], "bias": round(bias, 6), "threshold": threshold,
            "fitted_on": f"{len(data['train'][2])} corpus train texts ({int(data['train'][1].sum())} threats)",
            "validation": {"threats_flagged": round(float(flagged[y].mean()), 3),
                           "patterns_alone": round(float(patterns[y].mean()), 3),
                           "other_call_outs_flagged": round(float(flagged[other_call_outs].mean()), 3),
                           "near_misses_flagged": round(float(flagged[near_misses].mean()), 3),
                           "n_threats": int(y.sum()), "n_other_call_outs": int(other_call_outs.sum())}}


def no_concern_probe(embedder_dir: Path, threshold: float = 0.8, c: float = 0.3) -> dict[str, Any]:
    """A probe for call-outs with no concern beyond the attack ("who asked 💀", "nah ur just dumb"), fitted on
    the corpus pairs' call-outs of the train split (strategy `no_concern` against every other pair). LABELS.md
    says their rewrite states the disagreement without the attack, a neutral text, and must not invent a harm;
    the guard uses the probe to ask that of the candidates (serve/rewriter.py: `select(no_concern=True)`)."""
    from callinkit.corpus import KINDS, pair_rows, read_records, read_splits
    from callinkit.serve.embedder import SimilarityEmbedder

    embedder = SimilarityEmbedder(embedder_dir)
    rows = pair_rows({k: read_records(k) for k in KINDS}, read_splits())
    data = {}
    for split in ("train", "validation"):
        part = [r for r in rows if r["split"] == split]
        data[split] = (embedder.encode([r["call_out"] for r in part]),
                       np.array([r.get("strategy") == "no_concern" for r in part]))
    weights, bias = fit_probe(data["train"][0], data["train"][1], c)
    x, y = data["validation"]
    flagged = 1 / (1 + np.exp(-(x @ weights + bias))) >= threshold
    return {"weights": [round(float(w), 6) for w in weights], "bias": round(bias, 6), "threshold": threshold,
            "fitted_on": f"{len(data['train'][1])} corpus train call-outs ({int(data['train'][1].sum())} with no concern)",
            "validation": {"no_concern_flagged": round(float(flagged[y].mean()), 3),
                           "other_call_outs_flagged": round(float(flagged[~y].mean()), 3),
                           "n_no_concern": int(y.sum()), "n_other_call_outs": int((~y).sum())}}


def write_probe_file(bundle_dir: Path, name: str, probe: dict[str, Any]) -> None:
    (Path(bundle_dir) / name).write_text(json.dumps(probe, indent=1) + "\n")

