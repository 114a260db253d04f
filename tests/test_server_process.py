"""The server as a process: no route imports torch, and `callinkit serve` runs a real uvicorn server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
from test_server_support import TORCH_BLOCKER, free_port, wait_until_serving

TESTS = Path(__file__).resolve().parent

# Every route of the app, with a request that reaches its handler (checked against app.routes below).
ROUTES = [
    ("GET", "/", None), ("GET", "/static/demo.js", None), ("GET", "/docs", None), ("GET", "/openapi.json", None),
    ("GET", "/healthz", None), ("GET", "/readyz", None), ("GET", "/metrics", None), ("GET", "/v1/models", None),
    ("POST", "/v1/classify", {"texts": ["you clown", "the bus is late"]}),
    ("POST", "/v1/rewrite", {"texts": ["you clown"], "num_candidates": 2}),
    ("POST", "/v1/suggest", {"text": "you clown"}),
    ("GET", "/v2", None), ("GET", "/v2/health/live", None), ("GET", "/v2/health/ready", None),
    ("GET", "/v2/models/classifier", None), ("GET", "/v2/models/classifier/ready", None),
    ("POST", "/v2/models/classifier/infer", {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES",
                                                         "data": ["you clown"]}]}),
    ("POST", "/v2/models/rewriter/infer", {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES",
                                                       "data": ["you clown"]}]}),
]


def test_no_route_imports_torch(tiny_bundle):
    code = TORCH_BLOCKER + textwrap.dedent(f"""
        import asyncio, json, sys
        sys.path.insert(0, {str(TESTS)!r})
        from pathlib import Path
        from test_server_support import fake_rewriter_app, serving

        async def main():
            app = fake_rewriter_app(Path({str(tiny_bundle)!r}))
            statuses = []
            async with serving(app) as client:
                for method, path, body in {ROUTES!r}:
                    response = await client.request(method, path, json=body)
                    statuses.append([path, response.status_code])
            paths = sorted(set(app.openapi()["paths"]) | {{r.path for r in app.routes if getattr(r, "path", None)}})
            heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers", "datasets"))
            print(json.dumps({{"statuses": statuses, "paths": paths, "heavy": heavy}}))

        asyncio.run(main())
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    assert all(status == 200 for _, status in report["statuses"]), report["statuses"]
    # The requests above cover every route the app has (templates stand in for their example paths).
    covered = {path for _, path, _ in ROUTES} | {"/v2/models/{name}", "/v2/models/{name}/ready",
                                                 "/v2/models/{name}/infer", "/static", "/docs/oauth2-redirect",
                                                 "/redoc"}
    assert set(report["paths"]) <= covered, set(report["paths"]) - covered


def test_callinkit_serve_runs_uvicorn_torch_free(tiny_bundle):
    port = free_port()
    code = TORCH_BLOCKER + textwrap.dedent(f"""
        from callinkit.cli import main
        raise SystemExit(main(["serve", "--classifier-bundle", {str(tiny_bundle)!r}, "--rewriter-bundle", "none",
                               "--port", "{port}", "--log-level", "warning", "--api-keys", "s3cret"]))
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base, proc)
        with httpx.Client(base_url=base, timeout=10) as client:
            classify = client.post("/v1/classify", json={"texts": ["you clown", "nice photo"]},
                                   headers={"Authorization": "Bearer s3cret"})
            unauthorized = client.post("/v1/classify", json={"texts": ["x"]})
            rewrite = client.post("/v1/rewrite", json={"texts": ["x"]}, headers={"Authorization": "Bearer s3cret"})
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=30)[0]
    assert classify.status_code == 200, output
    assert [r["label"] for r in classify.json()["results"]] and len(classify.json()["results"]) == 2
    assert unauthorized.status_code == 401
    assert rewrite.status_code == 503 and rewrite.json()["error"]["code"] == "model_unavailable"
    assert proc.returncode == 0, output  # shut down cleanly on Ctrl-C
    assert "blocked import" not in output
