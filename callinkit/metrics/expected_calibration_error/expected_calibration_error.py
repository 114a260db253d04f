"""Expected calibration error (ECE) of a classifier's top-label confidence."""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = """
Expected calibration error: predictions are binned by their top-label confidence into `n_bins` equal-width
bins; ECE is the support-weighted mean over bins of |accuracy - mean confidence|. 0 is perfectly calibrated.
Also returns the maximum calibration error (MCE) and the per-bin table used to draw a reliability diagram.
"""

_KWARGS_DESCRIPTION = """
Args:
    probabilities (list of list of float): per-class probabilities for each example (rows sum to 1).
    references (list of int): reference label ids.
    n_bins (int, optional): number of equal-width confidence bins, default 10.
Returns:
    ece (float), mce (float), bins (list of {lower, upper, count, accuracy, confidence}).
Examples:
    >>> m = evaluate.load("callinkit/metrics/expected_calibration_error")
    >>> m.compute(probabilities=[[0.9, 0.1], [0.2, 0.8]], references=[0, 1])["ece"]
    0.15000000000000002
"""


class ExpectedCalibrationError(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Guo et al., On Calibration of Modern Neural Networks, ICML 2017.",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "probabilities": datasets.Sequence(datasets.Value("float64")),
                    "references": datasets.Value("int64"),
                }
            ),
        )

    def _compute(self, probabilities, references, n_bins=10):
        probs = np.asarray(probabilities, dtype=np.float64)
        ref = np.asarray(references, dtype=np.int64)
        if probs.ndim != 2 or probs.shape[0] != ref.shape[0]:
            raise ValueError("probabilities must be an (examples, classes) table with one row per reference")
        confidence = probs.max(axis=1)
        correct = (probs.argmax(axis=1) == ref).astype(np.float64)
        edges = np.linspace(0.0, 1.0, n_bins + 1)
        # Bin i holds confidences in (edges[i], edges[i+1]]; a confidence of exactly 0 goes in bin 0.
        index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
        ece = 0.0
        mce = 0.0
        bins = []
        for i in range(n_bins):
            mask = index == i
            count = int(mask.sum())
            if count:
                acc = float(correct[mask].mean())
                conf = float(confidence[mask].mean())
                gap = abs(acc - conf)
                ece += gap * count / len(ref)
                mce = max(mce, gap)
            else:
                acc = conf = 0.0
            bins.append({"lower": float(edges[i]), "upper": float(edges[i + 1]), "count": count,
                         "accuracy": acc, "confidence": conf})
        return {"ece": float(ece), "mce": float(mce), "bins": bins}
