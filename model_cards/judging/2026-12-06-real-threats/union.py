"""A second probe fitted on the labelled real texts alone, used beside the shipped one (either flags): measured,
not built.

    python model_cards/judging/2026-12-06-real-threats/union.py
"""
import json
from pathlib import Path

import numpy as np

from callinkit.corpus import load_corpus
from callinkit.guard import THREAT_RE
from callinkit.serve.embedder import SimilarityEmbedder
from callinkit.train.threat_probe import fit_probe, probability, real_text_rows

emb = SimilarityEmbedder(Path("bundles/rewriter_lm_op3/embedder"))
real = real_text_rows("../shared/data/paradetox")
tr = [r for r in real if r["fold"] == "train"]
va = [r for r in real if r["fold"] == "validation"]
Xtr = emb.encode([r["text"] for r in tr])
ytr = np.array([r["threat"] for r in tr])
rows = list(load_corpus("classification")["validation"])
sets = {"corpus threats": [r["text"] for r in rows if r.get("style") == "threat"],
        "corpus other call-outs": [r["text"] for r in rows if r["label"] == "call_out" and r.get("style") != "threat"],
        "real threats": [r["text"] for r in va if r["threat"]],
        "real others (random)": [r["text"] for r in va if not r["threat"] and r["sample"] == "random"],
        "real others (violent)": [r["text"] for r in va if not r["threat"] and r["sample"] != "random"]}
pd = json.load(open("model_cards/judging/2026-12-06-onpolicy-dpo3/eval_op3.json"))["samples"]["paradetox_heldout"]
sets["paradetox held-out 100"] = [r["source"] for r in pd]
X = {k: emb.encode(v) for k, v in sets.items()}
old = json.load(open("bundles/rewriter_lm_op3/threat_probe.json"))
base = {k: (probability(X[k], np.array(old["weights"]), old["bias"]) >= 0.5) | np.array([bool(THREAT_RE.search(t)) for t in v]) for k, v in sets.items()}
print("shipped:", "; ".join(f"{k} {base[k].mean():.3f}" for k in sets))
for c in (0.3, 1.0):
    w, b = fit_probe(Xtr, ytr, c)
    for thr in (0.5, 0.7, 0.8, 0.9):
        print(f"union c={c} thr={thr}:", "; ".join(f"{k} {(base[k] | (probability(X[k], w, b) >= thr)).mean():.3f}" for k in sets), flush=True)
