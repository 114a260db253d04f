"""Does a candidate name the same harm as its call-out? "Wrong harm" is the judges' commonest reason for the bad
suggestions v2 showed. A topic probe (logistic regression on the bundle's MiniLM embedding, fitted on the
corpus's train call-outs and call-ins with their 53 topic labels) reads the call-out and each candidate;
agreement = sum over topics of P(topic | call-out) x P(topic | candidate). Measured on the judged validation
candidates of on-policy rounds 2-5 (AUC for not bad, within a call-out, beside the log-probability, and among
the suggestions the rounds showed), as in ../2026-12-07-reverse-model/.

    python model_cards/judging/2026-12-07-topic-agreement/topic_agreement.py EMBEDDER_DIR
"""
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "2026-12-07-quality-model"))
sys.path.insert(0, str(HERE.parent / "2026-12-07-reverse-model"))
from data import load  # noqa: E402
from score import report  # noqa: E402
from simulate import shown_rows, verdict  # noqa: E402

from callinkit.config import load_config  # noqa: E402
from callinkit.serve.embedder import SimilarityEmbedder  # noqa: E402
from callinkit.train.rewriter_lm import stage_rows  # noqa: E402


def fit_probe(embedder_dir: str) -> tuple[SimilarityEmbedder, LogisticRegression, dict]:
    """The embedder, the topic probe fitted on the corpus's train call-outs and call-ins, and the splits."""
    cfg = load_config("configs/rewriter_lm_lora.yaml")
    stage = cfg.stages[0]
    splits = stage_rows(dataclasses.replace(stage, sources=[stage.sources[0]]), cfg)
    emb = SimilarityEmbedder(embedder_dir)
    train = splits["train"]
    X = emb.encode([r["call_out"] for r in train] + [r["call_in"] for r in train])
    y = [r["topic"] for r in train] * 2
    return emb, LogisticRegression(C=4.0, max_iter=2000).fit(X, y), splits


def agreement(emb: SimilarityEmbedder, probe: LogisticRegression, sources: list[str], candidates: list[str]):
    return (probe.predict_proba(emb.encode(sources)) * probe.predict_proba(emb.encode(candidates))).sum(1)


def main(embedder_dir: str) -> None:
    emb, probe, splits = fit_probe(embedder_dir)
    val = splits["validation"]
    acc_out = probe.score(emb.encode([r["call_out"] for r in val]), [r["topic"] for r in val])
    acc_in = probe.score(emb.encode([r["call_in"] for r in val]), [r["topic"] for r in val])
    print(f"topic probe: {len(probe.classes_)} topics; validation accuracy on call-outs {acc_out:.3f}, "
          f"on their call-ins {acc_in:.3f}")
    # The reference call-in's agreement with its call-out, for scale.
    ref = agreement(emb, probe, [r["call_out"] for r in val], [r["call_in"] for r in val])
    print(f"agreement of the human call-in with its call-out (validation): median {np.median(ref):.3f}, "
          f"10th percentile {np.quantile(ref, 0.1):.3f}")
    rows = [r for r in load() if r["logprob"] is not None]
    for r, a in zip(rows, agreement(emb, probe, [r["source"] for r in rows], [r["candidate"] for r in rows])):
        r["topic_agreement"] = float(a)
    report(rows, ("logprob", "topic_agreement"), [("logprob", "topic_agreement")])
    shown = shown_rows(rows)
    ys = [verdict(r) != "bad" for r in shown]
    print(f"{len(shown)} judged shown suggestions: AUC agreement {roc_auc_score(ys, [r['topic_agreement'] for r in shown]):.3f}, "
          f"log-probability {roc_auc_score(ys, [r['logprob'] for r in shown]):.3f}")
    for q in (0.1, 0.2, 0.3):
        f = float(np.quantile([r["topic_agreement"] for r in shown if r["round"] in (2, 3)], q))
        for rounds in ((2, 3), (4, 5)):
            kept = [r for r in shown if r["round"] in rounds and r["topic_agreement"] >= f]
            alln = [r for r in shown if r["round"] in rounds]
            bad = sum(verdict(r) == "bad" for r in kept)
            print(f"  floor {f:.3f} (q{q:.1f} of rounds 2-3), rounds {rounds}: shown {len(kept)} of {len(alln)}, "
                  f"bad {bad} ({bad / max(1, len(kept)):.0%}; without the floor "
                  f"{sum(verdict(r) == 'bad' for r in alln)})")
    json.dump([{k: r[k] for k in ("round", "id", "topic_agreement")} for r in rows],
              open(HERE / "agreement.json", "w"))


if __name__ == "__main__":
    main(sys.argv[1])
