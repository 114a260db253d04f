"""Bounded soak test of `callinkit serve`: mixed valid and invalid traffic for a fixed time, then a report.

    python -m bench.soak --duration 300 [--concurrency 4] [--classifier-bundle DIR] [--rewriter-bundle DIR|none]

Starts a server on 127.0.0.1 (a free port; loopback only) in its own process with the shipped bundles unless
others are given, and drives it from this process at a fixed concurrency for a fixed duration: classify
(some with explanations), rewrite and suggest requests, and bad ones (malformed JSON, wrong types, texts over
--max-chars, too many texts, a body over --max-body-bytes, unknown routes). Then it stops sending, checks that
the server still answers, stops it with SIGTERM (a graceful drain) and writes `<out>.json` and `<out>.png`:
requests by kind and status code, p50 / p99 latency per time window, every 500 (there must be none; 503 while loading, 429 for a full queue and 504 past the deadline are
the server's documented answers to load), the
server's resident memory (RSS, from /proc) over time, and whether it answered afterwards. Exits 1 when a
request got a 500 or the server stopped answering. Bounded: a timeout per request, and the server is stopped
at the end whatever happens. The load generator shares the machine with the server.

    python -m bench.soak --overload --duration 300

is the soak above the queue limit (bench/soak_overload.py): more valid work than the server's queues hold,
/readyz probed throughout, then SIGTERM with requests in flight; it writes bench/soak_overload.json / .png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from bench.bench_server import (  # one copy of each, shared with the server bench
    free_port,
    percentile,
    wait_ready,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MESSAGES = [
    "you absolute clown, delete this before everyone sees how dumb you are",
    "hey, I don't think you meant it this way, but that word hurts disabled folks",
    "the bus is late AGAIN and I'm soaked. great monday",
    "nobody asked you, log off forever and take your fake stats with you",
    "can we use her name and pronouns as she asked? it matters a lot to her",
    "imagine being this ignorant in 2026. educate yourself, idiot",
]
MAX_CHARS = 2000  # the server's defaults, which the invalid requests go past
MAX_BODY_BYTES = 1_000_000

# (kind, weight): what share of the traffic each kind of request is.
MIX = [("classify", 40), ("classify_explain", 4), ("rewrite", 8), ("suggest", 6), ("bad_json", 10),
       ("wrong_type", 8), ("huge_text", 8), ("too_many_texts", 6), ("huge_body", 4), ("unknown_route", 6)]
VALID = {"classify", "classify_explain", "rewrite", "suggest"}


def request_for(kind: str, rng: random.Random) -> tuple[str, str, bytes]:
    """(method, path, body) of one request of `kind`."""
    text = rng.choice(MESSAGES)
    body: Any
    if kind == "classify":
        body = {"texts": rng.sample(MESSAGES, rng.randint(1, 4))}
    elif kind == "classify_explain":
        body = {"texts": [text], "explain": True}
    elif kind == "rewrite":
        body = {"texts": [text], "num_candidates": 2, "max_new_tokens": 24}
    elif kind == "suggest":
        body = {"text": text, "num_candidates": 2, "max_new_tokens": 24}
    elif kind == "bad_json":
        return "POST", "/v1/classify", rng.choice([b'{"texts": ["unterminated', b"not json at all", b"\xff\xfe\x00",
                                                    b"", b"[[[[[[[[[[[[[[[[[[[[", b'{"texts": ['])
    elif kind == "wrong_type":
        body = rng.choice([{"texts": "a string, not a list"}, {"texts": [1, 2]}, {"text": None}, [], {}])
    elif kind == "huge_text":
        body = {"texts": [text + " x" * rng.randint(MAX_CHARS, 4 * MAX_CHARS)]}
    elif kind == "too_many_texts":
        body = {"texts": [text] * rng.randint(65, 200)}
    elif kind == "huge_body":
        body = {"texts": ["y" * (MAX_BODY_BYTES + 10_000)]}
    elif kind == "unknown_route":
        return "POST", rng.choice(["/v1/clasify", "/v3/models", "/v2/models/nope/infer"]), b"{}"
    else:
        raise ValueError(kind)
    path = {"rewrite": "/v1/rewrite", "suggest": "/v1/suggest"}.get(kind, "/v1/classify")
    return "POST", path, json.dumps(body).encode()


def rss_mb(pid: int) -> float | None:
    """Resident memory of process `pid` in MiB (Linux /proc), None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def start_server(args: argparse.Namespace, port: int, log_path: Path,
                 extra_flags: Sequence[str] = ()) -> subprocess.Popen:
    """`callinkit serve` on 127.0.0.1:`port` with the chosen bundles (and `extra_flags`), logging to `log_path`."""
    command = [sys.executable, "-m", "callinkit", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--log-level", "warning", "--drain-timeout-s", str(args.drain_timeout_s), *extra_flags]
    if args.classifier_bundle:
        command += ["--classifier-bundle", str(args.classifier_bundle)]
    if args.rewriter_bundle:
        command += ["--rewriter-bundle", str(args.rewriter_bundle)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLINKIT_")}
    log = log_path.open("w")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)


async def drive(base: str, duration_s: float, concurrency: int, seed: int, timeout_s: float) -> list[dict[str, Any]]:
    """Send the mix from `concurrency` clients until `duration_s` has passed; one record per request."""
    kinds, weights = zip(*MIX)
    records: list[dict[str, Any]] = []
    start = time.monotonic()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=timeout_s, limits=limits) as client:
        async def worker(n: int) -> None:
            rng = random.Random(seed * 1000 + n)
            while time.monotonic() - start < duration_s:
                kind = rng.choices(kinds, weights)[0]
                method, path, body = request_for(kind, rng)
                sent = time.monotonic()
                try:
                    response = await client.request(method, path, content=body,
                                                    headers={"Content-Type": "application/json"})
                    status, error = response.status_code, None
                    if status == 500:
                        error = response.text[:300]
                except httpx.HTTPError as exc:
                    status, error = 0, f"{type(exc).__name__}: {exc}"[:300]
                records.append({"t": sent - start, "kind": kind, "status": status,
                                "latency_ms": (time.monotonic() - sent) * 1000, "error": error})

        await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return records


