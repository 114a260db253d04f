"""The overload soak (`python -m bench.soak --overload`): more work than the server's queues hold, for a fixed
time, then SIGTERM with requests still in flight.

    python -m bench.soak --overload --duration 300 [--concurrency 32] [--max-queue 64] [--max-texts 16]
                         [--deadline-s 5] [--backoff-ms 100]

The server (started as in the plain soak, loopback only) gets a small queue: at most --max-queue texts wait
per model (each model has its own batcher), --max-texts per request, and a --deadline-s per request
(`--request-timeout-s`). --concurrency clients send only valid requests (classify with 1 to --max-texts
texts, explain, rewrite, suggest), so that the server's documented answers to load are the only refusals: 429
`queue_full` when a request's texts do not fit the queue, 504 `deadline_exceeded` when they wait past the
deadline. The clients are impatient: after a 429 they wait --backoff-ms, not the Retry-After second.

Meanwhile a thread probes `/readyz` every --readyz-every-s on a fresh connection, as an orchestrator does
(status and latency), and scrapes `/metrics` for each model's queue depth; the server's RSS is sampled from
/proc. When the duration is up the clients start nothing new, the server gets SIGTERM with their requests
in flight, and the probe goes on (with one new classify request per probe) until the process has exited:
readiness and new work should answer 503 `shutting_down`, the requests in flight should finish, and the
server should exit 0.

Statuses allowed: 200, 429 and 504, and after SIGTERM also 503 `shutting_down`; anything else, or a request
that got no answer, is listed as unexpected, and the run exits 1 (also when /readyz failed once during the
load, when no request got 429, so the queue limit was never reached, or when the server did not exit 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench.bench_server import free_port, percentile, wait_ready
from bench.soak import MESSAGES, REPO, rss_mb, sample_rss, start_server

# (kind, weight): every request is valid, so that any refusal is the server's answer to load.
MIX = [("classify", 75), ("classify_explain", 5), ("rewrite", 12), ("suggest", 8)]
ROUTES = {"classify": "/v1/classify", "classify_explain": "/v1/classify", "rewrite": "/v1/rewrite",
          "suggest": "/v1/suggest"}
# The documented answer to load for each status; 503 only once the server has been told to stop.
EXPECTED = {200: None, 429: "queue_full", 504: "deadline_exceeded"}
SHUTDOWN = (503, "shutting_down")
_QUEUE_DEPTH = re.compile(r'^callinkit_queue_depth\{model="([^"]+)"\} (\S+)$', re.M)
_DROPPED = re.compile(r'^callinkit_dropped_texts_total\{model="([^"]+)",reason="([^"]+)"\} (\S+)$', re.M)


def server_flags(args: argparse.Namespace) -> list[str]:
    """The limits the overload is measured against (also written into the report)."""
    return ["--max-queue", str(args.max_queue), "--max-texts", str(args.max_texts),
            "--request-timeout-s", str(args.deadline_s), "--max-wait-ms", str(args.max_wait_ms)]


def request_for(kind: str, rng: random.Random, max_texts: int) -> dict[str, Any]:
    """The JSON body of one valid request of `kind`."""
    if kind == "classify":
        return {"texts": [rng.choice(MESSAGES) for _ in range(rng.randint(1, max_texts))]}
    if kind == "classify_explain":
        return {"texts": [rng.choice(MESSAGES)], "explain": True}
    if kind == "rewrite":
        return {"texts": rng.sample(MESSAGES, rng.randint(1, 2)), "num_candidates": 2, "max_new_tokens": 24}
    if kind == "suggest":
        return {"text": rng.choice(MESSAGES), "num_candidates": 2, "max_new_tokens": 24}
    raise ValueError(kind)


def error_code(response: httpx.Response) -> str | None:
    """The `error.code` of a non-200 answer (None for 200 or a body that is not the error shape)."""
    if response.status_code == 200:
        return None
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def is_expected(status: int, code: str | None, after_sigterm: bool) -> bool:
    if status in EXPECTED:
        return code == EXPECTED[status]
    return after_sigterm and (status, code) == SHUTDOWN


async def drive(base: str, args: argparse.Namespace, proc: subprocess.Popen, clock0: float,
                probe: Probe) -> list[dict[str, Any]]:
    """Send the mix from `args.concurrency` clients for `args.duration` s, then SIGTERM the server while their
    requests are in flight (telling `probe`, which records when) and wait for those answers."""
    kinds, weights = zip(*MIX)
    records: list[dict[str, Any]] = []
    stopping = asyncio.Event()
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    timeout = args.deadline_s + 30  # past the server's deadline: a client timeout means no answer came
    async with httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits) as client:
        async def worker(n: int) -> None:
            rng = random.Random(args.seed * 1000 + n)
            while not stopping.is_set():
                kind = rng.choices(kinds, weights)[0]
                sent = time.monotonic()
                try:
                    response = await client.post(ROUTES[kind], json=request_for(kind, rng, args.max_texts))
                    status, code, error = response.status_code, error_code(response), None
                except httpx.HTTPError as exc:
                    status, code, error = 0, None, f"{type(exc).__name__}: {exc}"[:300]
                done = time.monotonic()
                records.append({"t": sent - clock0, "done_t": done - clock0, "kind": kind, "status": status,
                                "code": code, "latency_ms": (done - sent) * 1000, "error": error})
                if status in (429, 503) and not stopping.is_set():
                    await asyncio.sleep(args.backoff_ms / 1000)

        workers = [asyncio.create_task(worker(n)) for n in range(args.concurrency)]
        await asyncio.sleep(max(0.0, args.duration - (time.monotonic() - clock0)))
        stopping.set()
        # The probe learns of SIGTERM before the server does: a /readyz answered in between is then counted as
        # "at_sigterm" (either answer allowed), never as a 503 "during the load" (seen on a busy 2-core CPU).
        probe.sigterm_t = time.monotonic() - clock0
        probe.sigterm_sent.set()
        proc.send_signal(signal.SIGTERM)
        await asyncio.gather(*workers)
    return records


class Probe(threading.Thread):
    """Probes /readyz (a fresh connection each time) every `every_s`, and /metrics every `metrics_every` probes
    until SIGTERM; after SIGTERM also sends one classify request per probe, and stops once the server process
    has exited. Every probe is recorded with its phase: "load", "drain" (sent after SIGTERM), or "at_sigterm"
    (sent before, answered after)."""

    def __init__(self, base: str, proc: subprocess.Popen, clock0: float, every_s: float,
                 metrics_every: int = 2) -> None:
        super().__init__(daemon=True)
        self.base, self.proc, self.clock0, self.every_s = base, proc, clock0, every_s
        self.metrics_every = metrics_every
        self.sigterm_sent = threading.Event()
        self.sigterm_t: float | None = None
        self.stop = threading.Event()
        self.readyz: list[dict[str, Any]] = []
        self.new_work: list[dict[str, Any]] = []
        self.queue_depth: list[tuple[float, dict[str, float]]] = []
        self.dropped: dict[str, float] = {}  # texts dropped before compute, "model reason", at the last scrape

    def run(self) -> None:
        n = 0
        while not self.stop.is_set() and self.proc.poll() is None:
            draining = self.sigterm_sent.is_set()
            self.readyz.append(self._probe("GET", "/readyz", draining))
            if draining:
                self.new_work.append(self._probe("POST", "/v1/classify", draining, {"texts": [MESSAGES[0]]}))
            elif n % self.metrics_every == 0:
                self._scrape_queue_depth()
            n += 1
            # Probe fast while draining: a drain of well-filled queues can take only a few seconds.
            self.stop.wait(min(self.every_s, 0.1) if draining else self.every_s)

    def _probe(self, method: str, path: str, draining: bool, body: Any = None) -> dict[str, Any]:
        start = time.monotonic()
        try:
            response = httpx.request(method, self.base + path, json=body, timeout=10)
            status, code, error = response.status_code, error_code(response), None
        except httpx.HTTPError as exc:
            status, code, error = 0, None, type(exc).__name__
        # A probe sent before SIGTERM and answered after it may get either answer: it has a phase of its own.
        phase = "drain" if draining else "at_sigterm" if self.sigterm_sent.is_set() else "load"
        return {"t": round(start - self.clock0, 3), "phase": phase, "status": status, "code": code,
                "latency_ms": round((time.monotonic() - start) * 1000, 2), "error": error}

    def _scrape_queue_depth(self) -> None:
        try:
            text = httpx.get(self.base + "/metrics", timeout=10).text
        except httpx.HTTPError:
            return
        depths = {model: float(value) for model, value in _QUEUE_DEPTH.findall(text)}
        self.queue_depth.append((time.monotonic() - self.clock0, depths))
        self.dropped = {f"{model} {reason}": float(value) for model, reason, value in _DROPPED.findall(text)}


def _describe(probe: dict[str, Any]) -> str:
    if probe["status"]:
        return f"{probe['status']} {probe['code']}" if probe["code"] else str(probe["status"])
    if probe["phase"] == "drain" and probe["error"] == "ConnectError":
        return "refused (the server had closed its socket)"
    return f"no answer ({probe['error']})"


def probe_summary(probes: list[dict[str, Any]], phase: str) -> dict[str, Any]:
    """Statuses (with codes) and latency of one phase's probes."""
    chosen = [p for p in probes if p["phase"] == phase]
    statuses = Counter(_describe(p) for p in chosen)
    answered = [p["latency_ms"] for p in chosen if p["status"]]
    return {"n": len(chosen), "statuses": dict(sorted(statuses.items())),
            "latency_ms": {"p50": _round(percentile(answered, 50)), "p99": _round(percentile(answered, 99)),
                           "max": _round(max(answered, default=None) if answered else None)}}


