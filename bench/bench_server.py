"""Load-test `callinkit serve` on /v1/classify against calling Classifier.predict directly, in one run.

    python bench/bench_server.py --bundle bundles/quickstart [--requests 400] [--concurrency 1 8 32]

Starts a server on 127.0.0.1 (a free port) in a subprocess, sends a fixed number of one-text requests at
each concurrency (a lean keep-alive HTTP/1.1 client on asyncio, see `http_load`), then does the same number
of `predict([text])` calls from as many threads in this process; and GET /healthz at the top concurrency,
the HTTP stack's ceiling with no model work. Prints a table and writes `server_bench.json` and `server_latency.png` to --out. Bounded: fixed
request counts, a timeout per request, and the server is stopped at the end whatever happens.
The load generator shares the machine with the server, so on a small CPU the server numbers include it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

MESSAGES = [
    "you absolute clown, delete this before everyone sees how dumb you are",
    "hey, I don't think you meant it this way, but that word hurts disabled folks",
    "the bus is late AGAIN and I'm soaked. great monday",
    "nobody asked you, log off forever and take your fake stats with you",
    "can we use her name and pronouns as she asked? it matters a lot to her",
    "made sourdough for the first time, it's ugly but delicious",
    "imagine being this ignorant in 2026. educate yourself, idiot",
    "the art in your post is by @mira_draws; could you add credit?",
]


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (nearest rank) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def summarize(latencies_s: list[float], wall_s: float) -> dict[str, float]:
    return {"requests": len(latencies_s), "throughput_rps": len(latencies_s) / wall_s,
            "p50_ms": percentile(latencies_s, 50) * 1000, "p99_ms": percentile(latencies_s, 99) * 1000,
            "mean_ms": statistics.fmean(latencies_s) * 1000, "wall_s": wall_s}


def batch_totals(metrics_text: str) -> tuple[float, float]:
    """(texts computed, batches) of the classifier so far, from /metrics."""
    def value(name: str) -> float:
        match = re.search(rf'^{name}{{model="classifier"}} (\S+)$', metrics_text, re.M)
        return float(match.group(1)) if match else 0.0
    return value("callinkit_batch_size_sum"), value("callinkit_batch_size_count")


def _request_bytes(method: str, path: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """(status, body) of one HTTP/1.1 response with a Content-Length (what the server sends for JSON)."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection")
    length = None
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
        elif name.strip().lower() == b"transfer-encoding":
            raise ValueError("this load generator reads Content-Length bodies only, not chunked ones")
    if length is None:
        raise ValueError(f"response without Content-Length: {status_line!r}")
    return int(status_line.split()[1]), await reader.readexactly(length)


async def http_load(port: int, payloads: list[bytes], requests: int, concurrency: int,
                    timeout_s: float = 30.0) -> dict[str, float]:
    """`requests` calls (payloads in turn) from `concurrency` keep-alive connections to 127.0.0.1:`port`.

    A lean HTTP/1.1 client on asyncio streams with pre-encoded requests, on purpose: the load generator
    shares this CPU with the server, and httpx spends so much of it per request that on 2 cores it capped
    GET /healthz at about 340 requests/s at 32 clients, where this client reaches about 5,900 (measured side
    by side in session 9). Every response must be 200."""
    latencies: list[float] = []
    counter = iter(range(requests))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i in counter:
                start = time.perf_counter()
                writer.write(payloads[i % len(payloads)])
                status, body = await asyncio.wait_for(_read_response(reader), timeout_s)
                latencies.append(time.perf_counter() - start)
                if status != 200:
                    raise RuntimeError(f"request {i} answered {status}: {body[:200]!r}")
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return summarize(latencies, time.perf_counter() - start)


CLASSIFY = [_request_bytes("POST", "/v1/classify", json.dumps({"texts": [m]}).encode()) for m in MESSAGES]


async def load_server(base: str, requests: int, concurrency: int) -> tuple[dict[str, float], float]:
    """Send `requests` one-text classify calls from `concurrency` clients; also the mean batch size."""
    port = int(base.rsplit(":", 1)[1])
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        texts_before, batches_before = batch_totals((await client.get("/metrics")).text)
        row = await http_load(port, CLASSIFY, requests, concurrency)
        texts_after, batches_after = batch_totals((await client.get("/metrics")).text)
    mean_batch = (texts_after - texts_before) / max(1.0, batches_after - batches_before)
    return row, mean_batch


async def load_healthz(base: str, requests: int, concurrency: int) -> dict[str, float]:
    """`requests` GET /healthz calls from `concurrency` clients: what the HTTP stack and this load generator
    manage on this machine with no model work at all, the ceiling for any /v1/classify figure."""
    return await http_load(int(base.rsplit(":", 1)[1]), [_request_bytes("GET", "/healthz")], requests, concurrency)