def sample_rss(pid: int, start: float, samples: list[tuple[float, float]], stop: threading.Event,
               every_s: float) -> None:
    while not stop.is_set():
        value = rss_mb(pid)
        if value is not None:
            samples.append((time.monotonic() - start, value))
        stop.wait(every_s)


def windows(records: list[dict[str, Any]], duration_s: float, window_s: float,
            rss: list[tuple[float, float]]) -> list[dict[str, Any]]:
    """Per time window: requests, and p50 / p99 latency of each valid kind and of everything; RSS at its end."""
    out = []
    t = 0.0
    while t < duration_s - 1e-9:
        end = min(t + window_s, duration_s)
        inside = [r for r in records if t <= r["t"] < end]
        row: dict[str, Any] = {"start_s": round(t, 1), "end_s": round(end, 1), "requests": len(inside)}
        for name, chosen in [("all", inside), ("classify", [r for r in inside if r["kind"] == "classify"]),
                             ("rewrite", [r for r in inside if r["kind"] == "rewrite"])]:
            ok = [r["latency_ms"] for r in chosen if r["status"] == 200 or name == "all"]
            row[name] = {"n": len(ok), "p50_ms": _round(percentile(ok, 50)), "p99_ms": _round(percentile(ok, 99))}
        before = [mb for s, mb in rss if s <= end]
        row["rss_mb"] = _round(before[-1]) if before else None
        out.append(row)
        t = end
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def plot(report: dict[str, Any], rss: list[tuple[float, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (lat, mem) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    mids = [(w["start_s"] + w["end_s"]) / 2 for w in report["windows"]]
    for name, color in [("classify", "tab:blue"), ("rewrite", "tab:orange")]:
        for q, style in [("p50_ms", "-"), ("p99_ms", "--")]:
            values = [w[name][q] if w[name][q] is not None else float("nan") for w in report["windows"]]
            lat.plot(mids, values, style, color=color, marker="o", label=f"{name} {q[:3]}")
    lat.set_yscale("log")
    lat.set_ylabel("latency, ms (200s)")
    lat.legend(fontsize=8)
    lat.set_title(f"callinkit serve soak: {report['duration_s']:.0f} s at concurrency {report['concurrency']}, "
                  f"{report['requests']} requests, {report['status_500']} status 500")
    mem.plot([s for s, _ in rss], [mb for _, mb in rss], color="tab:green")
    mem.set_ylabel("server RSS, MiB")
    mem.set_xlabel("seconds since the load started")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    log_path = out.with_suffix(".server.log")
    proc = start_server(args, port, log_path)
    rss: list[tuple[float, float]] = []
    stop = threading.Event()
    try:
        wait_ready(base, proc, args.startup_timeout_s)
        # One request of each valid kind first, so that lazily built state is part of the starting memory.
        with httpx.Client(base_url=base, timeout=args.request_timeout_s) as client:
            for kind in ("classify", "classify_explain", "rewrite"):
                method, path, body = request_for(kind, random.Random(0))
                client.request(method, path, content=body, headers={"Content-Type": "application/json"})
        rss_start = rss_mb(proc.pid)
        start = time.monotonic()
        sampler = threading.Thread(target=sample_rss, args=(proc.pid, start, rss, stop, args.rss_every_s),
                                   daemon=True)
        sampler.start()
        records = asyncio.run(drive(base, args.duration, args.concurrency, args.seed, args.request_timeout_s))
        wall = time.monotonic() - start
        stop.set()
        sampler.join()
        rss_end = rss_mb(proc.pid)
        with httpx.Client(base_url=base, timeout=args.request_timeout_s) as client:
            ready_after = client.get("/readyz").status_code
            classify_after = client.post("/v1/classify", json={"texts": MESSAGES[:2]})
            answered_after = ready_after == 200 and classify_after.status_code == 200 and \
                len(classify_after.json()["results"]) == 2
            metrics_text = client.get("/metrics").text
    finally:
        stop.set()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    by_status = Counter(r["status"] for r in records)
    by_kind: dict[str, dict[str, int]] = {}
    for r in records:
        by_kind.setdefault(r["kind"], Counter())[str(r["status"])] += 1
    server_errors = [r for r in records if r["status"] == 500]
    rss_values = [mb for _, mb in rss]
    report: dict[str, Any] = {
        "command": "python -m bench.soak " + " ".join(args.argv),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "bundles": {"classifier": str(args.classifier_bundle or "shipped"),
                    "rewriter": str(args.rewriter_bundle or "shipped")},
        "duration_s": args.duration, "wall_s": round(wall, 1), "concurrency": args.concurrency,
        "mix": dict(MIX), "requests": len(records),
        "throughput_rps": round(len(records) / wall, 2),
        "by_status": {str(k): v for k, v in sorted(by_status.items())},
        "by_kind": {k: dict(sorted(v.items())) for k, v in sorted(by_kind.items())},
        "status_500": len(server_errors),
        "server_errors": server_errors[:20],
        "transport_errors": by_status.get(0, 0),
        "latency_ms": {name: {"p50": _round(percentile(v, 50)), "p99": _round(percentile(v, 99)), "n": len(v)}
                       for name, v in [("classify", [r["latency_ms"] for r in records
                                                     if r["kind"] == "classify" and r["status"] == 200]),
                                       ("rewrite", [r["latency_ms"] for r in records
                                                    if r["kind"] == "rewrite" and r["status"] == 200]),
                                       ("invalid", [r["latency_ms"] for r in records if r["kind"] not in VALID])]},
        "windows": windows(records, args.duration, args.window_s, rss),
        "rss_mb": {"start": _round(rss_start), "end": _round(rss_end),
                   "min": _round(min(rss_values, default=None)) if rss_values else None,
                   "max": _round(max(rss_values)) if rss_values else None,
                   "growth": _round(rss_end - rss_start) if rss_start and rss_end else None},
        "answered_after": answered_after,
        "internal_errors_in_metrics": sum(
            float(line.rsplit(" ", 1)[1]) for line in metrics_text.splitlines()
            if line.startswith("callinkit_http_requests_total") and 'status="500"' in line),
        "server_exit_code": proc.returncode,
        "server_log": str(log_path.relative_to(REPO) if log_path.is_relative_to(REPO) else log_path),
    }
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    plot(report, rss, out.with_suffix(".png"))
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=300, help="seconds of load (default 300)")
    parser.add_argument("--concurrency", type=int, help="clients sending at once (default 4; --overload: 32)")
    parser.add_argument("--classifier-bundle", type=Path, help="default: the shipped classifier")
    parser.add_argument("--rewriter-bundle", help="default: the shipped rewriter; 'none' for none")
    parser.add_argument("--window-s", type=float, default=None, help="latency window (default duration / 10)")
    parser.add_argument("--rss-every-s", type=float, default=1.0, help="RSS sampling period (default 1 s)")
    parser.add_argument("--request-timeout-s", type=float, default=60.0, help="client timeout per request")
    parser.add_argument("--startup-timeout-s", type=float, default=180.0, help="how long loading may take")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--drain-timeout-s", type=float, default=30.0, help="server --drain-timeout-s (30)")
    parser.add_argument("--out", help="writes OUT.json, OUT.png and OUT.server.log (default bench/soak, "
                                      "--overload: bench/soak_overload)")
    from bench import soak_overload  # imported here: it imports this module's helpers

    soak_overload.add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.concurrency = args.concurrency or (32 if args.overload else 4)
    args.out = args.out or str(HERE / ("soak_overload" if args.overload else "soak"))
    if args.duration <= 0 or args.concurrency < 1:
        raise SystemExit("--duration must be > 0 and --concurrency >= 1")
    args.window_s = args.window_s or max(args.duration / 10, 1.0)
    args.argv = argv
    if args.overload:
        return overload_main(args)
    report = run(args)
    print(json.dumps({k: report[k] for k in ("requests", "throughput_rps", "by_status", "status_500",
                                             "latency_ms", "rss_mb", "answered_after", "server_exit_code")},
                     indent=2))
    print(f"wrote {Path(args.out).with_suffix('.json')} and {Path(args.out).with_suffix('.png')}")
    return 0 if report["status_500"] == 0 and report["answered_after"] else 1


def overload_main(args: argparse.Namespace) -> int:
    from bench import soak_overload

    report = soak_overload.run(args)
    print(json.dumps({k: report[k] for k in ("ok", "requests", "p99_ms", "unexpected", "max_queue_depth_scraped",
                                             "readyz", "new_work_while_draining", "shutdown", "rss_mb")}
                     | {"load_by_status": report["load_phase"]["by_status"]}, indent=2))
    print(f"wrote {Path(args.out).with_suffix('.json')} and {Path(args.out).with_suffix('.png')}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
