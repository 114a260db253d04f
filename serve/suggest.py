"""`suggest(text)`: classify a message, and propose a call-in only when it is a call-out."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from callinkit.serve.classifier import Classifier, Prediction
from callinkit.serve.rewriter import Rewrite, Rewriter


@dataclass(frozen=True)
class Suggestion:
    label: str
    scores: dict[str, float]
    rewrite: Rewrite | None
    """A call-in rewrite when the label is call_out, else None. Check `rewrite.ok`: when no candidate passed
    the guard, `rewrite.text` is None and `rewrite.reason` says why."""

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "scores": dict(self.scores),
                "rewrite": self.rewrite.to_dict() if self.rewrite else None}


@lru_cache(maxsize=1)
def _default_models() -> tuple[Classifier, Rewriter]:
    return Classifier.load(), Rewriter.load()


def suggest(text: str, classifier: Classifier | None = None, rewriter: Rewriter | None = None,
            num_candidates: int | None = None) -> Suggestion:
    """Classify `text`; rewrite it as a call-in only when it is a call-out.

    num_candidates defaults to the rewriter bundle's `generation.num_candidates`. Without models given, loads
    the default bundles once ($CALLINKIT_CLASSIFIER_BUNDLE /
    $CALLINKIT_REWRITER_BUNDLE, else the shipped release) and reuses them.
    """
    if not isinstance(text, str):
        raise TypeError(f"suggest() takes a str, got {type(text).__name__}")
    if classifier is None or rewriter is None:
        default_classifier, default_rewriter = _default_models()
        classifier = classifier or default_classifier
        rewriter = rewriter or default_rewriter
    prediction: Prediction = classifier.predict_one(text)
    rewrite = rewriter.rewrite_one(text, num_candidates=num_candidates) if prediction.label == "call_out" else None
    return Suggestion(prediction.label, prediction.scores, rewrite)