def load_direct(classifier: Any, requests: int, concurrency: int) -> dict[str, float]:
    """The same calls as `load_server`, as `classifier.predict([text])` from `concurrency` threads."""
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            start = time.perf_counter()
            classifier.predict([MESSAGES[i % len(MESSAGES)]])
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    return summarize(latencies, time.perf_counter() - start)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(bundle: Path, port: int, max_wait_ms: float | None, threads: int | None) -> subprocess.Popen:
    command = [sys.executable, "-m", "callinkit", "serve", "--classifier-bundle", str(bundle), "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning"]
    if max_wait_ms is not None:
        command += ["--max-wait-ms", str(max_wait_ms)]
    if threads:
        command += ["--threads", str(threads)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc, 120)
    except RuntimeError:
        raise SystemExit(f"server exited: {proc.communicate()[0]}") from None
    except TimeoutError:
        proc.kill()
        raise SystemExit("server did not become ready within 120 s") from None
    return proc


def wait_ready(base: str, proc: subprocess.Popen, timeout_s: float) -> None:
    """Poll GET /readyz until it answers 200; RuntimeError if the process exits first, TimeoutError after
    timeout_s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before it was ready")
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{base} was not ready after {timeout_s:.0f} s")


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = results["concurrency"]
    fig, (latency, throughput) = plt.subplots(1, 2, figsize=(11, 4))
    for name, color in (("server", "tab:blue"), ("direct", "tab:orange")):
        rows = results[name]
        latency.plot(levels, [r["p50_ms"] for r in rows], "o-", color=color, label=f"{name} p50")
        latency.plot(levels, [r["p99_ms"] for r in rows], "s--", color=color, alpha=0.6, label=f"{name} p99")
        throughput.plot(levels, [r["throughput_rps"] for r in rows], "o-", color=color, label=name)
    latency.set_yscale("log")
    for axis, title, unit in ((latency, "latency per request", "ms"), (throughput, "throughput", "requests/s")):
        axis.set_xscale("log", base=2)
        axis.set_xticks(levels, [str(c) for c in levels])
        axis.set_xlabel("concurrent clients")
        axis.set_ylabel(unit)
        axis.set_title(title)
        axis.legend()
        axis.grid(alpha=0.3)
    fig.suptitle(f"/v1/classify vs Classifier.predict ({results['bundle']}, one text per request)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def run(bundle: Path, requests: int = 400, concurrency: list[int] | tuple[int, ...] = (1, 8, 32),
        max_wait_ms: float | None = None, threads: int | None = None) -> dict[str, Any]:
    """The server (a subprocess on a free loopback port) and the library, `requests` one-text calls at each
    concurrency; returns rows for both. The server is stopped whatever happens."""
    from callinkit import Classifier

    classifier = Classifier.load(bundle, threads=threads)
    port = free_port()
    server = start_server(bundle, port, max_wait_ms, threads)
    results: dict[str, Any] = {"bundle": str(bundle), "requests": requests,
                               "concurrency": list(concurrency), "max_wait_ms": max_wait_ms, "threads": threads,
                               "machine": {"cpus": os.cpu_count(), "load_average_1m": os.getloadavg()[0],
                                           "python": platform.python_version(), "platform": platform.platform()},
                               "server": [], "direct": []}
    try:
        base = f"http://127.0.0.1:{port}"
        asyncio.run(load_server(base, 50, 4))  # warm-up: connections, onnxruntime's first runs
        load_direct(classifier, 50, 1)
        for level in concurrency:
            server_row, mean_batch = asyncio.run(load_server(base, requests, level))
            results["server"].append({"concurrency": level, **server_row, "mean_batch_size": mean_batch})
            results["direct"].append({"concurrency": level, **load_direct(classifier, requests, level)})
        results["healthz"] = {"concurrency": max(concurrency),
                              **asyncio.run(load_healthz(base, max(requests, 2000), max(concurrency)))}
    finally:
        server.terminate()
        server.communicate(timeout=30)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", required=True, type=Path, help="classifier bundle folder")
    parser.add_argument("--requests", type=int, default=400, help="requests per concurrency level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--max-wait-ms", type=float, default=None, help="the server's batching wait (default: "
                                                                         "the server's own)")
    parser.add_argument("--threads", type=int, default=None,
                        help="onnxruntime intra-op threads, for the server and the direct calls alike")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_server"), help="folder for JSON + PNG")
    args = parser.parse_args(argv)

    results = run(args.bundle, args.requests, args.concurrency, args.max_wait_ms, args.threads)
    print(f"{'path':<8} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'batch':>6}")
    for server_row, direct_row in zip(results["server"], results["direct"]):
        for name, row in (("server", server_row), ("direct", direct_row)):
            batch = f"{row['mean_batch_size']:.1f}" if "mean_batch_size" in row else "-"
            print(f"{name:<8} {row['concurrency']:>7} {row['throughput_rps']:>8.0f} {row['p50_ms']:>8.2f} "
                  f"{row['p99_ms']:>8.2f} {batch:>6}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "server_bench.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, args.out / "server_latency.png")
    h = results["healthz"]
    print(f"GET /healthz at {h['concurrency']} clients (no model work): {h['throughput_rps']:.0f} req/s")
    print(f"wrote {args.out / 'server_bench.json'} and {args.out / 'server_latency.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
