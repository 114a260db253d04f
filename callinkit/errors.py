"""Errors that describe a user mistake (bad config, missing file, bad bundle).

The CLI prints these as one clear message without a traceback; everything else is a bug and keeps its
traceback.
"""

from __future__ import annotations


class CallinkitError(Exception):
    """Base class for errors caused by input the user can fix."""


class ConfigError(CallinkitError):
    """A config file or override is invalid. `problems` lists every problem found, not just the first."""

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s){where}:\n{lines}")


class BundleError(CallinkitError):
    """An export bundle is missing, incomplete, or of an unsupported format version."""


class DataError(CallinkitError):
    """A data file is missing or does not match the supported formats."""


class TrainingInterrupted(CallinkitError):
    """Training stopped on SIGINT/SIGTERM after saving a checkpoint; `--resume` continues it."""