def windows(records: list[dict[str, Any]], rss: list[tuple[float, float]],
            queue_depth: list[tuple[float, dict[str, float]]], readyz: list[dict[str, Any]],
            end_s: float, window_s: float) -> list[dict[str, Any]]:
    """Per window of send time (`end_s` cut into about `window_s` pieces): requests by status, p50 / p99 of the 200s and of everything, readyz p99, the
    largest queue depth scraped, and RSS at the window's end."""
    out = []
    count = max(1, round(end_s / window_s))
    for i in range(count):
        t, end = end_s * i / count, end_s * (i + 1) / count
        inside = [r for r in records if t <= r["t"] < end]
        ok = [r["latency_ms"] for r in inside if r["status"] == 200]
        probes = [p["latency_ms"] for p in readyz if t <= p["t"] < end and p["status"]]
        depths = [d for s, d in queue_depth if t <= s < end]
        before = [mb for s, mb in rss if s <= end]
        out.append({
            "start_s": round(t, 1), "end_s": round(end, 1), "requests": len(inside),
            "by_status": dict(sorted(Counter(str(r["status"]) for r in inside).items())),
            "ok_p50_ms": _round(percentile(ok, 50)), "ok_p99_ms": _round(percentile(ok, 99)),
            "all_p99_ms": _round(percentile([r["latency_ms"] for r in inside], 99)),
            "readyz_p99_ms": _round(percentile(probes, 99)),
            "max_queue_depth": {m: max(d.get(m, 0) for d in depths) for m in sorted({k for d in depths for k in d})},
            "rss_mb": _round(before[-1]) if before else None})
    return out


