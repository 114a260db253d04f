"""Dynamic batching: texts from many concurrent requests are merged into one model call.

A `DynamicBatcher` owns one model. Callers `submit` their texts; a collector task waits until it has
`max_batch_size` texts or the oldest waiting text has waited `max_wait_s`, drops texts whose caller has gone
(its future was cancelled) or whose deadline has passed, and runs the model on the rest in a worker thread,
so the event loop keeps accepting requests meanwhile. While one batch computes, the next one fills.

Admission: a request whose texts do not fit the queue (`max_queue`) is refused at once with QueueFull (429).
So is one that fits but would, by the batcher's moving estimate of its compute time per text, not be
computed before its deadline: an early 429 the client can retry elsewhere or later, rather than a late 504
after its texts waited in vain. The estimate is an exponentially weighted average of measured batch time
divided by batch size; before the first batch is measured every request the queue holds is admitted.
The same estimate keeps a batch no larger than can be computed before the earliest deadline in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

P = TypeVar("P")  # one queued item (a text, or a text with its options)
R = TypeVar("R")  # the model's result for that item


class QueueFull(Exception):
    """The batcher's queue has no room for the request's texts; the client should retry later."""

    def __init__(self, model: str, retry_after_s: int, reason: str | None = None) -> None:
        super().__init__(f"{reason or f'the {model} queue is full'}; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class DeadlineExceeded(Exception):
    """The request's texts were not computed before its deadline."""


class BatcherStopped(Exception):
    """The batcher was stopped (server shutting down) before the texts were computed."""


class BatchObserver(Protocol):
    """Where a batcher reports what it does (implemented with Prometheus metrics in `metrics.py`)."""

    def queued(self, depth: int) -> None: ...
    def computed(self, batch_size: int, seconds: float) -> None: ...
    def dropped(self, reason: str, count: int) -> None: ...
    def estimated(self, seconds_per_text: float) -> None: ...


@dataclass(eq=False)
class _Waiting:
    payload: Any
    future: asyncio.Future
    deadline: float  # loop.time()
    enqueued: float


