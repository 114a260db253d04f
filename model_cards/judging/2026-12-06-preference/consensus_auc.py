"""Does anything cheaper than the model's log-probability find the bad candidates? (session 13)

On the 621 judged candidates of ../2026-12-04-logprob/ (the ones with another candidate of the same call-out):
AUC for "not bad" (majority of its judges) of the agreement among a call-out's candidates (mean chrF to the
others, as minimum-Bayes-risk reranking would use), chrF to the source, the share of content words not in the
source, MiniLM similarity, length, the log-probability, and a logistic model of all of them (5-fold CV,
grouped by call-out). Run from the repository root."""

import collections
import json
import re
from pathlib import Path

import numpy as np
from sacrebleu.metrics import CHRF
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold

D = Path("model_cards/judging/2026-12-04-logprob")
STOP = set("""a an the and or but if of to in on at for with by from as is are was were be been being it its this
that these those i you he she they we me him her them us my your his their our not no so do does did can could would
should will just what why how who when where which there here than then too very also about like im it's i'm you're
don't""".split())


def jsonl(path):
    return [json.loads(line) for line in open(path)]


def words(text):
    return re.findall(r"[a-z0-9']+", text.lower())


def auc(pos, neg):
    return sum((p > q) + 0.5 * (p == q) for p in pos for q in neg) / (len(pos) * len(neg))


items = {j["id"]: j for j in jsonl(D / "items.jsonl")}
keys = {j["id"]: j for j in jsonl(D / "keys.jsonl")}
ratings = collections.defaultdict(list)
for k in (1, 2, 3):
    for v in jsonl(D / f"verdicts_{k}.jsonl"):
        ratings[v["id"]].append(v["rating"])
chrf = CHRF()
by_source = collections.defaultdict(list)
for i in items:
    by_source[keys[i]["id_src"]].append(i)

features, good, groups = [], [], []
for source_id, ids in by_source.items():
    for i in ids:
        others = [items[j]["candidate"] for j in ids if j != i]
        if i not in ratings or not others:
            continue
        source, cand = items[i]["source"], items[i]["candidate"]
        consensus = sum(chrf.sentence_score(cand, [o]).score for o in others) / len(others)
        content = [w for w in words(cand) if w not in STOP]
        new = sum(w not in set(words(source)) for w in content) / max(1, len(content))
        k = keys[i]
        features.append({"consensus": consensus, "chrf_src": chrf.sentence_score(cand, [source]).score,
                         "old_words": -new, "sim": k["similarity"], "short": -len(cand), "lp_mean": k["lp_mean"],
                         "lp_min3": k["lp_min3"], "call_in": k["call_in"]})
        good.append(int(sum(r == "bad" for r in ratings[i]) <= len(ratings[i]) / 2))
        groups.append(source_id)
y = np.array(good)
print(f"{len(y)} judged candidates with another candidate of the same call-out; {y.sum()} not bad")
for name in ("consensus", "chrf_src", "old_words", "sim", "short", "lp_mean"):
    values = [f[name] for f in features]
    print(f"AUC not bad, {name:10s}: {auc([v for v, g in zip(values, y) if g], [v for v, g in zip(values, y) if not g]):.3f}")
X = np.array([[f[n] for n in sorted(features[0])] for f in features])
for cols in (["lp_mean"], ["lp_mean", "chrf_src", "old_words"], sorted(features[0])):
    idx = [sorted(features[0]).index(c) for c in cols]
    pred = np.zeros(len(y))
    for train, test in GroupKFold(5).split(X, y, groups):
        model = LogisticRegression(max_iter=1000).fit(X[train][:, idx], y[train])
        pred[test] = model.predict_proba(X[test][:, idx])[:, 1]
    print(f"logistic model of {cols}: grouped-CV AUC {roc_auc_score(y, pred):.3f}")
