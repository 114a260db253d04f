"""Threat probe variants on validation data (scikit-learn's CountVectorizer for the n-grams; the shipped code
reimplements it, train/threat_probe.py): the shipped embedding probe, an embedding probe fitted with each set of
labelled real samples, embedding + word 1-2-grams (C 0.3 and 1, thresholds 0.4 and 0.5), and the n-gram probe with
the shipped probe beside it as a backstop at 0.7-0.9. Corpus validation split, the labelled real texts' validation
fold (both samples), and the 100 held-out ParaDetox comments of eval_op4.json. Patterns beside every probe.

    python model_cards/judging/2026-12-06-threat-ngrams/probe_variants.py [EMBEDDING_CACHE.npz]
"""
import json
import sys
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from callinkit.corpus import load_corpus
from callinkit.guard import THREAT_RE
from callinkit.serve.embedder import SimilarityEmbedder, probe_probability
from callinkit.train.threat_probe import real_text_rows

TOKEN = r"(?u)\b\w[\w']*\b"
c = load_corpus("classification")
tr, va = list(c["train"]), list(c["validation"])
real = real_text_rows("../shared/data/paradetox")
rtr = [r for r in real if r["fold"] == "train"]
rva = [r for r in real if r["fold"] == "validation"]
cache = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/callinkit_probe_variants.npz")
emb = SimilarityEmbedder(Path("bundles/rewriter_lm_op4/embedder"))
if not cache.exists():
    np.savez(cache, e=emb.encode([r["text"] for r in tr + va + rtr + rva]))
E = np.load(cache)["e"]
n1, n2, n3 = len(tr), len(tr) + len(va), len(tr) + len(va) + len(rtr)
Eva, Erva, Ertr = E[n1:n2], E[n3:], E[n2:n3]
held = [r["source"] for r in json.load(open("model_cards/judging/2026-12-06-onpolicy-dpo4/eval_op4.json"))["samples"]
        ["paradetox_heldout"]]
Eh = emb.encode(held)
yva = np.array([r.get("style") == "threat" for r in va])
other = np.array([r["label"] == "call_out" for r in va]) & ~yva
yr = np.array([r["threat"] for r in rva])
rnd = np.array([(r["labeller"] or 0) <= 4 for r in rva])


def pat(texts):
    return np.array([bool(THREAT_RE.search(t)) for t in texts])


va_t, rva_t = [r["text"] for r in va], [r["text"] for r in rva]
pva, pr, ph = pat(va_t), pat(rva_t), pat(held)


def report(name, a, b, h, th=0.5):
    f, g, k = (a >= th) | pva, (b >= th) | pr, (h >= th) | ph
    print(f"{name} @{th}: corpus threats {f[yva].mean():.3f} others {f[other].mean():.3f} | real threats "
          f"{g[yr].sum()}/{yr.sum()} (random {g[yr & rnd].sum()}/{(yr & rnd).sum()}, violent {g[yr & ~rnd].sum()}/"
          f"{(yr & ~rnd).sum()}) others {g[~yr].sum()}/{(~yr).sum()} (random {g[~yr & rnd].sum()}/{(~yr & rnd).sum()})"
          f" | heldout PD flagged {k.sum()}/100")


def fit_ngram(etr, texts, y, w, c):
    cv = CountVectorizer(ngram_range=(1, 2), min_df=3, binary=True, token_pattern=TOKEN)
    xt = cv.fit_transform(texts)
    m = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    m.fit(sparse.hstack([sparse.csr_matrix(etr), xt]).tocsr(), y, sample_weight=w)
    return lambda e, t: m.predict_proba(sparse.hstack([sparse.csr_matrix(e), cv.transform(t)]).tocsr())[:, 1]


shipped = json.loads(Path("bundles/rewriter_lm_op4/threat_probe.json").read_text())
report("shipped", probe_probability(shipped, Eva), probe_probability(shipped, Erva), probe_probability(shipped, Eh))
for samples in (("random",), ("random", "violent_words")):
    keep = [i for i, r in enumerate(rtr) if (r.get("sample") or "random") in samples]
    rt = [rtr[i] for i in keep]
    etr = np.concatenate([E[:n1], Ertr[keep]])
    ytr = np.array([r.get("style") == "threat" for r in tr] + [r["threat"] for r in rt])
    w = np.concatenate([np.ones(len(tr)), np.full(len(rt), 10.0)])
    m = LogisticRegression(C=0.3, max_iter=3000, class_weight="balanced").fit(etr, ytr, sample_weight=w)
    report(f"emb {samples}", m.predict_proba(Eva)[:, 1], m.predict_proba(Erva)[:, 1], m.predict_proba(Eh)[:, 1])
    for c_ in (0.3, 1.0):
        f = fit_ngram(etr, [r["text"] for r in tr + rt], ytr, w, c_)
        a, b, h = f(Eva, va_t), f(Erva, rva_t), f(Eh, held)
        for th in (0.4, 0.5):
            report(f"emb+ngram C{c_} {samples}", a, b, h, th)
print("--- the n-gram probe (both samples, C 0.3) with the shipped probe beside it at a high threshold")
etr = np.concatenate([E[:n1], Ertr])
ytr = np.array([r.get("style") == "threat" for r in tr] + [r["threat"] for r in rtr])
w = np.concatenate([np.ones(len(tr)), np.full(len(rtr), 10.0)])
f = fit_ngram(etr, [r["text"] for r in tr + rtr], ytr, w, 0.3)
a, b, h = f(Eva, va_t), f(Erva, rva_t), f(Eh, held)
sa, sb, sh = probe_probability(shipped, Eva), probe_probability(shipped, Erva), probe_probability(shipped, Eh)
for t in (0.7, 0.8, 0.9):
    report(f"ngram | shipped>={t}", np.maximum(a, (sa >= t) * 1.0), np.maximum(b, (sb >= t) * 1.0),
           np.maximum(h, (sh >= t) * 1.0))
for x, y, t in sorted((float(x), float(y), r["text"]) for x, y, r, p, t in zip(a, sa, va, pva, yva)
                      if t and x < 0.5 and not p):
    print(f"  missed by the n-gram probe {x:.2f}, shipped {y:.2f} | {t[:150]}")
