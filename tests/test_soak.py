"""`python -m bench.soak` on the tiny bundles for a few seconds: it starts and stops the server by itself, sends
every kind of request, and reports statuses, latency windows, memory and a 500-free run. Speed is never
asserted here (see bench/soak.json for a real run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_a_short_soak_on_tiny_bundles(tiny_bundle, tiny_rewriter_bundle, tmp_path):
    out = tmp_path / "soak"
    proc = subprocess.run([sys.executable, "-m", "bench.soak", "--duration", "8", "--concurrency", "3",
                           "--window-s", "2", "--classifier-bundle", str(tiny_bundle),
                           "--rewriter-bundle", str(tiny_rewriter_bundle), "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["status_500"] == 0 and report["server_errors"] == []
    assert report["answered_after"] is True and report["server_exit_code"] == 0  # drained on SIGTERM
    kinds = report["by_kind"]
    assert set(kinds) == {"classify", "classify_explain", "rewrite", "suggest", "bad_json", "wrong_type",
                          "huge_text", "too_many_texts", "huge_body", "unknown_route"}, kinds
    assert kinds["classify"].get("200", 0) > 0 and kinds["rewrite"].get("200", 0) > 0
    assert set(kinds["huge_text"]) == {"422"} and set(kinds["too_many_texts"]) == {"422"}
    assert set(kinds["huge_body"]) == {"413"} and set(kinds["wrong_type"]) == {"422"}
    assert set(kinds["bad_json"]) <= {"400", "422"}
    assert sum(report["by_status"].values()) == report["requests"] > 0
    assert len(report["windows"]) == 4 and all(w["requests"] > 0 for w in report["windows"])
    assert all(w["classify"]["p50_ms"] <= w["classify"]["p99_ms"] for w in report["windows"] if w["classify"]["n"])
    assert 0 < report["rss_mb"]["start"] <= report["rss_mb"]["max"]
    assert report["rss_mb"]["end"] > 0
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_short_overload_soak_on_tiny_bundles(tiny_bundle, tiny_rewriter_bundle, tmp_path):
    """`--overload`: more texts than the queues hold (16 clients, a 16-text queue, batches held 50 ms), then
    SIGTERM under load. Only 200 / 429 / 504 (and 503 after SIGTERM), the queue never past its limit, /readyz
    200 throughout the load, requests in flight at SIGTERM answered, and the server exits 0."""
    out = tmp_path / "overload"
    proc = subprocess.run([sys.executable, "-m", "bench.soak", "--overload", "--duration", "6", "--concurrency", "16",
                           "--max-queue", "16", "--max-texts", "8", "--max-wait-ms", "50", "--readyz-every-s", "0.25",
                           "--window-s", "2", "--classifier-bundle", str(tiny_bundle),
                           "--rewriter-bundle", str(tiny_rewriter_bundle), "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["ok"] is True and report["unexpected"] == 0 and report["unexpected_examples"] == []
    load = report["load_phase"]
    assert set(load["by_status"]) <= {"200", "429", "504"}, load["by_status"]
    assert int(load["by_status"]["200"]) > 0 and int(load["by_status"]["429"]) > 0  # past the queue limit
    assert sum(load["by_status"].values()) == load["requests"] > 0
    assert set(report["max_queue_depth_scraped"]) == {"classifier", "classifier:explain", "rewriter"}
    assert 0 < report["max_queue_depth_scraped"]["classifier"] <= 16  # bounded by --max-queue
    assert all(depth <= 16 for depth in report["max_queue_depth_scraped"].values())
    assert report["p99_ms"]["200"] > 0 and report["p99_ms"]["all"] > 0
    ready = report["readyz"]["load"]
    assert ready["statuses"] == {"200": ready["n"]} and ready["n"] >= 3, ready  # answered all through the load
    assert ready["latency_ms"]["p99"] is not None
    # After SIGTERM: readiness and new work are refused or the socket is closed, nothing else.
    assert set(report["readyz"]["at_sigterm"]["statuses"]) <= {"200", "503 shutting_down"}
    for probes in (report["readyz"]["drain"], report["new_work_while_draining"]):
        assert set(probes["statuses"]) <= {"503 shutting_down", "refused (the server had closed its socket)"}, probes
    shutdown = report["shutdown"]
    assert shutdown["server_exit_code"] == 0 and shutdown["drain_timed_out"] is False
    assert shutdown["in_flight_at_sigterm"] > 0
    assert set(shutdown["in_flight_by_status"]) <= {"200", "429 queue_full", "504 deadline_exceeded",
                                                    "503 shutting_down"}, shutdown
    assert shutdown["exited_after_sigterm_s"] >= shutdown["last_answer_after_sigterm_s"]
    rss = report["rss_mb"]
    assert rss["samples"] >= 3 and 0 < rss["min"] <= rss["start"] <= rss["max"]
    assert len(report["windows"]) == 3 and all(w["requests"] > 0 for w in report["windows"])
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
