"""Torch-free inference on exported bundles (numpy + onnxruntime + tokenizers only).

Never import torch, transformers or anything from callinkit.train here: the inference install has neither.
"""

from callinkit.serve.classifier import Classifier, Prediction

__all__ = ["Classifier", "Prediction"]
