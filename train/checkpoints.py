"""Finding Trainer checkpoints, shared by the classifier and rewriter recipes' --resume."""

from __future__ import annotations

from pathlib import Path


def last_checkpoint(folder: Path) -> Path | None:
    """The newest Trainer `checkpoint-N` folder in `folder` (by step number), or None."""
    found = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return found[-1] if found else None
