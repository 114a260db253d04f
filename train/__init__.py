"""Training, evaluation and export (needs the `[train]` extra: torch, transformers, datasets, ...).

One self-contained recipe per model: `classifier.py` (and `rewriter.py`), each with setup / train / save.
"""
