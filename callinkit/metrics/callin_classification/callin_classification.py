"""Macro-F1, per-class precision/recall/F1, accuracy and the confusion matrix for callinkit labels."""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = """
Classification report for the call_out / call_in / neutral task (or any label set): accuracy, macro-F1
(the unweighted mean of per-class F1, the headline number because classes are imbalanced), per-class
precision, recall, F1 and support, and the confusion matrix (rows = reference, columns = prediction).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted label ids.
    references (list of int): reference label ids.
    label_names (list of str, optional): names of label ids 0..K-1; default: call_out, call_in, neutral.
Returns:
    accuracy, macro_f1 (mean F1 over the labels that occur in the references, so a slice without one class,
    such as the unseen-topic slice that has no neutral texts, is not scored on it), and for each label `<name>_precision`, `<name>_recall`, `<name>_f1`,
    `<name>_support`; `confusion_matrix` as a list of lists.
Examples:
    >>> m = evaluate.load("callinkit/metrics/callin_classification")
    >>> m.compute(predictions=[0, 1, 2], references=[0, 1, 1])["accuracy"]
    0.6666666666666666
"""

DEFAULT_LABELS = ["call_out", "call_in", "neutral"]


class CallinClassification(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references, label_names=None):
        names = list(label_names or DEFAULT_LABELS)
        k = len(names)
        pred = np.asarray(predictions, dtype=np.int64)
        ref = np.asarray(references, dtype=np.int64)
        if pred.size and (pred.max() >= k or ref.max() >= k or pred.min() < 0 or ref.min() < 0):
            raise ValueError(f"label ids must be in 0..{k - 1} for labels {names}")
        cm = np.zeros((k, k), dtype=np.int64)
        np.add.at(cm, (ref, pred), 1)
        out = {"accuracy": float((pred == ref).mean()) if ref.size else 0.0}
        f1s = []
        present = set(ref.tolist())
        for i, name in enumerate(names):
            tp = cm[i, i]
            predicted = cm[:, i].sum()
            actual = cm[i, :].sum()
            precision = tp / predicted if predicted else 0.0
            recall = tp / actual if actual else 0.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            out[f"{name}_precision"] = float(precision)
            out[f"{name}_recall"] = float(recall)
            out[f"{name}_f1"] = float(f1)
            out[f"{name}_support"] = int(actual)
            if i in present:
                f1s.append(f1)
        out["macro_f1"] = float(np.mean(f1s)) if f1s else 0.0
        out["confusion_matrix"] = cm.tolist()
        return out
