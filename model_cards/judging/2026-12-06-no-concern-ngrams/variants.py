"""The no-concern probe with and without word 1-2-grams (scikit-learn), on validation data: corpus validation
pairs' call-outs (strategy no_concern against the others) and the labelled real texts' validation fold (random
sample, threats left out), at thresholds 0.5-0.8. Fitted as train/threat_probe.no_concern_probe fits it (corpus
train call-outs + the random sample's non-threats, weight 1, C 0.3, balanced).

    python model_cards/judging/2026-12-06-no-concern-ngrams/variants.py
"""
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from callinkit.corpus import KINDS, pair_rows, read_records, read_splits
from callinkit.serve.embedder import SimilarityEmbedder
from callinkit.train.threat_probe import real_text_rows

emb = SimilarityEmbedder(Path("bundles/rewriter_lm_op4/embedder"))
rows = pair_rows({k: read_records(k) for k in KINDS}, read_splits())
tr = [r for r in rows if r["split"] == "train"]
va = [r for r in rows if r["split"] == "validation"]
real = [r for r in real_text_rows("../shared/data/paradetox") if not r["threat"] and r.get("sample", "random") == "random"]
rtr = [r for r in real if r["fold"] == "train"]
rva = [r for r in real if r["fold"] == "validation"]
texts_tr = [r["call_out"] for r in tr] + [r["text"] for r in rtr]
y = np.array([r.get("strategy") == "no_concern" for r in tr] + [r["no_concern"] for r in rtr])
w = np.concatenate([np.ones(len(tr)), np.ones(len(rtr))])
e_tr = emb.encode(texts_tr)
va_t, rva_t = [r["call_out"] for r in va], [r["text"] for r in rva]
e_va, e_rva = emb.encode(va_t), emb.encode(rva_t)
yv = np.array([r.get("strategy") == "no_concern" for r in va])
yr = np.array([r["no_concern"] for r in rva])


def report(name, pv, pr):
    for th in (0.5, 0.6, 0.7, 0.8):
        fv, fr = pv >= th, pr >= th
        print(f"{name} @{th}: corpus no-concern {fv[yv].mean():.3f} others {fv[~yv].mean():.3f} ({fv[~yv].sum()}/"
              f"{(~yv).sum()}) | real no-concern {fr[yr].mean():.3f} ({fr[yr].sum()}/{yr.sum()}) others "
              f"{fr[~yr].sum()}/{(~yr).sum()}")


m = LogisticRegression(C=0.3, class_weight="balanced", max_iter=2000).fit(e_tr, y, sample_weight=w)
report("embedding", m.predict_proba(e_va)[:, 1], m.predict_proba(e_rva)[:, 1])
cv = CountVectorizer(ngram_range=(1, 2), min_df=3, binary=True, token_pattern=r"(?u)\b\w[\w']*\b")
x_tr = sparse.hstack([sparse.csr_matrix(e_tr), cv.fit_transform(texts_tr)]).tocsr()
m = LogisticRegression(C=0.3, class_weight="balanced", max_iter=5000).fit(x_tr, y, sample_weight=w)
report("embedding + 2-grams", m.predict_proba(sparse.hstack([sparse.csr_matrix(e_va), cv.transform(va_t)]).tocsr())[:, 1],
       m.predict_proba(sparse.hstack([sparse.csr_matrix(e_rva), cv.transform(rva_t)]).tocsr())[:, 1])