class DynamicBatcher(Generic[P, R]):
    """Merges submitted items into batches for `run_batch(list[P]) -> list[R]` (one result per item, in order).

    `run_batch` runs in a single worker thread, one batch at a time. Must be started (`await start()`)
    inside the event loop that calls `submit`, and stopped with `await stop()`.
    """

    estimate_weight = 0.25
    """Weight of the newest batch in the moving estimate of compute time per text."""

    def __init__(self, name: str, run_batch: Callable[[list[P]], Sequence[R]], *, max_batch_size: int = 32,
                 max_wait_s: float = 0.005, max_queue: int = 256, retry_after_s: int = 1,
                 observer: BatchObserver | None = None) -> None:
        if max_batch_size < 1 or max_queue < 1 or max_wait_s < 0:
            raise ValueError("max_batch_size and max_queue must be >= 1 and max_wait_s >= 0")
        self.name = name
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.retry_after_s = retry_after_s
        self._run_batch = run_batch
        self._observer = observer
        self._waiting: deque[_Waiting] = deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._seconds_per_text: float | None = None  # None until a batch has been measured
        self._computing: tuple[float, int] | None = None  # (loop time it started, texts) of the batch in flight
        self.abandoned_texts = 0
        """Texts of the batch still computing in the worker thread when `stop()` was called (0: none)."""

    @property
    def seconds_per_text(self) -> float | None:
        """The moving estimate of compute time per text (None before the first batch is measured)."""
        return self._seconds_per_text

    @property
    def depth(self) -> int:
        """Texts waiting, including ones whose caller has gone but that are not yet dropped."""
        return len(self._waiting)

    async def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"callinkit-{self.name}")
        self._task = asyncio.create_task(self._collect(), name=f"batcher-{self.name}")

    async def stop(self) -> None:
        """Stop collecting; texts still waiting fail with BatcherStopped. A batch computing in the worker thread
        cannot be interrupted: it is left to finish, its size recorded in `abandoned_texts`."""
        self.abandoned_texts = self._computing[1] if self._computing is not None else 0
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while self._waiting:
            item = self._waiting.popleft()
            if not item.future.done():
                item.future.set_exception(BatcherStopped(f"{self.name} batcher stopped"))
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def submit(self, payloads: Sequence[P], timeout_s: float) -> list[R]:
        """Queue `payloads` and wait for their results, in order.

        Raises QueueFull when they do not fit the queue, or would not be computed within `timeout_s` by the
        estimate (see the module docstring); DeadlineExceeded after `timeout_s`; and whatever `run_batch`
        raised. If the caller is cancelled (its client went away), its texts are dropped.
        """
        if self._task is None or self._wakeup is None:
            raise BatcherStopped(f"{self.name} batcher is not running")
        if not payloads:
            return []
        if len(self._waiting) + len(payloads) > self.max_queue:
            self._forget_abandoned()
            if len(self._waiting) + len(payloads) > self.max_queue:
                raise QueueFull(self.name, self.retry_after_s)
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._admit_by_expected_wait(len(payloads), timeout_s, now)
        items = [_Waiting(p, loop.create_future(), now + timeout_s, now) for p in payloads]
        self._waiting.extend(items)
        self._report_depth()
        self._wakeup.set()
        futures = [item.future for item in items]
        try:
            _, pending = await asyncio.wait(futures, timeout=timeout_s)
            if pending:
                raise DeadlineExceeded(f"{self.name} did not answer within {timeout_s:g} s")
            # Read every error (a failed batch sets one on each future) so asyncio does not log them as lost.
            errors = [f.exception() for f in futures]
            first = next((e for e in errors if e is not None), None)
            if first is not None:
                raise first
            return [f.result() for f in futures]
        finally:
            # Cancelled futures tell the collector this caller is gone: its texts are dropped, not computed.
            for f in futures:
                f.cancel()

    def _admit_by_expected_wait(self, texts: int, timeout_s: float, now: float) -> None:
        """Raise QueueFull when, by the estimate, the work ahead (the rest of the batch in flight and the live
        texts queued) plus these `texts` would not be computed within `timeout_s`. Retry-After is when enough
        of the work ahead should have drained for them to fit (at least 1 s)."""
        per_text = self._seconds_per_text
        if per_text is None:
            return  # cold start: nothing measured yet
        ahead = sum(1 for item in self._waiting if not item.future.done())
        if ahead == 0 and self._computing is None:
            # Nothing ahead: waiting would not help, and refusing would keep a too-high estimate from ever being
            # measured again. It is computed (or gets its 504) as before.
            return
        in_flight = 0.0
        if self._computing is not None:
            started, size = self._computing
            in_flight = max(0.0, started + size * per_text - now)
        wait = in_flight + (ahead + texts) * per_text
        if wait > timeout_s:
            raise QueueFull(self.name, max(1, math.ceil(wait - timeout_s)),
                            f"the {self.name} would take about {wait:.1f} s to compute these texts after the "
                            f"{ahead} queued ahead of them, more than the request's {timeout_s:g} s deadline")

    def _forget_abandoned(self) -> None:
        kept = deque(item for item in self._waiting if not item.future.done())
        gone = len(self._waiting) - len(kept)
        if gone:
            self._waiting = kept
            self._dropped("cancelled", gone)
            self._report_depth()

    async def _collect(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            while not self._waiting:
                self._wakeup.clear()
                await self._wakeup.wait()
            # Wait for a full batch, but never let the oldest text wait longer than max_wait_s.
            while len(self._waiting) < self.max_batch_size:
                remaining = self._waiting[0].enqueued + self.max_wait_s - loop.time()
                if remaining <= 0:
                    break
                self._wakeup.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), remaining)
                if not self._waiting:
                    break
            batch = self._take_batch(loop.time())
            if batch:
                await self._compute(batch)

    def _take_batch(self, now: float) -> list[_Waiting]:
        """The next batch: up to `max_batch_size` live texts from the front of the queue, but no more than the
        estimate says can be computed before the earliest deadline among them (at least one text). Texts of
        one batch all finish when it does: a batch merging texts admitted while the previous one computed
        would otherwise make the first of them miss the deadline that admitted them."""
        batch: list[_Waiting] = []
        cancelled = expired = 0
        earliest = float("inf")
        while self._waiting and len(batch) < self.max_batch_size:
            item = self._waiting[0]
            if item.future.done():
                cancelled += 1
            elif item.deadline <= now:
                item.future.set_exception(DeadlineExceeded(f"{self.name} deadline passed while queued"))
                expired += 1
            elif batch and self._seconds_per_text is not None and \
                    (len(batch) + 1) * self._seconds_per_text > min(earliest, item.deadline) - now:
                break  # left for the next batch
            else:
                batch.append(item)
                earliest = min(earliest, item.deadline)
            self._waiting.popleft()
        self._dropped("cancelled", cancelled)
        self._dropped("deadline", expired)
        self._report_depth()
        return batch

    async def _compute(self, batch: list[_Waiting]) -> None:
        loop = asyncio.get_running_loop()
        self._computing = (loop.time(), len(batch))
        start = time.perf_counter()
        try:
            results = await loop.run_in_executor(self._executor, self._run_batch, [i.payload for i in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{self.name}: run_batch returned {len(results)} results for {len(batch)} "
                                   "inputs")
        except Exception as exc:  # the model failed: every caller in the batch gets the error
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
        else:
            seconds = time.perf_counter() - start
            # Only batches that answered feed the estimate: a failure's time says nothing about compute time.
            self._update_estimate(seconds / len(batch))
            for item, result in zip(batch, results):
                if not item.future.done():
                    item.future.set_result(result)
        finally:
            self._computing = None
            if self._observer is not None:
                self._observer.computed(len(batch), time.perf_counter() - start)

    def _update_estimate(self, seconds_per_text: float) -> None:
        if self._seconds_per_text is None:
            self._seconds_per_text = seconds_per_text
        else:
            self._seconds_per_text += self.estimate_weight * (seconds_per_text - self._seconds_per_text)
        if self._observer is not None:
            self._observer.estimated(self._seconds_per_text)

    def _report_depth(self) -> None:
        if self._observer is not None:
            self._observer.queued(len(self._waiting))

    def _dropped(self, reason: str, count: int) -> None:
        if count and self._observer is not None:
            self._observer.dropped(reason, count)
