"""STA, SIM, chrF and the joint score J for call-out -> call-in rewrites (the TextDetox formulation)."""

import datasets
import evaluate
import numpy as np
from sacrebleu.metrics import CHRF

_DESCRIPTION = """
Rewrite quality for callinkit's rewriter, after the TextDetox shared task's joint score:
  STA  = share of outputs the classifier labels `call_in` (style transfer accuracy), or, with `target_labels`,
         the label each row's reference has (LABELS.md: a call-out with no concern beyond the attack, and a
         ParaDetox sentence, is rewritten as a neutral text, so there STA asks for `neutral`);
  SIM  = mean cosine between output and source sentence embeddings (all-MiniLM-L6-v2: the concern kept);
  chrF = corpus chrF (sacrebleu, 0-100) of outputs against the reference call-ins (fluency / closeness);
  J    = mean over sentences of STA_i x SIM_i x chrF_i, with chrF_i the sentence chrF in 0-1.
The classifier labels and similarities are computed outside (they need the models) and passed in.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): the rewrites.
    references (list of str): reference call-ins.
    output_labels (list of str): classifier label of each rewrite ("call_in" counts for STA).
    similarities (list of float): cosine of each rewrite to its source.
    target_labels (list of str, optional): the label that counts for STA in each row (default "call_in" for all).
Returns:
    sta, sim, chrf, j (floats), n (int).
Examples:
    >>> m = evaluate.load("callinkit/metrics/callin_rewrite")
    >>> m.compute(predictions=["a b c"], references=["a b c"], output_labels=["call_in"], similarities=[1.0])["j"]
    1.0
"""


class CallinRewrite(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Dementieva et al., Overview of the Multilingual Text Detoxification Task at PAN 2024.",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references, output_labels, similarities, target_labels=None):
        n = len(predictions)
        targets = ["call_in"] * n if target_labels is None else list(target_labels)
        if not (len(references) == len(output_labels) == len(similarities) == len(targets) == n):
            raise ValueError("predictions, references, output_labels, similarities and target_labels must have the "
                             "same length")
        sta_i = np.array([label == target for label, target in zip(output_labels, targets)], dtype=np.float64)
        sim_i = np.clip(np.asarray(similarities, dtype=np.float64), 0.0, 1.0)
        chrf = CHRF()
        chrf_i = np.array([chrf.sentence_score(p, [r]).score / 100.0 for p, r in zip(predictions, references)])
        return {
            "sta": float(sta_i.mean()) if n else 0.0,
            "sim": float(np.mean(similarities)) if n else 0.0,
            "chrf": float(chrf.corpus_score(list(predictions), [list(references)]).score) if n else 0.0,
            "j": float((sta_i * sim_i * chrf_i).mean()) if n else 0.0,
            "n": n,
        }
