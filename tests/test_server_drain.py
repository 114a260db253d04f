"""SIGTERM drains a real server process on loopback: requests in flight finish with 200, new work and the
readiness probes get 503 meanwhile, and the process exits 0; a drain that outlasts --drain-timeout-s is cut
off, and so is a model batch still computing for callers that are gone. The model is a stand-in whose calls
take as long as the test says."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import h11
import httpx
import pytest
import uvicorn
from test_server_support import free_port, wait_until_serving

from callinkit.serve.http.drain import DrainingServer, DrainState, connection_has_work

SERVER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from callinkit.serve.classifier import Prediction
    from callinkit.serve.http.app import create_app
    from callinkit.serve.http.command import run_server
    from callinkit.serve.http.settings import ServerSettings

    port, drain_timeout, marker, request_timeout = int(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4])
    drain_quiet = float(sys.argv[5])

    class SlowClassifier:
        # "sleep:S" takes S seconds, and touches the marker file when it starts.
        def predict(self, texts):
            for text in texts:
                if text.startswith("sleep:"):
                    marker.touch()
                    time.sleep(float(text.split(":")[1]))
            return [Prediction("neutral", {"call_out": 0.1, "call_in": 0.1, "neutral": 0.8}) for _ in texts]

    settings = ServerSettings(port=port, drain_timeout_s=drain_timeout, request_timeout_s=request_timeout,
                              drain_quiet_s=drain_quiet, log_level="info", max_wait_ms=0)
    raise SystemExit(run_server(create_app(settings, classifier_loader=lambda s: SlowClassifier()), settings))
""")


def start(tmp_path: Path, drain_timeout_s: float, request_timeout_s: float = 30,
          drain_quiet_s: float = 0.5) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    marker = tmp_path / "in-flight"
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(drain_timeout_s), str(marker),
                             str(request_timeout_s), str(drain_quiet_s)],
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


def test_a_request_sent_on_a_kept_alive_connection_after_the_work_ran_out_is_answered(tmp_path):
    """The race behind a flaky soak: a client writes its next request to a kept-alive connection just as the
    last request in flight finishes. The server keeps answering for --drain-quiet-s (503, not a reset), and
    every response while draining says `Connection: close`."""
    proc, base, marker = start(tmp_path, drain_timeout_s=60, drain_quiet_s=3)
    try:
        with httpx.Client(base_url=base, timeout=30) as kept:
            assert kept.post("/v1/classify", json={"texts": ["hello"]}).status_code == 200  # connection kept
            thread, outcome = in_flight(base, 1, marker)
            proc.send_signal(signal.SIGTERM)
            thread.join(60)
            time.sleep(0.5)  # a busy machine delivers it late: past the next tick, within the quiet time
            late = kept.post("/v1/classify", json={"texts": ["hello"]})
        output = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    finished = outcome["response"]
    assert finished.status_code == 200 and finished.headers["connection"] == "close"
    assert late.status_code == 503 and late.json()["error"]["code"] == "shutting_down", late.text
    assert late.headers["connection"] == "close"
    assert proc.returncode == 0, output
    assert "drained: no request in flight" in output


class _Transport:
    """Enough of an asyncio transport for `connection_has_work`: a real socket whose unread bytes count."""

    def __init__(self, sock) -> None:
        self.sock = sock

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str):
        return self.sock if name == "socket" else None


class _Protocol:
    """Enough of uvicorn's HTTP protocol object: its transport, its request cycle and its h11 connection."""

    def __init__(self, sock, cycle=None, conn=None) -> None:
        self.transport, self.cycle, self.conn = _Transport(sock), cycle, conn


def test_a_connection_with_unread_bytes_or_a_response_in_progress_counts_as_work():
    server_end, client_end = socket.socketpair()
    try:
        idle = _Protocol(server_end, conn=h11.Connection(h11.SERVER))
        assert not connection_has_work(idle)
        client_end.sendall(b"POST /v1/classify HTTP/1.1\r\n")  # in the kernel's buffer, unread
        assert connection_has_work(idle)
        idle.conn.receive_data(server_end.recv(1024))  # now in h11's buffer: still no request for the app
        assert connection_has_work(idle)
        answering = _Protocol(server_end, cycle=SimpleNamespace(response_complete=False),
                              conn=h11.Connection(h11.SERVER))
        assert connection_has_work(answering)
        answering.cycle.response_complete = True
        assert not connection_has_work(answering)
    finally:
        server_end.close()
        client_end.close()


def test_the_drain_waits_for_bytes_the_event_loop_has_not_read_yet():
    """A server whose app has nothing in flight but whose connection holds an unread request does not exit;
    once the request is read (and answered), it exits when the quiet time has passed."""
    server = DrainingServer(uvicorn.Config(app=None), DrainState(), drain_timeout_s=60, drain_quiet_s=0.2)
    server_end, client_end = socket.socketpair()
    try:
        server.server_state.connections.add(_Protocol(server_end))
        server.handle_exit(signal.SIGTERM, None)
        client_end.sendall(b"POST /v1/classify HTTP/1.1\r\n\r\n")
        assert asyncio.run(server.on_tick(1)) is False and not server.should_exit
        server_end.recv(1024)
        assert asyncio.run(server.on_tick(2)) is False  # nothing left: the quiet time starts
        time.sleep(0.25)
        assert asyncio.run(server.on_tick(3)) is True and not server.timed_out
    finally:
        server_end.close()
        client_end.close()