def rss_summary(rss: list[tuple[float, float]], start_mb: float | None, sigterm_t: float) -> dict[str, Any]:
    """The server's RSS: at the start, half-way and at SIGTERM, and its peaks. Bounded means no growth once
    warm: the second half's peak against the first half's."""
    def last(until: float) -> float | None:
        return _round(next((mb for s, mb in reversed(rss) if s <= until), None))

    def peak(since: float, until: float) -> float | None:
        return _round(max((mb for s, mb in rss if since < s <= until), default=None))

    return {"start": _round(start_mb), "at_half_time": last(sigterm_t / 2), "before_sigterm": last(sigterm_t),
            "max_first_half": peak(-1, sigterm_t / 2), "max_second_half": peak(sigterm_t / 2, sigterm_t),
            "min": _round(min((mb for _, mb in rss), default=None)),
            "max": _round(max((mb for _, mb in rss), default=None)), "samples": len(rss)}


def latency_table(records: list[dict[str, Any]]) -> dict[str, Any]:
    """p50 / p99 / max latency by status, and by status and kind."""
    table: dict[str, Any] = {}
    statuses = sorted({r["status"] for r in records})
    groups = [(f"status {s}", [r for r in records if r["status"] == s]) for s in statuses]
    groups += [(f"{s} {k}", [r for r in records if r["status"] == s and r["kind"] == k])
               for s in statuses for k, _ in MIX]
    for name, chosen in groups:
        values = [r["latency_ms"] for r in chosen]
        if values:
            table[name] = {"n": len(values), "p50": _round(percentile(values, 50)),
                           "p99": _round(percentile(values, 99)), "max": _round(max(values))}
    return table


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def run(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    log_path = out.with_suffix(".server.log")
    proc = start_server(args, port, log_path, server_flags(args))
    rss: list[tuple[float, float]] = []
    rss_stop = threading.Event()
    probe: Probe | None = None
    try:
        wait_ready(base, proc, args.startup_timeout_s)
        with httpx.Client(base_url=base, timeout=60) as client:  # lazily built state counts in the start RSS
            for kind in ("classify", "classify_explain", "rewrite"):
                client.post(ROUTES[kind], json=request_for(kind, random.Random(0), 2))
        rss_start = rss_mb(proc.pid)
        clock0 = time.monotonic()
        sampler = threading.Thread(target=sample_rss, args=(proc.pid, clock0, rss, rss_stop, args.rss_every_s),
                                   daemon=True)
        sampler.start()
        probe = Probe(base, proc, clock0, args.readyz_every_s)
        probe.start()

        records = asyncio.run(drive(base, args, proc, clock0, probe))
        sigterm_t = probe.sigterm_t
        assert sigterm_t is not None
        last_answer_t = max((r["done_t"] for r in records), default=sigterm_t)
        exit_code = proc.wait(timeout=args.drain_timeout_s + 60)
        exited_t = time.monotonic() - clock0
    finally:
        rss_stop.set()
        if probe is not None:
            probe.stop.set()
            probe.join(timeout=15)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    load = [r for r in records if r["done_t"] < sigterm_t]
    in_flight = [r for r in records if r["done_t"] >= sigterm_t]
    unexpected = [r for r in load if not is_expected(r["status"], r["code"], False)]
    unexpected += [r for r in in_flight if not is_expected(r["status"], r["code"], True)]
    assert probe is not None
    log_text = log_path.read_text(errors="replace")
    max_depth: dict[str, float] = {}
    for _, depths in probe.queue_depth:
        for model, value in depths.items():
            max_depth[model] = max(max_depth.get(model, 0), value)
    report: dict[str, Any] = {
        "command": "python -m bench.soak " + " ".join(args.argv),
        "mode": "overload",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "bundles": {"classifier": str(args.classifier_bundle or "shipped"),
                    "rewriter": str(args.rewriter_bundle or "shipped")},
        "server_limits": {"max_queue_texts_per_model": args.max_queue, "max_texts_per_request": args.max_texts,
                          "deadline_s": args.deadline_s, "max_wait_ms": args.max_wait_ms,
                          "drain_timeout_s": args.drain_timeout_s},
        "clients": {"concurrency": args.concurrency, "backoff_ms_after_429": args.backoff_ms, "mix": dict(MIX),
                    "texts_per_request": {"classify": f"1-{args.max_texts}", "classify_explain": 1,
                                          "rewrite": "1-2", "suggest": 1}},
        "duration_s": args.duration, "sigterm_at_s": round(sigterm_t, 2),
        "requests": len(records),
        "load_phase": {"requests": len(load),
                       "by_status": dict(sorted(Counter(str(r["status"]) for r in load).items())),
                       "by_kind": {k: dict(sorted(Counter(str(r["status"]) for r in load if r["kind"] == k).items()))
                                   for k, _ in MIX},
                       "answered_per_s": round(len(load) / sigterm_t, 2),
                       "latency_ms": latency_table(load)},
        "p99_ms": {"200": _round(percentile([r["latency_ms"] for r in load if r["status"] == 200], 99)),
                   "all": _round(percentile([r["latency_ms"] for r in load], 99))},
        "unexpected": len(unexpected),
        "unexpected_examples": unexpected[:20],
        "max_queue_depth_scraped": max_depth,
        "dropped_texts_at_last_scrape": probe.dropped,
        "readyz": {"every_s": args.readyz_every_s, "load": probe_summary(probe.readyz, "load"),
                   "at_sigterm": probe_summary(probe.readyz, "at_sigterm"),
                   "drain": probe_summary(probe.readyz, "drain")},
        "new_work_while_draining": probe_summary(probe.new_work, "drain"),
        "shutdown": {
            "in_flight_at_sigterm": len(in_flight),
            "in_flight_by_status": dict(sorted(Counter(
                f"{r['status']} {r['code']}" if r["code"] else str(r["status"]) for r in in_flight).items())),
            "last_answer_after_sigterm_s": round(last_answer_t - sigterm_t, 2),
            "exited_after_sigterm_s": round(exited_t - sigterm_t, 2),
            "server_exit_code": exit_code,
            # The server logs at warning level: a drain that timed out says so; a complete one is silent.
            "drain_timed_out": "drain timeout" in log_text},
        "rss_mb": rss_summary(rss, rss_start, sigterm_t),
        "windows": windows(records, rss, probe.queue_depth, probe.readyz, sigterm_t, args.window_s),
        "server_log": str(log_path.relative_to(REPO) if log_path.is_relative_to(REPO) else log_path),
    }
    report["ok"] = ok(report)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    plot(report, rss, probe.readyz, out.with_suffix(".png"))
    return report


def ok(report: dict[str, Any]) -> bool:
    """The run's verdict: see the module docstring."""
    return (report["unexpected"] == 0
            and int(report["load_phase"]["by_status"].get("429", 0)) > 0
            and set(report["readyz"]["load"]["statuses"]) == {"200"}
            and report["shutdown"]["server_exit_code"] == 0
            and not report["shutdown"]["drain_timed_out"])


def plot(report: dict[str, Any], rss: list[tuple[float, float]], readyz: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (counts, latency, memory) = plt.subplots(3, 1, figsize=(9, 10), sharex=True)
    rows = report["windows"]
    mids = [(w["start_s"] + w["end_s"]) / 2 for w in rows]
    widths = [w["end_s"] - w["start_s"] for w in rows]
    for status, color in [("200", "tab:green"), ("429", "tab:orange"), ("504", "tab:red"), ("503", "tab:purple")]:
        values = [w["by_status"].get(status, 0) / width for w, width in zip(rows, widths)]
        if any(values):
            counts.plot(mids, values, marker="o", color=color, label=status)
    counts.set_ylabel("answers / s (by send time)")
    counts.legend(fontsize=8, title="status")
    sigterm = report["sigterm_at_s"]
    limits = report["server_limits"]
    counts.set_title(f"callinkit serve overload soak: {report['duration_s']:.0f} s, {report['clients']['concurrency']} "
                     f"clients, queue {limits['max_queue_texts_per_model']} texts/model, deadline "
                     f"{limits['deadline_s']:g} s; {report['unexpected']} unexpected", fontsize=10)
    for q, style in [("ok_p50_ms", "-"), ("ok_p99_ms", "--")]:
        latency.plot(mids, [w[q] if w[q] is not None else float("nan") for w in rows], style, marker="o",
                     color="tab:blue", label=f"200s {q[3:6]}")
    answered = [p for p in readyz if p["status"]]
    latency.scatter([p["t"] for p in answered], [p["latency_ms"] for p in answered], s=6,
                    c=["tab:gray" if p["status"] == 200 else "tab:purple" for p in answered],
                    label="/readyz (grey 200, purple 503)")
    latency.set_yscale("log")
    latency.set_ylabel("latency, ms")
    latency.legend(fontsize=8)
    memory.plot([s for s, _ in rss], [mb for _, mb in rss], color="tab:green")
    memory.set_ylabel("server RSS, MiB")
    memory.set_xlabel("seconds since the load started")
    exited = sigterm + report["shutdown"]["exited_after_sigterm_s"]
    for axis in (counts, latency, memory):
        axis.axvline(sigterm, color="black", linestyle=":", linewidth=1)
        axis.axvline(exited, color="black", linestyle="--", linewidth=1)
    low, high = memory.get_ylim()
    memory.annotate("SIGTERM ", (sigterm, low), fontsize=8, ha="right")
    memory.annotate(" exit", (exited, high), fontsize=8, ha="left", va="top")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("--overload")
    group.add_argument("--overload", action="store_true",
                       help="drive the server above its queue limit, then SIGTERM it under load (see bench/soak_overload.py)")
    group.add_argument("--max-queue", type=int, default=64, help="server --max-queue: texts waiting per model (64)")
    group.add_argument("--max-texts", type=int, default=16, help="server --max-texts, and the most a request sends (16)")
    group.add_argument("--deadline-s", type=float, default=5.0, help="server --request-timeout-s (5)")
    group.add_argument("--max-wait-ms", type=float, default=2.0, help="server --max-wait-ms (2, its default)")
    group.add_argument("--backoff-ms", type=float, default=100.0, help="a client's pause after a 429 (100)")
    group.add_argument("--readyz-every-s", type=float, default=0.5, help="how often /readyz is probed (0.5)")
