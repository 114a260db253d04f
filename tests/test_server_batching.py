"""Dynamic batching: the DynamicBatcher on its own, and merging, 429s (queue full, or a deadline the estimate
says cannot be met) and dropped callers in the real app."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from conftest import fixture_texts
from test_server_support import (
    FakeRewriter,
    GatedClassifier,
    fake_rewriter_app,
    metric_value,
    serving,
    settings,
    v2_error,
)

from callinkit import Classifier
from callinkit.serve.http import DynamicBatcher, create_app
from callinkit.serve.http.batching import BatcherStopped, DeadlineExceeded, QueueFull


class Recorder:
    """A run_batch that records its batches (and can be held at a gate), and a BatchObserver."""

    def __init__(self, gated: bool = False) -> None:
        self.batches: list[list] = []
        self.dropped_counts: dict[str, int] = {}
        self.estimates: list[float] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        if not gated:
            self.release.set()

    def __call__(self, items: list) -> list:
        self.batches.append(list(items))
        self.entered.set()
        assert self.release.wait(timeout=10)
        return [f"<{item}>" for item in items]

    def queued(self, depth: int) -> None:
        pass

    def computed(self, batch_size: int, seconds: float) -> None:
        pass

    def dropped(self, reason: str, count: int) -> None:
        self.dropped_counts[reason] = self.dropped_counts.get(reason, 0) + count

    def estimated(self, seconds_per_text: float) -> None:
        self.estimates.append(seconds_per_text)


async def started(recorder: Recorder, **options) -> DynamicBatcher:
    batcher = DynamicBatcher("test", recorder, observer=recorder, **{"max_wait_s": 0.05, **options})
    await batcher.start()
    return batcher


async def wait_for(event: threading.Event) -> None:
    while not event.is_set():
        await asyncio.sleep(0.001)


def test_concurrent_submits_share_one_batch_and_get_their_own_results():
    async def scenario():
        recorder = Recorder()
        batcher = await started(recorder, max_wait_s=0.2)
        results = await asyncio.gather(batcher.submit(["a", "b"], 5), batcher.submit(["c"], 5),
                                       batcher.submit(["d", "e", "f"], 5))
        await batcher.stop()
        return recorder, results

    recorder, results = asyncio.run(scenario())
    assert recorder.batches == [["a", "b", "c", "d", "e", "f"]]
    assert results == [["<a>", "<b>"], ["<c>"], ["<d>", "<e>", "<f>"]]


def test_batches_never_exceed_max_batch_size():
    async def scenario():
        recorder = Recorder()
        batcher = await started(recorder, max_batch_size=4)
        result = await batcher.submit(list("abcdefghij"), 5)
        await batcher.stop()
        return recorder, result

    recorder, result = asyncio.run(scenario())
    assert [len(b) for b in recorder.batches] == [4, 4, 2]
    assert result == [f"<{c}>" for c in "abcdefghij"]


def test_a_lone_request_waits_at_most_max_wait():
    async def scenario():
        batcher = await started(Recorder(), max_wait_s=0.05, max_batch_size=64)
        start = time.perf_counter()
        await batcher.submit(["a"], 5)
        elapsed = time.perf_counter() - start
        await batcher.stop()
        return elapsed

    assert 0.04 <= asyncio.run(scenario()) < 1.0


def test_cancelled_callers_are_dropped_before_compute():
    async def scenario():
        recorder = Recorder(gated=True)
        batcher = await started(recorder, max_wait_s=0.0)
        busy = asyncio.create_task(batcher.submit(["busy"], 5))
        await wait_for(recorder.entered)  # the model is now computing ["busy"]
        gone = asyncio.create_task(batcher.submit(["gone-1", "gone-2"], 5))
        kept = asyncio.create_task(batcher.submit(["kept"], 5))
        await asyncio.sleep(0.01)
        gone.cancel()  # the client went away while its texts were queued
        recorder.release.set()
        results = await busy, await kept
        await batcher.stop()
        return recorder, results, gone

    recorder, results, gone = asyncio.run(scenario())
    assert gone.cancelled()
    assert recorder.batches == [["busy"], ["kept"]]
    assert results == (["<busy>"], ["<kept>"])
    assert recorder.dropped_counts == {"cancelled": 2}


def test_requests_past_their_deadline_fail_and_are_not_computed():
    async def scenario():
        recorder = Recorder(gated=True)
        batcher = await started(recorder, max_wait_s=0.0)
        busy = asyncio.create_task(batcher.submit(["busy"], 5))
        await wait_for(recorder.entered)
        with pytest.raises(DeadlineExceeded):
            await batcher.submit(["late"], 0.05)
        recorder.release.set()
        await busy
        await asyncio.sleep(0.05)
        await batcher.stop()
        return recorder

    recorder = asyncio.run(scenario())
    assert recorder.batches == [["busy"]]
    assert recorder.dropped_counts == {"cancelled": 1}


def test_a_full_queue_refuses_new_texts():
    async def scenario():
        recorder = Recorder(gated=True)
        batcher = await started(recorder, max_wait_s=0.0, max_queue=3, retry_after_s=2)
        busy = asyncio.create_task(batcher.submit(["busy"], 5))
        await wait_for(recorder.entered)
        queued = asyncio.create_task(batcher.submit(["q1", "q2"], 5))
        await asyncio.sleep(0.01)
        with pytest.raises(QueueFull) as refused:
            await batcher.submit(["q3", "q4"], 5)
        fits = asyncio.create_task(batcher.submit(["q3"], 5))  # exactly fills the queue
        await asyncio.sleep(0.01)
        recorder.release.set()
        results = await busy, await queued, await fits
        await batcher.stop()
        return refused.value, results

    refused, results = asyncio.run(scenario())
    assert refused.retry_after_s == 2 and "full" in str(refused)
    assert results == (["<busy>"], ["<q1>", "<q2>"], ["<q3>"])


class SlowModel(Recorder):
    """A Recorder whose every batch takes `seconds`, or `seconds` per text (asleep: the timing holds on a busy
    machine)."""

    def __init__(self, seconds: float, per_text: bool = False) -> None:
        super().__init__()
        self.seconds = seconds
        self.per_text = per_text

    def __call__(self, items: list) -> list:
        time.sleep(self.seconds * (len(items) if self.per_text else 1))
        return super().__call__(items)


async def outcome(call) -> tuple[object, float]:
    """What `call` returned or raised, and after how many seconds."""
    start = time.perf_counter()
    try:
        result = await call
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome
        result = exc
    return result, time.perf_counter() - start


def test_requests_that_would_miss_their_deadline_are_refused_at_once():
    """0.3 s per text (one text per batch) and a 1.35 s deadline: four queued texts fit, the fifth would finish
    at 1.5 s. Without admission by expected wait the later ones queue and time out."""
    async def scenario():
        model = SlowModel(0.3)
        batcher = await started(model, max_wait_s=0.0, max_batch_size=1)
        first = await batcher.submit(["warm"], 5)  # measures 0.3 s per text
        burst = await asyncio.gather(*(outcome(batcher.submit([f"t{i}"], 1.35)) for i in range(12)))
        big = await asyncio.gather(outcome(batcher.submit(["busy"], 5)),
                                   outcome(batcher.submit([f"b{i}" for i in range(10)], 0.7)))
        await batcher.stop()
        return model, first, burst, big

    model, first, burst, (_, (refused_big, _)) = asyncio.run(scenario())
    assert first == ["<warm>"]
    served = [(r, s) for r, s in burst if isinstance(r, list)]
    refused = [(r, s) for r, s in burst if isinstance(r, QueueFull)]
    assert len(served) + len(refused) == 12, burst  # no DeadlineExceeded
    assert 3 <= len(served) <= 5 and all(s < 1.35 for _, s in served), burst
    assert all(s < 0.3 for _, s in refused), burst  # refused at once, not after the deadline
    assert all(r.retry_after_s == 1 and "deadline" in str(r) for r, _ in refused)
    assert len(model.batches) == 1 + len(served) + 1  # refused texts were never queued
    assert model.estimates and all(0.29 < e < 0.6 for e in model.estimates), model.estimates
    # 10 texts behind one queued need about 3.3 s against a 0.7 s deadline: retry when 2.6 s have drained.
    assert isinstance(refused_big, QueueFull) and refused_big.retry_after_s >= 3


def test_before_any_measurement_and_when_nothing_is_ahead_requests_are_admitted():
    """Cold start admits whatever the queue holds; an idle batcher admits even what its estimate says is too
    slow (that request then gets its 504), so that a stale estimate cannot refuse work forever."""
    async def scenario():
        model = SlowModel(0.3)
        batcher = await started(model, max_wait_s=0.0, max_batch_size=1)
        cold = await asyncio.gather(*(outcome(batcher.submit([f"c{i}"], 0.5)) for i in range(3)))
        await asyncio.sleep(0.7)  # the expired texts are dropped; the batcher is idle again
        idle, _ = await outcome(batcher.submit(["x", "y", "z"], 0.5))
        await asyncio.sleep(0.7)
        await batcher.stop()
        return cold, idle

    cold, idle = asyncio.run(scenario())
    assert [type(r) for r, _ in cold] == [list, DeadlineExceeded, DeadlineExceeded], cold
    assert isinstance(idle, DeadlineExceeded)


def test_a_batch_is_no_larger_than_the_earliest_deadline_in_it_allows():
    """0.3 s per text. While 5 texts compute (1.5 s), "early" (2.2 s deadline) and then 3 texts with a longer one
    are admitted. One batch of all 4 would end at 2.7 s, past early's deadline (2.25 s); the batch is cut to the
    2 texts that end by 2.1 s, and the other 2 follow."""
    async def scenario():
        model = SlowModel(0.3, per_text=True)
        batcher = await started(model, max_wait_s=0.0)
        await batcher.submit(["warm"], 5)
        busy = asyncio.create_task(batcher.submit([f"busy{i}" for i in range(5)], 5))
        await asyncio.sleep(0.05)  # the 5 texts are computing
        early = asyncio.create_task(outcome(batcher.submit(["early"], 2.2)))
        await asyncio.sleep(0.5)
        late = asyncio.create_task(outcome(batcher.submit(["l1", "l2", "l3"], 5)))
        results = await busy, await early, await late
        await batcher.stop()
        return model, results

    model, (busy, (early, early_s), (late, _)) = asyncio.run(scenario())
    assert early == ["<early>"] and early_s < 2.2, (early, early_s)
    assert late == ["<l1>", "<l2>", "<l3>"]
    assert [len(b) for b in model.batches] == [1, 5, 2, 2], model.batches


def test_a_failing_batch_fails_its_callers_and_the_batcher_carries_on():
    calls = []

    def flaky(items):
        calls.append(list(items))
        if "boom" in items:
            raise ValueError("model exploded")
        return [i.upper() for i in items]

    async def scenario():
        batcher = DynamicBatcher("flaky", flaky, max_wait_s=0.05)
        await batcher.start()
        outcomes = await asyncio.gather(batcher.submit(["x"], 5), batcher.submit(["boom"], 5),
                                        return_exceptions=True)
        after = await batcher.submit(["y"], 5)
        await batcher.stop()
        with pytest.raises(BatcherStopped):
            await batcher.submit(["z"], 5)
        return outcomes, after

    outcomes, after = asyncio.run(scenario())
    assert all(isinstance(o, ValueError) for o in outcomes)  # both callers shared the failed batch
    assert after == ["Y"] and calls == [["x", "boom"], ["y"]]


def test_app_merges_concurrent_requests_and_answers_each_caller_in_order(tiny_bundle):
    texts = fixture_texts()
    requests = [texts[0:3], texts[3:4], texts[4:9], texts[9:11]]
    gated = GatedClassifier(Classifier.load(tiny_bundle))

    async def scenario():
        app = create_app(settings(tiny_bundle, max_wait_ms=0), classifier_loader=lambda s: gated)
        async with serving(app) as client:
            first = asyncio.create_task(client.post("/v1/classify", json={"texts": ["hold the model"]}))
            await wait_for(gated.entered)  # the model is busy: the next requests queue up together
            others = [asyncio.create_task(client.post("/v1/classify", json={"texts": t})) for t in requests]
            while app.state.models.queue_depth("classifier") < sum(map(len, requests)):
                await asyncio.sleep(0.001)
            gated.release.set()
            responses = [await first] + [await task for task in others]
            return responses, (await client.get("/metrics")).text

    responses, metrics = asyncio.run(scenario())
    assert all(r.status_code == 200 for r in responses)
    assert gated.batches[1] == [t for chunk in requests for t in chunk]  # four requests, one model call
    reference = Classifier.load(tiny_bundle)
    for chunk, response in zip(requests, responses[1:]):
        results = response.json()["results"]
        expected = reference.predict(chunk)
        assert [r["label"] for r in results] == [p.label for p in expected]
        for got, want in zip(results, expected):
            assert got["scores"] == pytest.approx(want.scores, abs=1e-5)
    assert metric_value(metrics, "callinkit_batch_size_count", model="classifier") == 2
    assert metric_value(metrics, "callinkit_batch_size_bucket", model="classifier", le="1.0") == 1
    assert metric_value(metrics, "callinkit_batch_size_sum", model="classifier") == 12


def test_app_answers_429_with_retry_after_when_the_queue_is_full(tiny_bundle):
    gated = GatedClassifier(Classifier.load(tiny_bundle))

    async def scenario():
        app = create_app(settings(tiny_bundle, max_queue=4, max_texts=4, max_wait_ms=0),
                         classifier_loader=lambda s: gated)
        async with serving(app) as client:
            busy = asyncio.create_task(client.post("/v1/classify", json={"texts": ["a", "b", "c", "d"]}))
            await wait_for(gated.entered)
            queued = asyncio.create_task(client.post("/v1/classify", json={"texts": ["e", "f", "g"]}))
            while app.state.models.queue_depth("classifier") < 3:
                await asyncio.sleep(0.001)
            refused = await client.post("/v1/classify", json={"texts": ["h", "i"]})
            v2_refused = await client.post("/v2/models/classifier/infer", json={
                "inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["h", "i"]}]})
            gated.release.set()
            return await busy, await queued, refused, v2_refused, (await client.get("/metrics")).text

    busy, queued, refused, v2_refused, metrics = asyncio.run(scenario())
    assert busy.status_code == 200 and queued.status_code == 200
    for response in (refused, v2_refused):
        assert response.status_code == 429 and response.headers["retry-after"] == "1"
    assert refused.json()["error"]["code"] == "queue_full"
    assert "queue" in v2_error(v2_refused, 429, "queue_full")
    assert metric_value(metrics, "callinkit_http_requests_total", route="/v1/classify", status="429") == 1


def test_app_drops_the_texts_of_a_client_that_disconnected(tiny_bundle):
    """Drive the ASGI app directly: the client sends its body, then disconnects while queued."""
    gated = GatedClassifier(Classifier.load(tiny_bundle))

    async def scenario():
        app = create_app(settings(tiny_bundle, max_wait_ms=0), classifier_loader=lambda s: gated)
        async with serving(app) as client:
            busy = asyncio.create_task(client.post("/v1/classify", json={"texts": ["hold the model"]}))
            await wait_for(gated.entered)
            body = json.dumps({"texts": ["abandoned one", "abandoned two"]}).encode()
            disconnect = asyncio.Event()
            messages = [{"type": "http.request", "body": body, "more_body": False}]

            async def receive():
                if messages:
                    return messages.pop(0)
                await disconnect.wait()
                return {"type": "http.disconnect"}

            sent = []

            async def send(message):
                sent.append(message)

            scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                     "scheme": "http", "path": "/v1/classify", "raw_path": b"/v1/classify", "query_string": b"",
                     "root_path": "", "headers": [(b"content-type", b"application/json"),
                                                  (b"content-length", str(len(body)).encode())],
                     "client": ("127.0.0.1", 5000), "server": ("test", 80)}
            abandoned = asyncio.create_task(app(scope, receive, send))
            while app.state.models.queue_depth("classifier") < 2:
                await asyncio.sleep(0.001)
            disconnect.set()  # the client hangs up while its texts wait behind the busy model
            await abandoned
            gated.release.set()
            await busy
            after = await client.post("/v1/classify", json={"texts": ["next"]})
            return after, (await client.get("/metrics")).text

    after, metrics = asyncio.run(scenario())
    assert after.status_code == 200
    assert gated.batches == [["hold the model"], ["next"]]  # the abandoned texts never reached the model
    assert metric_value(metrics, "callinkit_dropped_texts_total", model="classifier", reason="cancelled") == 2
    assert metric_value(metrics, "callinkit_http_requests_total", route="/v1/classify", status="499") == 1


class SlowRewriter(FakeRewriter):
    """The FakeRewriter, taking `seconds` per call (asleep)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def rewrite(self, texts: list[str], num_candidates: int | None = None, max_new_tokens: int | None = None):
        time.sleep(self.seconds)
        return super().rewrite(texts, num_candidates, max_new_tokens)


