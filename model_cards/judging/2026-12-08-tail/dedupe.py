"""The fresh call-outs of this check: the two writers' files (`writers.md`) without near duplicates of the corpus or of
each other (character 3-5-gram TF-IDF cosine >= 0.7 to any corpus call-out, call-in or single text; within the new
set, the later of a pair >= 0.7 goes).

    python model_cards/judging/2026-12-08-tail/dedupe.py WRITER_A.jsonl WRITER_B.jsonl    # writes fresh_callouts.jsonl
"""
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from callinkit.corpus import KINDS, pair_rows, read_records, read_splits

records = {k: read_records(k) for k in KINDS}
rows = pair_rows(records, read_splits())
corpus = [r["call_out"] for r in rows] + [r["call_in"] for r in rows]
corpus += [r.data["text"] for rs in records.values() for r in rs if isinstance(r.data.get("text"), str)]
new = [dict(json.loads(line), writer=w) for w, f in zip("AB", sys.argv[1:3]) for line in open(f)]
texts = [r["call_out"] for r in new]
vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).fit(corpus + texts)
to_corpus = cosine_similarity(vec.transform(texts), vec.transform(corpus)).max(1)
within = cosine_similarity(vec.transform(texts))
keep = []
for i, r in enumerate(new):
    if to_corpus[i] >= 0.7 or any(within[i, j] >= 0.7 for j in keep):
        print(f"dropped ({to_corpus[i]:.2f} to the corpus): {r['call_out']}")
        continue
    keep.append(i)
out = Path(__file__).parent / "fresh_callouts.jsonl"
with out.open("w", encoding="utf-8") as fh:
    for n, i in enumerate(keep):
        fh.write(json.dumps({"id": f"f{n:03d}", **new[i]}, ensure_ascii=False) + "\n")
print(len(keep), "of", len(new), "kept ->", out, "; max similarity to the corpus", round(float(np.max(to_corpus[keep])), 3))
