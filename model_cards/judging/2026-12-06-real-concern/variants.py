"""The no-concern probe (embedding alone, and with word 1-2-grams) fitted with and without the train fold of the
600 real comments labelled in session 18 (labels.jsonl), measured on validation data only: the corpus's
validation call-outs (strategy no_concern against the others), the labelled ParaDetox validation fold (random
sample), and the new labels' validation fold (toxic_spans; CrowdCounter posts and replies). Labelled threats left
out. Fitted as train/threat_probe.no_concern_probe fits it (C 0.3, balanced, real texts weight 1).

    python model_cards/judging/2026-12-06-real-concern/variants.py   (output: variants.txt)
"""
import sys
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from callinkit.corpus import KINDS, pair_rows, read_records, read_splits
from callinkit.serve.embedder import SimilarityEmbedder
from callinkit.train.threat_probe import real_text_rows

sys.path.insert(0, str(Path(__file__).parent))
from texts import labelled_rows  # noqa: E402

new = labelled_rows()
print("new labelled", len(new), "none", sum(r["no_concern"] for r in new), "threat", sum(r["threat"] for r in new))
emb = SimilarityEmbedder(Path("bundles/rewriter_lm_op4/embedder"))
rows = pair_rows({k: read_records(k) for k in KINDS}, read_splits())
tr = [r for r in rows if r["split"] == "train"]
va = [r for r in rows if r["split"] == "validation"]
pd = [r for r in real_text_rows("../shared/data/paradetox") if not r["threat"] and r.get("sample", "random") == "random"]
new = [r for r in new if not r["threat"]]


def fold(rs, f):
    return [r for r in rs if r["fold"] == f]


sets = {"paradetox": fold(pd, "validation"),
        "toxic_spans": [r for r in fold(new, "validation") if r["sample"] == "toxic_spans"],
        "crowdcounter": [r for r in fold(new, "validation") if r["sample"] != "toxic_spans"]}
enc = {}


def embed(ts):
    miss = [t for t in dict.fromkeys(ts) if t not in enc]
    if miss:
        enc.update(zip(miss, emb.encode(miss)))
    return np.stack([enc[t] for t in ts])


def features(ts, cv):
    return embed(ts) if cv is None else sparse.hstack([sparse.csr_matrix(embed(ts)), cv.transform(ts)]).tocsr()


yv = np.array([r.get("strategy") == "no_concern" for r in va])
for name, extra in (("paradetox labels", []), ("+ new train fold", fold(new, "train"))):
    rtr = fold(pd, "train") + extra
    texts = [r["call_out"] for r in tr] + [r["text"] for r in rtr]
    y = np.array([r.get("strategy") == "no_concern" for r in tr] + [r["no_concern"] for r in rtr])
    for ng in (0, 2):
        cv = (CountVectorizer(ngram_range=(1, ng), min_df=3, binary=True, token_pattern=r"(?u)\b\w[\w']*\b").fit(texts)
              if ng else None)
        m = LogisticRegression(C=0.3, class_weight="balanced", max_iter=5000).fit(features(texts, cv), y)
        pv = m.predict_proba(features([r["call_out"] for r in va], cv))[:, 1]
        for th in (0.7, 0.8):
            out = [f"corpus no-concern {np.mean(pv[yv] >= th):.3f} others {np.mean(pv[~yv] >= th):.3f}"]
            for s, rs in sets.items():
                p = m.predict_proba(features([r["text"] for r in rs], cv))[:, 1] >= th
                yy = np.array([r["no_concern"] for r in rs])
                out.append(f"{s} no-concern {p[yy].sum()}/{yy.sum()} with a concern {p[~yy].sum()}/{(~yy).sum()}")
            print(f"{name}, {'embedding + 1-2-grams' if ng else 'embedding'} @{th}: " + " | ".join(out))
