"""`callinkit serve --workers 2`: /metrics counts every request, whichever worker answered it and whichever
worker answers the scrape (prometheus_client's multiprocess mode, set up by the server itself)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from test_server_support import free_port, metric_value, wait_until_serving

CLASSIFY = {"method": "POST", "route": "/v1/classify", "status": "200"}


def start_server(bundle: Path, port: int, **env: str) -> subprocess.Popen:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CALLINKIT_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    return subprocess.Popen([sys.executable, "-m", "callinkit", "serve", "--classifier-bundle", str(bundle),
                             "--rewriter-bundle", "none", "--workers", "2", "--port", str(port),
                             "--log-level", "warning"],
                            env={**clean, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    return proc.communicate(timeout=60)[0]


def classify_concurrently(base: str, n: int) -> Counter:
    """n requests, 8 at a time, each on its own connection (so the kernel can hand it to either worker)."""
    def one(i: int) -> int:
        with httpx.Client(base_url=base, timeout=30) as client:
            return client.post("/v1/classify", json={"texts": [f"you clown number {i}"]}).status_code

    with ThreadPoolExecutor(8) as pool:
        return Counter(pool.map(one, range(n)))


def per_worker(folder: Path, route: str) -> dict[int, float]:
    """Requests to `route` with status 200 each worker counted, from the workers' own metric files (a worker
    counts a request as its response goes out)."""
    from prometheus_client.mmap_dict import MmapedDict

    counts: dict[int, float] = {}
    for file in folder.glob("counter_*.db"):
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(file)):
            _, sample, labels, _ = json.loads(key)
            if sample == "callinkit_http_requests_total" and labels.get("route") == route and labels["status"] == "200":
                counts[int(file.stem.split("_")[1])] = value
    return counts


def wait_until_every_worker_ready(base: str, folder: Path, workers: int = 2, timeout_s: float = 60) -> None:
    """`wait_until_serving` saw one worker answer /readyz 200; another may still be loading its model (and
    answer classify requests 503 `not_ready`). Probe /readyz on fresh connections until every worker has
    answered 200, as its own metric file shows."""
    deadline = time.monotonic() + timeout_s
    while True:
        ready = {pid for pid, count in per_worker(folder, "/readyz").items() if count > 0}
        if len(ready) >= workers:
            return
        assert time.monotonic() < deadline, f"only workers {sorted(ready)} answered /readyz 200"
        with httpx.Client(base_url=base, timeout=10) as client:
            client.get("/readyz")
        time.sleep(0.05)


def stale_counter(folder: Path) -> None:
    """A counter file as an earlier server would have left it: 1000 classify requests from pid 999999."""
    from prometheus_client.mmap_dict import MmapedDict, mmap_key

    stale = MmapedDict(str(folder / "counter_999999.db"))
    stale.write_value(mmap_key("callinkit_http_requests", "callinkit_http_requests_total", list(CLASSIFY),
                               list(CLASSIFY.values()), "HTTP requests"), 1000.0, 0.0)
    stale.close()


def test_metrics_count_every_request_whichever_worker_answers(tiny_bundle, tmp_path):
    folder = tmp_path / "prometheus"
    folder.mkdir()
    stale_counter(folder)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(tiny_bundle, port, PROMETHEUS_MULTIPROC_DIR=str(folder))
    try:
        wait_until_serving(base, proc)
        assert not (folder / "counter_999999.db").exists()  # emptied at start
        wait_until_every_worker_ready(base, folder)
        statuses: Counter = Counter()
        # Until both workers have answered classify requests (the kernel picks one per connection).
        for _ in range(10):
            statuses += classify_concurrently(base, 24)
            if len(per_worker(folder, "/v1/classify")) == 2:
                break
        # A worker counts a request as its response goes out: wait (5 s at most) for the last few to land.
        deadline = time.monotonic() + 5
        while sum(per_worker(folder, "/v1/classify").values()) < statuses[200] and time.monotonic() < deadline:
            time.sleep(0.05)
        classify_by_worker = per_worker(folder, "/v1/classify")
        assert len(classify_by_worker) == 2, classify_by_worker
        assert set(statuses) == {200}, statuses  # both workers had answered /readyz 200: their models were loaded
        # Scrape until both workers have answered a scrape; every scrape must count every request.
        totals = []
        for _ in range(40):
            with httpx.Client(base_url=base, timeout=10) as client:
                text = client.get("/metrics").text
            totals.append((metric_value(text, "callinkit_http_requests_total", **CLASSIFY),
                           metric_value(text, "callinkit_http_request_duration_seconds_count", **CLASSIFY)))
            if len(per_worker(folder, "/metrics")) == 2:
                break
        assert len(per_worker(folder, "/metrics")) == 2, "one worker answered every scrape"
    finally:
        output = stop(proc)
    n = statuses[200]
    assert sum(classify_by_worker.values()) == n and min(classify_by_worker.values()) > 0
    assert set(totals) == {(n, n)}, (n, totals)
    assert proc.returncode == 0, output


def test_without_a_folder_the_server_makes_one_and_removes_it(tiny_bundle, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(tiny_bundle, port, TMPDIR=str(tmp))
    try:
        wait_until_serving(base, proc)
        made = list(tmp.glob("callinkit-metrics-*"))
        assert len(made) == 1, made
        wait_until_every_worker_ready(base, made[0])
        sent = classify_concurrently(base, 16)
        # A worker counts a request as its response goes out, so a scrape at once may miss the last few:
        # scrape until every request is counted (or 5 s have passed, and the assert below says how many).
        deadline = time.monotonic() + 5
        while True:
            with httpx.Client(base_url=base, timeout=10) as client:
                text = client.get("/metrics").text
            if metric_value(text, "callinkit_http_requests_total", **CLASSIFY) >= 16 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        counter_files = [f.name for folder in made for f in folder.glob("counter_*.db")]
    finally:
        output = stop(proc)
    assert len(made) == 1 and counter_files, (made, counter_files)
    assert metric_value(text, "callinkit_http_requests_total", **CLASSIFY) == sent[200] == 16
    assert proc.returncode == 0, output
    assert not list(tmp.glob("callinkit-metrics-*")), "the server's metrics folder outlived it"
