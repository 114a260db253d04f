"""Torch-free inference on exported bundles (numpy + onnxruntime + tokenizers only).

Never import torch, transformers or anything from callinkit.train here: the inference install has neither.
"""

from callinkit.serve.classifier import Classifier, Explanation, Prediction, Span
from callinkit.serve.rewriter import Candidate, Rewrite, Rewriter
from callinkit.serve.suggest import Suggestion, suggest

__all__ = ["Candidate", "Classifier", "Explanation", "Prediction", "Rewrite", "Rewriter", "Span", "Suggestion", "suggest"]
