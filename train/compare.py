"""Two classifier bundles on the same evaluation slices, with paired bootstrap intervals of their difference.

    python -m callinkit.train.compare BUNDLE_A BUNDLE_B [--data all] [--resamples 1000] [--out FILE.json]

Both bundles label the same rows of each slice (`callinkit eval`'s data specs), in the same batches, so the
comparison is like for like (an int8 bundle's labels depend slightly on which texts share a batch). For each
slice it prints the metric of A and of B (macro-F1 over the labels present; accuracy when a slice has one
label) and B - A with a 95% interval from resampling rows with replacement, the same rows for both models.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def slice_metric(truth: np.ndarray, pred: np.ndarray, present: Sequence[int]) -> float:
    """Macro-F1 over the labels present in the slice (as the `callin_classification` metric computes it), or
    accuracy when it has a single label. A plain-numpy copy of that metric's F1, because the bootstrap calls it
    thousands of times; tests/test_compare.py checks the two agree."""
    if len(present) == 1:
        return float((truth == pred).mean())
    f1s = []
    for label in present:
        tp = int(((pred == label) & (truth == label)).sum())
        fp = int(((pred == label) & (truth != label)).sum())
        fn = int(((pred != label) & (truth == label)).sum())
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(f1s))


def paired_bootstrap(truth: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, resamples: int = 1000,
                     seed: int = 0) -> dict[str, float]:
    """The metric of A and B on the slice, B - A, and a 95% interval of B - A over row resamples."""
    present = sorted(set(truth.tolist()))
    rng = np.random.default_rng(seed)
    deltas = []
    for _ in range(resamples):
        i = rng.integers(0, len(truth), len(truth))
        deltas.append(slice_metric(truth[i], pred_b[i], present) - slice_metric(truth[i], pred_a[i], present))
    a, b = slice_metric(truth, pred_a, present), slice_metric(truth, pred_b, present)
    low, high = np.percentile(deltas, [2.5, 97.5])
    return {"a": a, "b": b, "delta": b - a, "low": float(low), "high": float(high), "n": int(len(truth)),
            "metric": "accuracy" if len(present) == 1 else "macro_f1"}


def compare(bundle_a: str, bundle_b: str, data: str = "all", resamples: int = 1000) -> dict[str, dict[str, Any]]:
    from callinkit import Classifier
    from callinkit.train.evaluation import read_eval_data

    a, b = Classifier.load(bundle_a), Classifier.load(bundle_b)
    if a.labels != b.labels:
        raise SystemExit(f"the bundles have different labels: {a.labels} and {b.labels}")
    out = {}
    for name, rows in read_eval_data(data).items():
        truth = np.array([a.labels.index(r["label"]) for r in rows])
        texts = [r["text"] for r in rows]
        out[name] = paired_bootstrap(truth, a.predict_proba(texts).argmax(1), b.predict_proba(texts).argmax(1),
                                     resamples)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m callinkit.train.compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle_a")
    parser.add_argument("bundle_b")
    parser.add_argument("--data", default="all", help="an eval data spec, as for `callinkit eval` (default: all)")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--out", type=Path, help="write the figures as JSON")
    args = parser.parse_args(argv)
    result = compare(args.bundle_a, args.bundle_b, args.data, args.resamples)
    print(f"{'slice':<45} {'n':>6} {'metric':>8} {'A':>6} {'B':>6} {'B - A [95%]':>24}")
    for name, r in result.items():
        print(f"{name:<45} {r['n']:>6} {r['metric']:>8} {r['a']:6.3f} {r['b']:6.3f} "
              f"{r['delta']:+.3f} [{r['low']:+.3f}, {r['high']:+.3f}]")
    if args.out:
        args.out.write_text(json.dumps({"a": args.bundle_a, "b": args.bundle_b, "results": result}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