def test_the_quiet_time_never_outlasts_the_drain_timeout():
    """Nothing in flight when the deadline comes mid-way through the quiet time: a drained exit, not a cut-off."""
    server = DrainingServer(uvicorn.Config(app=None), DrainState(), drain_timeout_s=0, drain_quiet_s=30)
    server.handle_exit(signal.SIGTERM, None)
    assert asyncio.run(server.on_tick(1)) is True and not server.timed_out


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


def test_a_batch_computing_for_a_caller_gone_does_not_hold_up_the_exit(tmp_path):
    """The request's deadline (1 s) passes while its batch computes (300 s): it gets 504, but the model thread
    cannot be interrupted. SIGTERM then finds nothing in flight, and the server exits 0 at once, well within
    --drain-timeout-s, instead of waiting at exit for the thread."""
    proc, base, _ = start(tmp_path, drain_timeout_s=60, request_timeout_s=1)
    try:
        late = httpx.post(base + "/v1/classify", json={"texts": ["sleep:300"]}, timeout=30)
        proc.send_signal(signal.SIGTERM)
        try:
            output = proc.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            pytest.fail("the server waited at exit for a model batch nobody was waiting for")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert late.status_code == 504 and late.json()["error"]["code"] == "deadline_exceeded"
    assert proc.returncode == 0, output
    assert "drained: no request in flight" in output and "cutting off" not in output
    assert "exiting without waiting for a model batch of 1 text(s) still computing" in output


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


# `callinkit serve --workers 2` with the stand-in model. Workers are spawned processes that re-run this script's
# top level (as `__mp_main__`), so the stand-in replaces the bundle loader in each of them. "sleep:S" texts
# touch MARKERS/<worker pid> and take S seconds per batch.
WORKERS_SERVER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from callinkit.serve.classifier import Prediction
    from callinkit.serve.http import models

    class SlowClassifier:
        def predict(self, texts):
            seconds = max([float(t.split(":")[1]) for t in texts if t.startswith("sleep:")] or [0])
            if seconds:
                (Path(os.environ["SLOW_MARKERS"]) / str(os.getpid())).touch()
                time.sleep(seconds)
            return [Prediction("neutral", {"call_out": 0.1, "call_in": 0.1, "neutral": 0.8}) for _ in texts]

    models.load_classifier = lambda settings: SlowClassifier()

    if __name__ == "__main__":
        from callinkit.serve.http.command import main
        raise SystemExit(main(sys.argv[1:]))
""")


def test_sigterm_drains_every_worker(tmp_path):
    """SIGTERM to the supervisor of 2 workers (and to the workers too, as a process-group kill sends it): each
    worker finishes its requests in flight (200), readiness and new work answer 503 meanwhile, every worker
    logs its drain, and the supervisor exits 0."""
    script, markers = tmp_path / "server.py", tmp_path / "markers"
    script.write_text(WORKERS_SERVER)
    markers.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLINKIT_")} | {"SLOW_MARKERS": str(markers)}
    proc = subprocess.Popen([sys.executable, str(script), "--workers", "2", "--port", str(port),
                             "--rewriter-bundle", "none",
                             "--max-wait-ms", "0", "--drain-timeout-s", "60", "--log-level", "info"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    outcomes: list[dict] = []
    threads: list[threading.Thread] = []
    try:
        wait_until_serving(base, proc)

        def send() -> None:
            outcome: dict = {}
            outcomes.append(outcome)
            try:
                outcome["response"] = httpx.post(base + "/v1/classify", json={"texts": ["sleep:3"]}, timeout=120)
            except httpx.HTTPError as exc:
                outcome["error"] = exc

        # Each request opens its own connection, and the kernel hands each to one worker: send until both
        # workers are computing one (a worker computes one batch at a time, so later ones wait in its queue).
        deadline = time.monotonic() + 30
        while len(list(markers.iterdir())) < 2:
            assert time.monotonic() < deadline and len(threads) < 40, "requests never reached both workers"
            threads.append(threading.Thread(target=send))
            threads[-1].start()
            time.sleep(0.1)
        workers = sorted(int(p.name) for p in markers.iterdir())
        proc.send_signal(signal.SIGTERM)
        for pid in workers:  # as a process-group kill (systemd's default) would: a second SIGTERM each
            os.kill(pid, signal.SIGTERM)
        first_ready = poll(base, "/readyz", 503)
        # Fresh connections land on either worker: every one must say it is shutting down.
        ready = [httpx.get(base + "/readyz", timeout=5) for _ in range(6)]
        new_work = [httpx.post(base + "/v1/classify", json={"texts": ["hello"]}, timeout=5) for _ in range(4)]
        still_running = proc.poll() is None and any(t.is_alive() for t in threads)
        for t in threads:
            t.join(60)
        output = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert first_ready.status_code == 503, first_ready.text
    assert [r.status_code for r in ready] == [503] * 6
    assert {r.json()["error"]["code"] for r in ready} == {"shutting_down"}
    assert [r.status_code for r in new_work] == [503] * 4
    assert still_running  # the supervisor waited for the workers' requests in flight
    assert all("error" not in o for o in outcomes), outcomes
    assert [o["response"].status_code for o in outcomes] == [200] * len(threads)
    assert proc.returncode == 0, output
    for pid in workers:  # each worker drained its own requests (log lines carry the process id)
        assert f"[{pid}] callinkit.serve.http: SIGTERM: draining" in output, output
        assert f"[{pid}] callinkit.serve.http: SIGTERM again: still draining" in output, output
        assert f"[{pid}] callinkit.serve.http: drained: no request in flight" in output, output
    assert "cutting off" not in output
