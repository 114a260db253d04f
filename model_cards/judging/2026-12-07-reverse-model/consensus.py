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
from score import report

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
    print(f"{len(rows)} judged candidates, {sum(r['y'] >= 0.5 for r in rows)} not bad")
    report(rows, FEATURES, [FEATURES[:1], FEATURES[:2], (FEATURES[0], FEATURES[2]), FEATURES])

if __name__ == "__main__":
    main(sys.argv[1])
