"""SIGTERM drains a real server process on loopback: requests in flight finish with 200, new work and the
readiness probes get 503 meanwhile, and the process exits 0; a drain that outlasts --drain-timeout-s is cut
off. The model is a stand-in whose calls take as long as the test says."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest
from test_server_support import free_port, wait_until_serving

SERVER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from callinkit.serve.classifier import Prediction
    from callinkit.serve.http.app import create_app
    from callinkit.serve.http.command import run_server
    from callinkit.serve.http.settings import ServerSettings

    port, drain_timeout, marker = int(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])

    class SlowClassifier:
        # "sleep:S" takes S seconds, and touches the marker file when it starts.
        def predict(self, texts):
            for text in texts:
                if text.startswith("sleep:"):
                    marker.touch()
                    time.sleep(float(text.split(":")[1]))
            return [Prediction("neutral", {"call_out": 0.1, "call_in": 0.1, "neutral": 0.8}) for _ in texts]

    settings = ServerSettings(port=port, drain_timeout_s=drain_timeout, log_level="info", max_wait_ms=0)
    raise SystemExit(run_server(create_app(settings, classifier_loader=lambda s: SlowClassifier()), settings))
""")


def start(tmp_path: Path, drain_timeout_s: float) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    marker = tmp_path / "in-flight"
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(drain_timeout_s), str(marker)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={k: v for k, v in os.environ.items() if not k.startswith("CALLINKIT_")})
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(base, proc)
    return proc, base, marker


def in_flight(base: str, seconds: float, marker: Path) -> tuple[threading.Thread, dict]:
    """Send a classify request that takes `seconds` in a thread; return once the model is working on it."""
    outcome: dict = {}

    def send() -> None:
        try:
            outcome["response"] = httpx.post(base + "/v1/classify", json={"texts": [f"sleep:{seconds}"]},
                                             timeout=120)
        except httpx.HTTPError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=send)
    thread.start()
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert time.monotonic() < deadline, "the slow request never reached the model"
        time.sleep(0.02)
    return thread, outcome


def poll(base: str, path: str, status: int, timeout_s: float = 10) -> httpx.Response:
    """GET `path` until it answers `status` (the signal is handled between event-loop ticks)."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = httpx.get(base + path, timeout=5)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def test_sigterm_finishes_requests_in_flight_and_exits_0(tmp_path):
    proc, base, marker = start(tmp_path, drain_timeout_s=60)
    try:
        thread, outcome = in_flight(base, 3, marker)
        proc.send_signal(signal.SIGTERM)
        ready = poll(base, "/readyz", 503)
        v2_ready = httpx.get(base + "/v2/health/ready", timeout=5)
        live = httpx.get(base + "/healthz", timeout=5)
        new_work = httpx.post(base + "/v1/classify", json={"texts": ["hello"]}, timeout=5)
        still_running = proc.poll() is None
        thread.join(60)
        output = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert ready.status_code == 503 and ready.json()["error"]["code"] == "shutting_down", ready.text
    assert v2_ready.status_code == 503
    assert live.status_code == 200
    assert new_work.status_code == 503 and new_work.json()["error"]["code"] == "shutting_down"
    assert new_work.headers["retry-after"] == "1"
    assert still_running  # it waited for the request in flight
    assert "error" not in outcome, outcome
    response = outcome["response"]
    assert response.status_code == 200 and response.json()["results"][0]["label"] == "neutral"
    assert proc.returncode == 0, output
    assert "draining 1 request(s) in flight" in output and "drained: no request in flight" in output


def test_a_drain_is_bounded_by_its_timeout(tmp_path):
    proc, base, marker = start(tmp_path, drain_timeout_s=1)
    try:
        thread, outcome = in_flight(base, 300, marker)
        proc.send_signal(signal.SIGTERM)
        try:
            output = proc.communicate(timeout=60)[0]  # far less than the 300 s the request would take
        except subprocess.TimeoutExpired:
            pytest.fail("the server kept waiting for the request past --drain-timeout-s")
        thread.join(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "drain timeout (1 s): cutting off 1 request(s) still in flight" in output
    assert "response" not in outcome or outcome["response"].status_code != 200


def test_without_requests_in_flight_sigterm_exits_0_at_once(tmp_path):
    proc, base, _ = start(tmp_path, drain_timeout_s=60)
    try:
        assert httpx.post(base + "/v1/classify", json={"texts": ["hello"]}, timeout=10).status_code == 200
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "drained: no request in flight" in output
