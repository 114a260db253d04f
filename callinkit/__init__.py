"""callinkit: classify call-outs and rewrite them as call-ins with compact ONNX models.

    >>> from callinkit import Classifier
    >>> Classifier.load("bundles/classifier").predict(["you absolute clown, delete this"])
    [Prediction(label='call_out', scores={...})]

Importing callinkit never imports torch or transformers; training lives in callinkit.train (extra
`[train]`), serving over HTTP in `callinkit serve` (extra `[serve]`).
"""

from callinkit.errors import BundleError, CallinkitError, ConfigError
from callinkit.serve import Candidate, Classifier, Prediction, Rewrite, Rewriter, Suggestion, suggest

__version__ = "0.1.0"

__all__ = ["BundleError", "CallinkitError", "Candidate", "Classifier", "ConfigError", "Prediction", "Rewrite",
           "Rewriter", "Suggestion", "__version__", "suggest"]
