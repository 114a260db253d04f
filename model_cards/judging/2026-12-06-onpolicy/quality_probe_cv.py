"""Can a learned probe tell a bad candidate from a usable one better than the model's log-probability?

Rated validation candidates of `../2026-12-04-logprob/` (keys: lp_mean) and this folder (candidates.jsonl:
logprob), with features the guard already computes at inference (P(call_in), P(neutral) of the shipped
classifier, MiniLM concern similarity, the guard's problems) plus word-level ones (share of new content
words, a new capitalised name, length ratio), and optionally the MiniLM embeddings. Logistic regression,
5-fold cross-validation grouped by call-out; then the selection a person would see (per call-out, the best
candidate by the probe that passes the guard and the probe's threshold), against the current rule (the
guard's problems and log-probability >= -0.8, ranked by log-probability).

    python model_cards/judging/2026-12-06-onpolicy/quality_probe_cv.py
"""
import json
import re
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold

from callinkit.guard import check_candidate, source_facts
from callinkit.serve.classifier import Classifier
from callinkit.serve.embedder import SimilarityEmbedder

J = Path(__file__).resolve().parent.parent
RATING = {"good": 2, "acceptable": 1, "bad": 0}


def jsonl(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def collect():
    rows = []
    keys = {r["id"]: r for r in jsonl(J / "2026-12-04-logprob/keys.jsonl")}
    ratings = {}
    for k in (1, 2, 3):
        for v in jsonl(J / f"2026-12-04-logprob/verdicts_{k}.jsonl"):
            ratings.setdefault(v["id"], []).append(v["rating"])
    for i, it in keys.items():
        if i in ratings:
            rows.append({"source": it["source"], "context": None, "text": it["text"], "logprob": it["lp_mean"],
                         "ratings": ratings[i]})
    logprob = {(r["source"], c["text"].strip()): (c["logprob"], r.get("context"))
               for r in jsonl(J / "2026-12-06-onpolicy/candidates.jsonl") for c in r["candidates"]}
    items = {r["id"]: r for r in jsonl(J / "2026-12-06-onpolicy/items.jsonl")}
    for k in (1, 2, 3, 4):
        for v in jsonl(J / f"2026-12-06-onpolicy/verdicts_{k}.jsonl"):
            it = items[v["id"]]
            lp, context = logprob.get((it["source"], it["candidate"].strip()), (None, None))
            if lp is not None:  # threats were generated unguarded, without a log-probability
                rows.append({"source": it["source"], "context": context, "text": it["candidate"], "logprob": lp,
                             "ratings": [v["rating"]]})
    return rows


STOP = set("the a an and or but to of in on for with is are was were be it this that you your i we they he she "
           "them his her our my me us not no do does did can could would should will please just so as at by from "
           "have has had if what when who how why about into than then there their its it's i'm you're don't".split())


def words(text):
    return set(re.findall(r"[a-z']+", text.lower()))


def hand_features(r):
    source_words = words(r["source"])
    content = [w for w in words(r["text"]) if w not in STOP]
    novel = [w for w in content if w not in source_words]
    new_names = [w for w in re.findall(r"\b[A-Z][a-z]+\b", r["text"][1:]) if w.lower() not in source_words]
    return [r["logprob"], r["call_in"], r["neutral"], r["similarity"], bool(r["problems"]),
            len(novel) / max(1, len(content)), bool(new_names), np.log(len(r["text"]) / max(1, len(r["source"])))]


def shown(rows, score, allowed, not_bad):
    """Per call-out, the allowed candidate with the highest score: (call-outs, answered, bad among shown)."""
    by_source = {}
    for i, r in enumerate(rows):
        by_source.setdefault(r["source"], []).append(i)
    picked = [max(ok, key=lambda i: score[i]) for idx in by_source.values() if (ok := [i for i in idx if allowed[i]])]
    return len(by_source), len(picked), int(sum(not not_bad[i] for i in picked))


def main():
    rows = collect()
    root = Path(__file__).resolve().parents[3]
    classifier = Classifier(root / "callinkit/models/classifier")
    embedder = SimilarityEmbedder(root / "callinkit/models/rewriter/embedder")
    es, ec = embedder.encode([r["source"] for r in rows]), embedder.encode([r["text"] for r in rows])
    for r, p, a, b in zip(rows, classifier.predict([r["text"] for r in rows]), es, ec):
        r.update(call_in=p.scores["call_in"], neutral=p.scores["neutral"], similarity=float(a @ b),
                 problems=list(check_candidate(source_facts(r["source"], r["context"]), r["text"],
                                               p.scores["call_in"], 0.5)))
    not_bad = np.array([np.mean([RATING[x] for x in r["ratings"]]) >= 0.5 for r in rows])
    print(f"{len(rows)} rated candidates of {len({r['source'] for r in rows})} call-outs, "
          f"{not_bad.mean():.0%} not bad")
    hand = np.array([hand_features(r) for r in rows], dtype=float)
    index = {s: i for i, s in enumerate(dict.fromkeys(r["source"] for r in rows))}
    groups = np.array([index[r["source"]] for r in rows])
    variants = {"log-probability alone": (hand[:, :1], 1.0), "hand features": (hand, 1.0),
                "hand + embeddings": (np.hstack([hand, ec, es * ec]), 0.03)}
    guard_ok = np.array([not r["problems"] for r in rows])
    current = guard_ok & (hand[:, 0] >= -0.8)
    n, k, bad = shown(rows, hand[:, 0], current, not_bad)
    print(f"current rule (guard + log-probability >= -0.8): {k} of {n} answered, {bad} bad ({bad / k:.0%})")
    line = ["stricter log-probability floors"]
    for floor in (-0.7, -0.6, -0.5, -0.4):
        n, k, bad = shown(rows, hand[:, 0], guard_ok & (hand[:, 0] >= floor), not_bad)
        line.append(f"{floor}: {k} answered, {bad} bad ({bad / max(1, k):.0%})")
    print("; ".join(line))
    for name, (x, c) in variants.items():
        oof = np.zeros(len(rows))
        for train, test in GroupKFold(n_splits=5).split(x, not_bad, groups):
            mu, sd = x[train].mean(0), x[train].std(0) + 1e-6
            model = LogisticRegression(C=c, max_iter=3000).fit((x[train] - mu) / sd, not_bad[train])
            oof[test] = model.predict_proba((x[test] - mu) / sd)[:, 1]
        line = [f"{name}: AUC {roc_auc_score(not_bad, oof):.3f}"]
        if name != "log-probability alone":
            for t in (0.5, 0.6, 0.7, 0.8):
                n, k, bad = shown(rows, oof, guard_ok & (oof >= t), not_bad)
                line.append(f"t={t}: {k} answered, {bad} bad ({bad / max(1, k):.0%})")
        print("; ".join(line))


if __name__ == "__main__":
    main()
