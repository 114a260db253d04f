"""TF-IDF + logistic regression baseline for the classifier, on the same corpus splits.

    python bench/tfidf_baseline.py [--out runs/tfidf_baseline.json]

Trains on the corpus train split (word 1-2-grams + char 2-5-grams, class-balanced logistic regression,
C tuned on validation) and reports test macro-F1 overall, per class and on the unseen-topic slice with the
same evaluate modules as `callinkit eval`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/tfidf_baseline.json")
    args = parser.parse_args()

    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from callinkit.config import LABELS
    from callinkit.corpus import KINDS, classification_rows, read_records, read_splits
    from callinkit.train.evaluation import classification_metrics, format_table

    rows = classification_rows({k: read_records(k) for k in KINDS}, read_splits())
    split = {s: [r for r in rows if r["split"] == s] for s in ("train", "validation", "test")}
    word = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)
    texts = {s: [r["text"] for r in v] for s, v in split.items()}
    x_train = hstack([word.fit_transform(texts["train"]), char.fit_transform(texts["train"])]).tocsr()

    def features(s):
        return hstack([word.transform(texts[s]), char.transform(texts[s])]).tocsr()

    y = {s: np.array([LABELS.index(r["label"]) for r in v]) for s, v in split.items()}
    best = None
    for c in (0.5, 1.0, 2.0, 4.0, 8.0):
        model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced").fit(x_train, y["train"])
        f1 = classification_metrics(model.predict_proba(features("validation")), y["validation"], LABELS)["macro_f1"]
        if best is None or f1 > best[0]:
            best = (f1, c, model)
    _, c, model = best
    probs = model.predict_proba(features("test"))
    unseen = np.array([r["unseen_topic"] for r in split["test"]])
    results = {"validation": classification_metrics(model.predict_proba(features("validation")), y["validation"], LABELS),
               "test": classification_metrics(probs, y["test"], LABELS),
               "test:unseen_topics": classification_metrics(probs[unseen], y["test"][unseen], LABELS)}
    print(f"TF-IDF + logistic regression (C={c})")
    print(format_table(results, LABELS))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"C": c, "results": results}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
