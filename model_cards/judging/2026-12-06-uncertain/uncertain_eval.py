"""Does the classifier's `uncertain` flag single out rewrites that should not be suggested? (session 12)

    python model_cards/judging/2026-12-06-uncertain/uncertain_eval.py

Corpus-test texts the shipped classifier (v4, fused) labels call_out, in four groups (uncertain or not, truly a
call-out or not), up to 40 each (seeded), rewritten by bundles/rewriter_lm_s12 with its guard (k = 4). The
answered ones went to a blind judge (items.jsonl, shuffled; key.json; verdicts.jsonl).
"""
import json
import random

from callinkit import Classifier, Rewriter
from callinkit.corpus import KINDS, classification_rows, read_records, read_splits

rows = [r for r in classification_rows({k: read_records(k) for k in KINDS}, read_splits()) if r["split"] == "test"]
clf = Classifier.load()
preds = clf.predict([r["text"] for r in rows])
groups = {"uncertain true call-out": [], "certain true call-out": [], "uncertain false call-out": [], "certain false call-out": []}
for r, p in zip(rows, preds):
    if p.label != "call_out":
        continue
    g = ("uncertain " if p.uncertain else "certain ") + ("true" if r["label"] == "call_out" else "false") + " call-out"
    groups[g].append((r["text"], r["label"], round(p.scores["call_out"], 2)))
rnd = random.Random(0)
rw = Rewriter.load("bundles/rewriter_lm_s12", classifier=clf)
out = {}
for g, items in groups.items():
    sample = rnd.sample(items, min(40, len(items)))
    res = []
    for text, gold, pco in sample:
        rwt = rw.rewrite_one(text)
        res.append({"text": text, "gold": gold, "p_call_out": pco, "ok": rwt.ok, "rewrite": rwt.text})
    out[g] = res
    print(g, "n", len(res), "answered", sum(x["ok"] for x in res), flush=True)
json.dump(out, open("model_cards/judging/2026-12-06-uncertain/outputs.json", "w"), indent=1)