def test_app_answers_429_at_once_when_the_rewriter_could_not_make_the_deadline(tiny_bundle):
    """0.4 s per rewrite, one text per batch, a 1.8 s deadline: of 12 concurrent requests about four fit and
    get 200; the rest get 429 at once (the queue of 256 has room), where they used to wait 1.8 s for a 504."""
    rewriter = SlowRewriter(0.4)

    async def timed(client, body):
        start = time.perf_counter()
        response = await client.post("/v1/rewrite", json=body)
        return response, time.perf_counter() - start

    async def scenario():
        app = fake_rewriter_app(tiny_bundle, rewriter, max_batch_size=1, max_wait_ms=0, request_timeout_s=1.8)
        async with serving(app) as client:
            warm = await client.post("/v1/rewrite", json={"texts": ["warm up"]})  # the first measurement
            burst = await asyncio.gather(*(timed(client, {"texts": [f"you clown {i}"]}) for i in range(12)))
            return warm, burst, (await client.get("/metrics")).text

    warm, burst, metrics = asyncio.run(scenario())
    assert warm.status_code == 200
    statuses = [r.status_code for r, _ in burst]
    assert set(statuses) <= {200, 429}, statuses
    assert 3 <= statuses.count(200) <= 5, statuses
    for response, seconds in burst:
        if response.status_code == 200:
            assert response.json()["results"][0]["rewrite"].startswith("Call-in #0: you clown")
        else:
            assert seconds < 0.6, seconds  # well before the 1.8 s deadline
            assert response.json()["error"]["code"] == "queue_full"
            assert "deadline" in response.json()["error"]["message"]
            assert response.headers["retry-after"] == "1"
    assert len(rewriter.calls) == 1 + statuses.count(200)  # refused texts were never queued
    estimate = metric_value(metrics, "callinkit_compute_seconds_per_text", model="rewriter")
    assert estimate is not None and 0.39 < estimate < 0.8, estimate
    assert metric_value(metrics, "callinkit_http_requests_total", route="/v1/rewrite", status="504") is None
    assert metric_value(metrics, "callinkit_http_requests_total", route="/v1/rewrite", status="429") == \
        statuses.count(429)
