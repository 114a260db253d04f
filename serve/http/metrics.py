"""Prometheus metrics of one app, in the app's own registry (several apps in one process don't clash).

With `callinkit serve --workers N` every worker is its own process with its own counters, and a scrape of
/metrics reaches one of them. The server then runs prometheus_client's multiprocess mode: `callinkit serve`
prepares a folder (PROMETHEUS_MULTIPROC_DIR, `multiprocess_folder`) before the workers start, every worker
writes its values there, and /metrics answers the sum over all workers, whichever one serves the scrape.
Counters and histograms of a worker that exited stay in the sums (they are totals since the server started);
the queue-depth gauge counts live workers only, and the compute-time estimate shows the highest of the live
workers'.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

log = logging.getLogger(__name__)


class ServerMetrics:
    """Request counts and latencies by route and status, and per model: batch sizes, queue depth, compute time
    (measured per batch, and the batcher's moving estimate per text)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.folder = _multiprocess_folder_in_use()
        self.requests = Counter("callinkit_http_requests", "HTTP requests answered, by route template and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("callinkit_http_request_duration_seconds",
                                 "Time from request received to response sent, by route template and status",
                                 ["method", "route", "status"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("callinkit_batch_size", "Texts per model call", ["model"],
                                    buckets=BATCH_BUCKETS, registry=self.registry)
        self.queue_depth = Gauge("callinkit_queue_depth", "Texts waiting for a model", ["model"],
                                 registry=self.registry, multiprocess_mode="livesum")
        self.inference = Histogram("callinkit_inference_duration_seconds", "Model time per batch", ["model"],
                                   buckets=LATENCY_BUCKETS, registry=self.registry)
        self.seconds_per_text = Gauge("callinkit_compute_seconds_per_text", "The batcher's moving estimate of model "
                                      "time per text, by which requests that would miss their deadline get 429",
                                      ["model"], registry=self.registry, multiprocess_mode="livemax")
        self.dropped = Counter("callinkit_dropped_texts", "Texts dropped before compute (caller gone or "
                               "deadline passed)", ["model", "reason"], registry=self.registry)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route, str(status)).observe(seconds)

    def for_model(self, model: str) -> ModelObserver:
        return ModelObserver(self, model)

    def render(self) -> bytes:
        """The exposition text: this app's registry, or the sum over every worker in multiprocess mode."""
        if self.folder is None:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        _forget_dead_workers(self.folder)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(self.folder))
        return generate_latest(registry)

    def close(self) -> None:
        """At worker shutdown: take this process's queue depth out of the live sum."""
        if self.folder is not None:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid(), str(self.folder))


class ModelObserver:
    """The `BatchObserver` of one model's batcher, writing into `ServerMetrics`."""

    def __init__(self, metrics: ServerMetrics, model: str) -> None:
        self._metrics = metrics
        self._model = model
        metrics.queue_depth.labels(model).set(0)

    def queued(self, depth: int) -> None:
        self._metrics.queue_depth.labels(self._model).set(depth)

    def computed(self, batch_size: int, seconds: float) -> None:
        self._metrics.batch_size.labels(self._model).observe(batch_size)
        self._metrics.inference.labels(self._model).observe(seconds)

    def dropped(self, reason: str, count: int) -> None:
        self._metrics.dropped.labels(self._model, reason).inc(count)

    def estimated(self, seconds_per_text: float) -> None:
        self._metrics.seconds_per_text.labels(self._model).set(seconds_per_text)


def _multiprocess_folder_in_use() -> Path | None:
    """The multiprocess folder, when prometheus_client runs in multiprocess mode in this process.

    prometheus_client chooses its mode once, when it is first imported (by PROMETHEUS_MULTIPROC_DIR); if the
    variable was set later, this process keeps its values in memory and /metrics shows them alone."""
    from prometheus_client import values

    folder = os.environ.get(MULTIPROC_ENV)
    if folder and getattr(values.ValueClass, "_multiprocess", False):
        return Path(folder)
    return None


def _forget_dead_workers(folder: Path) -> None:
    """Drop the live-gauge files of worker processes that no longer run (a worker that crashed never said)."""
    from prometheus_client import multiprocess

    for file in folder.glob("gauge_live*_*.db"):
        pid = file.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), str(folder))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def multiprocess_folder() -> Iterator[Path]:
    """Set up PROMETHEUS_MULTIPROC_DIR for the worker processes about to start, in this (supervisor) process.

    A folder already named by PROMETHEUS_MULTIPROC_DIR is created if missing and emptied of metric files
    (`*.db`): files left by an earlier server would add its counts to this one's. Otherwise a new temporary
    folder is made, and removed when the server stops."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        stale = list(folder.glob("*.db"))
        for file in stale:
            file.unlink()
        log.info("metrics: %s=%s (%d files of an earlier run removed)", MULTIPROC_ENV, folder, len(stale))
    else:
        folder = Path(tempfile.mkdtemp(prefix="callinkit-metrics-"))
        os.environ[MULTIPROC_ENV] = str(folder)
        log.info("metrics: workers aggregate through %s", folder)
    try:
        yield folder
    finally:
        if not given:
            os.environ.pop(MULTIPROC_ENV, None)
            shutil.rmtree(folder, ignore_errors=True)
