"""Consensus (minimum-Bayes-risk style) signals for the judged validation candidates of on-policy rounds 2-5:
each candidate's mean chrF and mean MiniLM cosine to the other candidates of the same call-out, and its cosine
to the call-out, against the model's own log-probability; alone (AUC, AUC within a call-out's candidates) and
beside it (logistic regression fitted on rounds 2-3, tested on 4-5, and the reverse).

    python model_cards/judging/2026-12-07-reverse-model/consensus.py EMBEDDER_DIR   (about a minute)
"""
import json
import sys
from pathlib import Path

import numpy as np
from sacrebleu.metrics import CHRF
from score import within_auc
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "2026-12-07-quality-model"))
from data import JUDGING, load  # noqa: E402

from callinkit.serve.embedder import SimilarityEmbedder  # noqa: E402

FEATURES = ("logprob", "cons_chrf", "cons_emb", "sim_src")


def main(embedder_dir: str) -> None:
    rows = [r for r in load() if r["logprob"] is not None]
    every = {}
    for n in (2, 3, 4, 5):
        for s in map(json.loads, open(JUDGING / f"2026-12-06-onpolicy-round{n}" / "candidates.jsonl")):
            every[(n, s["source"])] = [c["text"] for c in s["candidates"]]
    texts = sorted({t for v in every.values() for t in v} | {r["source"] for r in rows})
    emb = dict(zip(texts, SimilarityEmbedder(embedder_dir).encode(texts)))
    chrf = CHRF()
    for r in rows:
        c = r["candidate"]
        others = [t for t in every[(r["round"], r["source"])] if t != c]
        r["cons_chrf"] = float(np.mean([(chrf.sentence_score(c, [o]).score + chrf.sentence_score(o, [c]).score) / 2
                                        for o in others])) if others else 0.0
        r["cons_emb"] = float(np.mean([emb[c] @ emb[o] for o in others])) if others else 0.0
        r["sim_src"] = float(emb[c] @ emb[r["source"]])
    y = np.array([r["y"] >= 0.5 for r in rows])
    print(f"{len(rows)} judged candidates, {int(y.sum())} not bad")
    for f in FEATURES:
        w, t = within_auc(rows, f)
        print(f"{f:10s} AUC {roc_auc_score(y, [r[f] for r in rows]):.3f}   within a call-out {w:.3f} ({t} pairs)")
    X = np.array([[r[f] for f in FEATURES] for r in rows])
    rnd = np.array([r["round"] for r in rows])
    for train, test in (((2, 3), (4, 5)), ((4, 5), (2, 3))):
        tr, te = np.isin(rnd, train), np.isin(rnd, test)
        mu, sd = X[tr].mean(0), X[tr].std(0)
        for cols in ([0], [0, 1], [0, 2], [0, 1, 2, 3]):
            m = LogisticRegression().fit((X[tr][:, cols] - mu[cols]) / sd[cols], y[tr])
            s = m.decision_function((X[:, cols] - mu[cols]) / sd[cols])
            w, _ = within_auc([dict(r, _s=v) for r, v, k in zip(rows, s, te) if k], "_s")
            print(f"fit on rounds {train}, tested on {test}, {[FEATURES[c] for c in cols]}: "
                  f"AUC {roc_auc_score(y[te], s[te]):.3f}, within a call-out {w:.3f}, coef {np.round(m.coef_[0], 2)}")


if __name__ == "__main__":
    main(sys.argv[1])
