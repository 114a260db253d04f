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
