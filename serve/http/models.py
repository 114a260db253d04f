"""The models a server hosts: loading them off the event loop, one batcher each, and their status.

The classifier is `callinkit.serve.Classifier`; the rewriter is `callinkit.serve.Rewriter`, imported only
when a rewriter bundle is configured. Both are used by duck typing (`predict(texts)`,
`rewrite(texts, num_candidates, max_new_tokens)`), so tests and embedders can pass their own loaders.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from callinkit.serve.http.batching import DynamicBatcher
from callinkit.serve.http.errors import ApiError
from callinkit.serve.http.metrics import ServerMetrics
from callinkit.serve.http.settings import ServerSettings

logger = logging.getLogger("callinkit.serve.http")

ClassifierLoader = Callable[[ServerSettings], Any]
RewriterLoader = Callable[[ServerSettings, Any], Any]  # (settings, the loaded classifier) -> rewriter

CLASSIFIER, REWRITER = "classifier", "rewriter"
EXPLAIN = "classifier:explain"  # the classifier's explanations have their own batcher


def load_classifier(settings: ServerSettings) -> Any:
    """The classifier of `settings.classifier_bundle` (default: the shipped one)."""
    from callinkit.serve import Classifier

    return Classifier.load(settings.classifier_bundle, device=settings.device,
                           batch_size=settings.max_batch_size, threads=settings.threads)


def load_rewriter(settings: ServerSettings, classifier: Any) -> Any:
    """The rewriter of `settings.rewriter_bundle`, reranking with the already-loaded classifier."""
    from callinkit.serve import Rewriter  # imported late: the rewriter may not be installed

    return Rewriter.load(settings.rewriter_bundle, device=settings.device, classifier=classifier,
                         threads=settings.threads, min_logprob=settings.rewriter_min_logprob,
                         min_logprob_tail=settings.rewriter_min_logprob_tail)


class ServedModels:
    """Loads the classifier (and the rewriter, when configured) and answers through their batchers."""

    def __init__(self, settings: ServerSettings, metrics: ServerMetrics,
                 classifier_loader: ClassifierLoader | None = None,
                 rewriter_loader: RewriterLoader | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self._loaders: dict[str, Callable[..., Any]] = {CLASSIFIER: classifier_loader or load_classifier}
        if rewriter_loader is not None or settings.rewriter_bundle is not None:
            self._loaders[REWRITER] = rewriter_loader or load_rewriter
        self.instances: dict[str, Any] = {}
        self.status: dict[str, str] = {CLASSIFIER: "loading",
                                       REWRITER: "loading" if REWRITER in self._loaders else "absent"}
        self._batchers: dict[str, DynamicBatcher] = {}
        self.abandoned_texts = 0
        """After `close()`: texts of model batches that were still computing (their results go to nobody)."""

    @property
    def ready(self) -> bool:
        return all(s in ("ready", "absent") for s in self.status.values())

    async def load(self) -> None:
        """Load every configured model in a thread; a failure is logged and leaves that model 'failed'."""
        for name in (CLASSIFIER, REWRITER):
            if name not in self._loaders:
                continue
            args = (self.settings,) if name == CLASSIFIER else (self.settings, self.instances.get(CLASSIFIER))
            try:
                model = await asyncio.to_thread(self._loaders[name], *args)
            except Exception:
                logger.exception("could not load the %s", name)
                self.status[name] = "failed"
                continue
            run_batch = model.predict if name == CLASSIFIER else _rewrite_batch(model)
            batcher = DynamicBatcher(name, run_batch, max_batch_size=self.settings.max_batch_size,
                                     max_wait_s=self.settings.max_wait_ms / 1000,
                                     max_queue=self.settings.max_queue, observer=self.metrics.for_model(name))
            await batcher.start()
            if name == CLASSIFIER and callable(getattr(model, "explain", None)):  # explanations batch separately: each text costs one model call per word
                explainer = DynamicBatcher(EXPLAIN, model.explain, max_batch_size=self.settings.max_batch_size,
                                           max_wait_s=self.settings.max_wait_ms / 1000,
                                           max_queue=self.settings.max_queue,
                                           observer=self.metrics.for_model(EXPLAIN))
                await explainer.start()
                self._batchers[EXPLAIN] = explainer
            self.instances[name], self._batchers[name] = model, batcher
            self.status[name] = "ready"
            logger.info("%s ready: %r", name, model)

    def queue_depth(self, name: str) -> int:
        """Texts waiting for `name` (0 when it has no batcher yet)."""
        batcher = self._batchers.get(name)
        return batcher.depth if batcher is not None else 0

    async def close(self) -> None:
        for batcher in self._batchers.values():
            await batcher.stop()
        self.abandoned_texts = sum(b.abandoned_texts for b in self._batchers.values())
        self._batchers.clear()

    def check_available(self, name: str) -> None:
        """Raise the 503 that explains why `name` cannot answer yet (or at all)."""
        status = self.status[name]
        if status == "ready":
            return
        if status == "absent":
            raise ApiError(503, "model_unavailable", f"no {name} is configured on this server (start it with "
                                                     f"--{name}-bundle or CALLINKIT_{name.upper()}_BUNDLE)")
        if status == "loading":
            raise ApiError(503, "not_ready", f"the {name} is still loading; retry shortly",
                           {"Retry-After": "1"})
        raise ApiError(503, "model_unavailable", f"the {name} failed to load; see the server log")

    def _timeout(self, timeout_s: float | None) -> float:
        return self.settings.request_timeout_s if timeout_s is None else timeout_s

    async def classify(self, texts: Sequence[str], timeout_s: float | None = None) -> list[Any]:
        """One Prediction per text, computed in merged batches. Raises DeadlineExceeded after `timeout_s`
        (default: the server's request timeout), as `explain` and `rewrite` do."""
        self.check_available(CLASSIFIER)
        return await self._batchers[CLASSIFIER].submit(list(texts), self._timeout(timeout_s))

    async def explain(self, texts: Sequence[str]) -> list[Any]:
        """One Explanation (prediction and spans) per text, computed in merged batches."""
        self.check_available(CLASSIFIER)
        if EXPLAIN not in self._batchers:
            raise ApiError(400, "explain_unsupported", "this server's classifier cannot explain its labels; "
                                                       "send the request without \"explain\"")
        return await self._batchers[EXPLAIN].submit(list(texts), self.settings.request_timeout_s)

    async def rewrite(self, texts: Sequence[str], num_candidates: int | None, max_new_tokens: int | None,
                      timeout_s: float | None = None) -> list[Any]:
        """One Rewrite per text, computed in merged batches."""
        self.check_available(REWRITER)
        payloads = [(t, num_candidates, max_new_tokens) for t in texts]
        return await self._batchers[REWRITER].submit(payloads, self._timeout(timeout_s))


def _rewrite_batch(rewriter: Any) -> Callable[[list[tuple[str, int | None, int | None]]], list[Any]]:
    """A batch function over (text, num_candidates, max_new_tokens): one rewriter call per distinct option.
    num_candidates None means the bundle's default (its manifest's `generation.num_candidates`)."""

    def run(items: list[tuple[str, int | None, int | None]]) -> list[Any]:
        groups: dict[tuple[int | None, int | None], list[int]] = {}
        for i, (_, num_candidates, max_new_tokens) in enumerate(items):
            groups.setdefault((num_candidates, max_new_tokens), []).append(i)
        results: list[Any] = [None] * len(items)
        for (num_candidates, max_new_tokens), indices in groups.items():
            rewrites = rewriter.rewrite([items[i][0] for i in indices], num_candidates=num_candidates,
                                        max_new_tokens=max_new_tokens)
            for i, rewrite in zip(indices, rewrites):
                results[i] = rewrite
        return results

    return run
