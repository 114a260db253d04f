"""Prometheus metrics of one app, in the app's own registry (several apps in one process don't clash)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServerMetrics:
    """Request counts and latencies by route and status, and per model: batch sizes, queue depth, compute time."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("callinkit_http_requests", "HTTP requests answered, by route template and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("callinkit_http_request_duration_seconds",
                                 "Time from request received to response sent, by route template and status",
                                 ["method", "route", "status"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("callinkit_batch_size", "Texts per model call", ["model"],
                                    buckets=BATCH_BUCKETS, registry=self.registry)
        self.queue_depth = Gauge("callinkit_queue_depth", "Texts waiting for a model", ["model"],
                                 registry=self.registry)
        self.inference = Histogram("callinkit_inference_duration_seconds", "Model time per batch", ["model"],
                                   buckets=LATENCY_BUCKETS, registry=self.registry)
        self.dropped = Counter("callinkit_dropped_texts", "Texts dropped before compute (caller gone or "
                               "deadline passed)", ["model", "reason"], registry=self.registry)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route, str(status)).observe(seconds)

    def for_model(self, model: str) -> ModelObserver:
        return ModelObserver(self, model)

    def render(self) -> bytes:
        return generate_latest(self.registry)


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
