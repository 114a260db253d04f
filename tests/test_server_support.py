"""Helpers for the server tests (no tests here): a FakeRewriter, a gate for the classifier, app runners.

FakeRewriter stands in for `callinkit.serve.Rewriter` until tiny rewriter bundles exist; it has the same
interface (`rewrite(texts, num_candidates, max_new_tokens) -> list[Rewrite]`) and records its calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx

from callinkit.serve import Candidate, Rewrite
from callinkit.serve.http import ServerSettings, create_app

TORCH_BLOCKER = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "transformers", "datasets", "accelerate", "evaluate"):
            raise ImportError(f"blocked import of {name} (inference must be torch-free)")
sys.meta_path.insert(0, _Block())
"""


class FakeRewriter:
    """A deterministic stand-in for the Rewriter, for tests that need exact, controllable candidates.

    Candidate i of "TEXT" is "Call-in #i: TEXT" cut to `max_new_tokens` words; its scores fall with i.
    `calls` records (texts, num_candidates, max_new_tokens) of every rewrite() call.
    """

    manifest = {"format": "callinkit-bundle", "kind": "rewriter", "name": "fake-rewriter",
                "created_at": "2026-01-01T00:00:00+00:00", "metrics": {"test": {"chrf": 0.0}}}
    generation = {"num_candidates": 3}
    """Like a bundle's manifest: num_candidates=None means this default."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], int, int | None]] = []
        self._lock = threading.Lock()

    def rewrite(self, texts: list[str], num_candidates: int | None = None, max_new_tokens: int | None = None
                ) -> list[Rewrite]:
        num_candidates = self.generation["num_candidates"] if num_candidates is None else num_candidates
        with self._lock:
            self.calls.append((list(texts), num_candidates, max_new_tokens))
        out = []
        for text in texts:
            candidates = []
            for i in range(num_candidates):
                words = f"Call-in #{i}: {text}".split()
                if max_new_tokens is not None:
                    words = words[:max_new_tokens]
                call_in = round(0.9 - 0.1 * i, 4)
                candidates.append(Candidate(" ".join(words), {"call_in": call_in, "similarity": 0.8,
                                                              "score": round(call_in * 0.8, 4)}))
            out.append(Rewrite(candidates[0].text, candidates[0].scores, candidates))
        return out


class GatedClassifier:
    """The real Classifier, whose predict() waits for `release` after signalling `entered`.

    Lets a test hold the classifier busy so that later requests queue up (to see them merged, or refused
    with 429) without relying on timing. `batches` records the texts of every predict() call.
    """

    def __init__(self, classifier: Any) -> None:
        self.inner = classifier
        self.labels = classifier.labels
        self.manifest = classifier.manifest
        self.entered = threading.Event()
        self.release = threading.Event()
        self.batches: list[list[str]] = []

    def predict(self, texts: list[str]) -> list[Any]:
        self.batches.append(list(texts))
        self.entered.set()
        if not self.release.wait(timeout=20):
            raise TimeoutError("test gate never released")
        return self.inner.predict(texts)


def relabelled_bundle(bundle: Path, out: Path) -> Path:
    """A copy of the tiny bundle whose label columns read (neutral, call_in, call_out).

    The 40-step tiny model never predicts call_out (its argmax is neutral or call_in for every corpus
    text), so tests of the call-out path (suggest returns a rewrite) use this copy: the same real model,
    where what it calls neutral is reported as call_out.
    """
    if not out.exists():
        shutil.copytree(bundle, out)
        manifest = json.loads((out / "manifest.json").read_text())
        manifest["labels"] = ["neutral", "call_in", "call_out"]
        (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def settings(bundle: Path, **overrides: Any) -> ServerSettings:
    """Server settings for tests: the given classifier bundle and short waits. CALLINKIT_* variables of the
    shell running the tests are ignored, so that a test sees only what it sets."""
    with without_callinkit_env():
        return ServerSettings(classifier_bundle=bundle, **{"max_wait_ms": 2.0, **overrides})


@contextlib.contextmanager
def without_callinkit_env() -> Iterator[None]:
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("CALLINKIT_")}
    try:
        yield
    finally:
        os.environ.update(saved)


@contextlib.asynccontextmanager
async def serving(app: Any, wait_ready: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and yield an in-process client; by default wait until /readyz is 200."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            if wait_ready:
                await until_ready(client)
            yield client


async def until_ready(client: httpx.AsyncClient, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (await client.get("/readyz")).status_code != 200:
        if time.monotonic() > deadline:
            raise TimeoutError("the app never became ready")
        await asyncio.sleep(0.01)


def fake_rewriter_app(bundle: Path, rewriter: FakeRewriter | None = None, **overrides: Any) -> Any:
    """An app on the real classifier bundle with a FakeRewriter (a fresh one unless given)."""
    rewriter = rewriter or FakeRewriter()
    return create_app(settings(bundle, **overrides), rewriter_loader=lambda s, classifier: rewriter)


def v2_error(response, status: int, code: str) -> str:
    """Under /v2, the Open Inference Protocol's error shape `{"error": "<message>"}` with our code beside it
    (other paths answer `{"error": {"code", "message"}}`); returns the message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "code"} and isinstance(body["error"], str) and body["error"], body
    assert body["code"] == code, body
    return body["error"]


def metric_value(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text output, or None when absent."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        sample, _, value = line.rpartition(" ")
        sample_name, _, label_text = sample.partition("{")
        if sample_name != name:
            continue
        found = dict(part.split("=", 1) for part in label_text.rstrip("}").split(",") if part)
        if all(found.get(k) == f'"{v}"' for k, v in labels.items()):
            return float(value)
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(base_url: str, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    """Poll GET /readyz on a server process until it answers 200; fail early if the process exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.communicate()[0]}")
        try:
            if httpx.get(base_url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{base_url} never became ready")
