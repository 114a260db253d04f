"""The project's metrics, written as `evaluate` modules and loaded by path (hub metric scripts need a
network). `load_metric("callin_classification")` is `evaluate.load(<this folder>/callin_classification)`.
"""

from __future__ import annotations

from pathlib import Path

METRICS_DIR = Path(__file__).resolve().parent


def metric_path(name: str) -> Path:
    """The folder of one of the project's evaluate modules."""
    path = METRICS_DIR / name
    if not (path / f"{name}.py").is_file():
        known = sorted(p.name for p in METRICS_DIR.iterdir() if (p / f"{p.name}.py").is_file())
        raise ValueError(f"unknown metric {name!r}; the project's metrics are {known}")
    return path


def load_metric(name: str, **kwargs):
    """`evaluate.load` on one of the project's metric modules (offline)."""
    import evaluate

    return evaluate.load(str(metric_path(name)), **kwargs)
