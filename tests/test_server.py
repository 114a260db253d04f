"""The HTTP server's /v1 API, service routes, errors, limits, auth and CORS, driven in-process on tiny bundles."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading

import pytest
from conftest import fixture_texts
from test_server_support import (
    FakeRewriter,
    fake_rewriter_app,
    metric_value,
    relabelled_bundle,
    serving,
    settings,
    until_ready,
    v2_error,
)

from callinkit import Classifier
from callinkit.serve.http import create_app


@pytest.fixture(scope="module")
def callout_bundle(tiny_bundle, tmp_path_factory):
    return relabelled_bundle(tiny_bundle, tmp_path_factory.mktemp("relabelled") / "bundle")


def run(coro):
    return asyncio.run(coro)


def assert_error(response, status: int, code: str) -> dict:
    """The one error shape: {"error": {"code", "message"}} and nothing else."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]


def test_classify_returns_the_classifiers_predictions_in_order(tiny_bundle):
    texts = fixture_texts()[:10] + ["", "🙂", "the bus is late"]
    expected = Classifier.load(tiny_bundle).predict(texts)

    async def scenario():
        async with serving(create_app(settings(tiny_bundle))) as client:
            response = await client.post("/v1/classify", json={"texts": texts})
            empty = await client.post("/v1/classify", json={"texts": []})
            return response, empty

    response, empty = run(scenario())
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["label"] for r in results] == [p.label for p in expected]
    for got, want in zip(results, expected):
        assert list(got["scores"]) == ["call_out", "call_in", "neutral"]
        assert got["scores"] == pytest.approx(want.scores, abs=1e-5)
    assert empty.status_code == 200 and empty.json() == {"results": []}


def test_rewrite_returns_ranked_candidates_per_text(tiny_bundle):
    rewriter = FakeRewriter()

    async def scenario():
        async with serving(fake_rewriter_app(tiny_bundle, rewriter)) as client:
            return await client.post("/v1/rewrite", json={"texts": ["you clown", "nobody asked you"],
                                                          "num_candidates": 3, "max_new_tokens": 3})

    response = run(scenario())
    assert response.status_code == 200
    first, second = response.json()["results"]
    assert first["rewrite"] == "Call-in #0: you"  # cut to max_new_tokens=3 words by the fake
    assert [c["text"] for c in second["candidates"]] == ["Call-in #0: nobody", "Call-in #1: nobody",
                                                         "Call-in #2: nobody"]
    assert second["scores"] == {"call_in": 0.9, "similarity": 0.8, "score": 0.72}
    assert [c["scores"]["call_in"] for c in first["candidates"]] == [0.9, 0.8, 0.7]
    assert rewriter.calls == [(["you clown", "nobody asked you"], 3, 3)]


def test_suggest_rewrites_only_call_outs(callout_bundle):
    classifier = Classifier.load(callout_bundle)
    by_label = {}
    for text in fixture_texts():
        by_label.setdefault(classifier.predict_one(text).label, text)
    call_out, call_in = by_label["call_out"], by_label["call_in"]
    rewriter = FakeRewriter()

    async def scenario():
        async with serving(fake_rewriter_app(callout_bundle, rewriter)) as client:
            return (await client.post("/v1/suggest", json={"text": call_out}),
                    await client.post("/v1/suggest", json={"text": call_in, "num_candidates": 2}))

    rewritten, kept = run(scenario())
    assert rewritten.status_code == 200 and kept.status_code == 200
    body = rewritten.json()
    assert body["label"] == "call_out"
    assert body["scores"] == pytest.approx(classifier.predict_one(call_out).scores, abs=1e-5)
    assert body["rewrite"]["rewrite"] == f"Call-in #0: {call_out}"
    assert len(body["rewrite"]["candidates"]) == 3  # suggest's default num_candidates
    assert kept.json()["label"] == "call_in" and kept.json()["rewrite"] is None
    assert rewriter.calls == [([call_out], 3, None)]  # the call-in was never sent to the rewriter


def test_suggest_has_one_deadline_for_both_models(tiny_bundle):
    """The rewrite of a suggestion gets what the classification left of the request's deadline: 0.7 s of
    classifying then 0.7 s of rewriting answer 504 under a 1 s deadline, although each model alone answers."""
    from callinkit.serve.classifier import Prediction

    class SlowCallOuts:
        def predict(self, texts):
            threading.Event().wait(0.7)
            return [Prediction("call_out", {"call_out": 0.9, "call_in": 0.05, "neutral": 0.05}) for _ in texts]

    class SlowRewriter(FakeRewriter):
        def rewrite(self, texts, num_candidates=None, max_new_tokens=None):
            threading.Event().wait(0.7)
            return super().rewrite(texts, num_candidates, max_new_tokens)

    rewriter = SlowRewriter()
    app = create_app(settings(tiny_bundle, request_timeout_s=1.0), classifier_loader=lambda s: SlowCallOuts(),
                     rewriter_loader=lambda s, classifier: rewriter)

    async def scenario():
        async with serving(app) as client:
            return [await client.post("/v1/suggest", json={"text": "you clown"}),
                    await client.post("/v1/classify", json={"texts": ["you clown"]}),
                    await client.post("/v1/rewrite", json={"texts": ["you clown"]})]

    suggest, classify, rewrite = run(scenario())
    assert_error(suggest, 504, "deadline_exceeded")
    assert classify.status_code == 200 and rewrite.status_code == 200


def test_without_a_rewriter_the_rewrite_routes_answer_503(tiny_bundle):
    async def scenario():
        async with serving(create_app(settings(tiny_bundle))) as client:
            return {name: await call for name, call in {
                "rewrite": client.post("/v1/rewrite", json={"texts": ["x"]}),
                "suggest": client.post("/v1/suggest", json={"text": "x"}),
                "v2": client.get("/v2/models/rewriter/ready"),
                "classify": client.post("/v1/classify", json={"texts": ["x"]}),
                "readyz": client.get("/readyz"),
                "models": client.get("/v1/models"),
            }.items()}

    r = run(scenario())
    for name in ("rewrite", "suggest"):
        assert "--rewriter-bundle" in assert_error(r[name], 503, "model_unavailable")["message"]
    assert "--rewriter-bundle" in v2_error(r["v2"], 503, "model_unavailable")
    assert r["classify"].status_code == 200
    assert r["readyz"].json() == {"ready": True, "models": {"classifier": "ready", "rewriter": "absent"}}
    assert [(m["name"], m["status"]) for m in r["models"].json()["models"]] == [("classifier", "ready"),
                                                                                 ("rewriter", "absent")]


def test_readyz_is_503_until_the_models_have_loaded(tiny_bundle):
    loaded = threading.Event()

    def slow_loader(s):
        assert loaded.wait(timeout=20)
        return Classifier.load(s.classifier_bundle)

    async def scenario():
        app = create_app(settings(tiny_bundle), classifier_loader=slow_loader)
        async with serving(app, wait_ready=False) as client:
            before = {p: await client.get(p) for p in ("/healthz", "/readyz", "/v2/health/ready",
                                                       "/v2/health/live")}
            classify_before = await client.post("/v1/classify", json={"texts": ["x"]})
            loaded.set()
            await until_ready(client)
            return before, classify_before, await client.get("/readyz"), \
                await client.post("/v1/classify", json={"texts": ["x"]})

    before, classify_before, after, classify_after = run(scenario())
    assert before["/healthz"].json() == {"status": "ok"}
    assert before["/v2/health/live"].json() == {"live": True}
    assert "classifier loading" in assert_error(before["/readyz"], 503, "not_ready")["message"]
    assert "classifier loading" in v2_error(before["/v2/health/ready"], 503, "not_ready")
    assert_error(classify_before, 503, "not_ready")
    assert classify_before.headers["retry-after"] == "1"
    assert after.json() == {"ready": True, "models": {"classifier": "ready", "rewriter": "absent"}}
    assert classify_after.status_code == 200


def test_a_model_that_fails_to_load_is_logged_and_reported(tiny_bundle, caplog):
    def broken(s):
        raise RuntimeError("onnx file is corrupt")

    async def scenario():
        async with serving(create_app(settings(tiny_bundle), classifier_loader=broken), wait_ready=False) as client:
            for _ in range(200):
                if (await client.get("/v1/models")).json()["models"][0]["status"] != "loading":
                    break
                await asyncio.sleep(0.01)
            return await client.get("/readyz"), await client.post("/v1/classify", json={"texts": ["x"]})

    with caplog.at_level(logging.ERROR, logger="callinkit.serve.http"):
        readyz, classify = run(scenario())
    assert "classifier failed" in assert_error(readyz, 503, "not_ready")["message"]
    assert "see the server log" in assert_error(classify, 503, "model_unavailable")["message"]
    assert "onnx file is corrupt" in caplog.text


def test_models_route_reports_bundle_manifests(tiny_bundle):
    manifest = json.loads((tiny_bundle / "manifest.json").read_text())

    async def scenario():
        async with serving(fake_rewriter_app(tiny_bundle)) as client:
            return (await client.get("/v1/models")).json()["models"]

    classifier, rewriter = run(scenario())
    assert classifier["name"] == "classifier" and classifier["status"] == "ready"
    assert classifier["version"] == f"{manifest['name']}@{manifest['created_at']}"
    assert classifier["labels"] == ["call_out", "call_in", "neutral"]
    assert classifier["metrics"] == manifest["metrics"]
    assert classifier["provenance"]["base_model"] == manifest["base_model"]
    assert classifier["provenance"]["validation"] == manifest["validation"]
    assert rewriter == {"name": "rewriter", "status": "ready", "version": "fake-rewriter@2026-01-01T00:00:00+00:00",
                        "labels": None, "metrics": {"test": {"chrf": 0.0}}, "provenance": {
                            "created_at": "2026-01-01T00:00:00+00:00"}}


@pytest.mark.parametrize("path, body, overrides, status, code", [
    ("/v1/classify", {"texts": ["a", "b", "c", "d"]}, {"max_texts": 3}, 422, "too_many_texts"),
    ("/v1/classify", {"texts": ["short", "x" * 11]}, {"max_chars": 10}, 422, "text_too_long"),
    ("/v1/suggest", {"text": "x" * 11}, {"max_chars": 10}, 422, "text_too_long"),
    ("/v1/rewrite", {"texts": ["a"], "max_new_tokens": 9}, {"max_new_tokens": 8}, 422, "max_new_tokens_too_large"),
    ("/v1/rewrite", {"texts": ["a"], "num_candidates": 5}, {"max_candidates": 4}, 422, "too_many_candidates"),
    ("/v1/classify", {"texts": ["x" * 1100]}, {"max_body_bytes": 1024}, 413, "body_too_large"),
    ("/v1/classify", {"text": ["typo for texts"]}, {}, 422, "validation_error"),
    ("/v1/classify", {"texts": "not a list"}, {}, 422, "validation_error"),
    ("/v1/classify", {"texts": [1, 2]}, {}, 422, "validation_error"),
    ("/v1/rewrite", {"texts": ["a"], "num_candidates": 0}, {}, 422, "validation_error"),
    ("/v1/suggest", {}, {}, 422, "validation_error"),
])
def test_limits_and_validation_errors(tiny_bundle, path, body, overrides, status, code):
    rewriter = FakeRewriter()

    async def scenario():
        async with serving(fake_rewriter_app(tiny_bundle, rewriter, **overrides)) as client:
            return await client.post(path, json=body)

    assert_error(run(scenario()), status, code)
    assert rewriter.calls == []


def test_streamed_body_over_the_limit_is_413_and_bad_json_is_422(tiny_bundle):
    async def chunks():
        for _ in range(10):
            yield b"x" * 200

    async def scenario():
        async with serving(create_app(settings(tiny_bundle, max_body_bytes=1024))) as client:
            streamed = await client.post("/v1/classify", content=chunks(),  # chunked: no Content-Length
                                         headers={"Content-Type": "application/json"})
            bad_json = await client.post("/v1/classify", content=b'{"texts": [',
                                         headers={"Content-Type": "application/json"})
            return streamed, bad_json

    streamed, bad_json = run(scenario())
    assert "content-length" not in streamed.request.headers
    assert "1024 bytes" in assert_error(streamed, 413, "body_too_large")["message"]
    assert_error(bad_json, 422, "validation_error")


def test_404_405_and_internal_errors_share_the_error_shape(tiny_bundle, caplog):
    class Exploding:
        labels = ("call_out", "call_in", "neutral")
        manifest: dict = {}

        def predict(self, texts):
            raise RuntimeError("secret internal detail")

    async def scenario():
        app = create_app(settings(tiny_bundle), classifier_loader=lambda s: Exploding())
        async with serving(app) as client:
            return (await client.get("/no/such/route"), await client.get("/v1/classify"),
                    await client.post("/v1/classify", json={"texts": ["x"]}, headers={"X-Request-ID": "req-42"}),
                    await client.get("/v2/models/nope"))

    with caplog.at_level(logging.ERROR, logger="callinkit.serve.http"):
        missing, wrong_method, crashed, no_model = run(scenario())
    assert assert_error(missing, 404, "not_found")["message"] == "no route GET /no/such/route"
    assert_error(wrong_method, 405, "method_not_allowed")
    v2_error(no_model, 404, "model_not_found")
    message = assert_error(crashed, 500, "internal_error")["message"]
    assert "secret" not in crashed.text and "req-42" in message
    assert crashed.headers["x-request-id"] == "req-42"
    assert "req-42" in caplog.text and "secret internal detail" in caplog.text  # logged, not echoed


def test_request_ids_are_echoed_or_generated(tiny_bundle):
    async def scenario():
        async with serving(create_app(settings(tiny_bundle))) as client:
            return (await client.get("/healthz", headers={"X-Request-ID": "abc-123"}),
                    await client.get("/healthz"),
                    await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"}),
                    await client.post("/v1/classify", json={"texts": 3}, headers={"X-Request-ID": "v-1"}))

    given, generated, unsafe, invalid = run(scenario())
    assert given.headers["x-request-id"] == "abc-123"
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    assert re.fullmatch(r"[0-9a-f]{32}", unsafe.headers["x-request-id"])  # not copied into logs
    assert invalid.status_code == 422 and invalid.headers["x-request-id"] == "v-1"


def test_bearer_auth_guards_everything_but_health(tiny_bundle):
    async def scenario():
        app = create_app(settings(tiny_bundle, api_keys="key-one, key-two"))
        async with serving(app) as client:
            open_routes = [await client.get(p) for p in ("/healthz", "/readyz", "/v2/health/live",
                                                         "/v2/health/ready")]
            guarded = [await client.get(p) for p in ("/v1/models", "/metrics", "/", "/docs", "/openapi.json")]
            guarded_v2 = await client.get("/v2/models/classifier")
            body = {"texts": ["x"]}
            return (open_routes, guarded, guarded_v2,
                    await client.post("/v1/classify", json=body),
                    await client.post("/v1/classify", json=body, headers={"Authorization": "Bearer wrong"}),
                    await client.post("/v1/classify", json=body, headers={"Authorization": "Basic key-two"}),
                    await client.post("/v1/classify", json=body, headers={"Authorization": "Bearer key-two"}))

    open_routes, guarded, guarded_v2, none, wrong, basic, right = run(scenario())
    assert [r.status_code for r in open_routes] == [200, 200, 200, 200]
    for response in [*guarded, none, wrong, basic]:
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
    assert "bearer token" in v2_error(guarded_v2, 401, "unauthorized")
    assert right.status_code == 200 and len(right.json()["results"]) == 1


def test_api_keys_are_compared_in_constant_time_with_every_key(tiny_bundle, monkeypatch):
    """Every configured key goes through hmac.compare_digest (no `==`, no early exit at the first match), so
    the answer's timing says nothing about which key or prefix was close; the decision is compare_digest's."""
    import hmac

    real = hmac.compare_digest
    calls: list[tuple[bytes, bytes]] = []
    verdict = {"override": None}

    def spy(given, key):
        calls.append((given, key))
        return real(given, key) if verdict["override"] is None else verdict["override"]

    monkeypatch.setattr(hmac, "compare_digest", spy)
    keys = (b"key-one", b"a-much-longer-second-key")
    body = {"texts": ["x"]}

    async def scenario():
        app = create_app(settings(tiny_bundle, api_keys="key-one, a-much-longer-second-key"))
        async with serving(app) as client:
            out = {}
            for name, token in [("first", "key-one"), ("short", "k"), ("long", "x" * 300), ("prefix", "key-on")]:
                calls.clear()
                response = await client.post("/v1/classify", json=body, headers={"Authorization": f"Bearer {token}"})
                out[name] = (response, list(calls))
            calls.clear()
            out["missing"] = (await client.post("/v1/classify", json=body), list(calls))
            verdict["override"] = False  # compare_digest says no: the right key is refused too
            out["overridden"] = (await client.post("/v1/classify", json=body,
                                                   headers={"Authorization": "Bearer key-one"}), None)
            return out

    out = run(scenario())
    response, compared = out["first"]
    assert response.status_code == 200
    assert compared == [(b"key-one", k) for k in keys]  # the second key is compared although the first matched
    for name, token in [("short", b"k"), ("long", b"x" * 300), ("prefix", b"key-on")]:
        response, compared = out[name]
        assert_error(response, 401, "unauthorized")
        assert response.json()["error"]["message"] == "missing or invalid bearer token"
        assert compared == [(token, k) for k in keys], name
    response, compared = out["missing"]
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer" and compared == []
    assert_error(out["overridden"][0], 401, "unauthorized")


def test_cors_is_off_by_default_and_allows_configured_origins(tiny_bundle):
    preflight = {"Origin": "https://mods.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type,authorization"}

    async def scenario(**overrides):
        async with serving(create_app(settings(tiny_bundle, **overrides))) as client:
            return (await client.options("/v1/classify", headers=preflight),
                    await client.post("/v1/classify", json={"texts": ["x"]}, headers={"Origin": "https://mods.example"}),
                    await client.post("/v1/classify", json={"texts": ["x"]}, headers={"Origin": "https://evil.example"}))

    off_preflight, off_post, _ = run(scenario())
    assert "access-control-allow-origin" not in off_preflight.headers
    assert "access-control-allow-origin" not in off_post.headers
    on_preflight, on_post, other = run(scenario(cors_origins="https://mods.example", api_keys="k"))
    assert on_preflight.status_code == 200  # answered before auth: browsers send no token on preflight
    assert on_preflight.headers["access-control-allow-origin"] == "https://mods.example"
    assert "authorization" in on_preflight.headers["access-control-allow-headers"].lower()
    assert on_post.status_code == 401 and on_post.headers["access-control-allow-origin"] == "https://mods.example"
    assert "access-control-allow-origin" not in other.headers


def test_metrics_count_requests_by_route_and_status_per_app(tiny_bundle):
    async def scenario():
        first, second = create_app(settings(tiny_bundle)), create_app(settings(tiny_bundle))
        async with serving(first) as a, serving(second) as b:
            await a.post("/v1/classify", json={"texts": ["x", "y"]})
            await a.post("/v1/classify", json={"texts": ["z"]})
            await a.post("/v1/classify", json={"texts": 1})
            await a.get("/v2/models/nope")
            await b.get("/healthz")
            return (await a.get("/metrics")).text, (await b.get("/metrics"))

    text, other = run(scenario())
    assert metric_value(text, "callinkit_http_requests_total", route="/v1/classify", status="200") == 2
    assert metric_value(text, "callinkit_http_requests_total", route="/v1/classify", status="422") == 1
    assert metric_value(text, "callinkit_http_requests_total", route="/v2/models/{name}", status="404") == 1
    assert metric_value(text, "callinkit_http_request_duration_seconds_count", route="/v1/classify",
                        status="200") == 2
    assert metric_value(text, "callinkit_batch_size_sum", model="classifier") == 3  # texts computed
    assert metric_value(text, "callinkit_inference_duration_seconds_count", model="classifier") >= 1
    assert metric_value(text, "callinkit_queue_depth", model="classifier") == 0
    # The second app has its own registry: it saw none of the first app's requests.
    assert other.headers["content-type"].startswith("text/plain")
    assert metric_value(other.text, "callinkit_http_requests_total", route="/v1/classify", status="200") is None
    assert metric_value(other.text, "callinkit_http_requests_total", route="/healthz", status="200") == 1


def test_openapi_documents_every_route_with_examples(tiny_bundle):
    async def scenario():
        async with serving(create_app(settings(tiny_bundle, max_texts=7))) as client:
            return (await client.get("/openapi.json")).json(), await client.get("/docs")

    spec, docs = run(scenario())
    assert {"/v1/classify", "/v1/rewrite", "/v1/suggest", "/v1/models", "/healthz", "/readyz", "/metrics",
            "/v2/health/live", "/v2/health/ready", "/v2/models/{name}", "/v2/models/{name}/ready",
            "/v2/models/{name}/infer"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert schemas["ClassifyRequest"]["examples"][0]["texts"]
    assert schemas["SuggestResponse"]["examples"][0]["rewrite"]["candidates"]
    assert "429" in spec["paths"]["/v1/classify"]["post"]["responses"]
    assert "7 texts per request" in spec["info"]["description"]
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_demo_page_and_its_assets_are_served(tiny_bundle):
    async def scenario():
        async with serving(create_app(settings(tiny_bundle))) as client:
            return await client.get("/"), await client.get("/static/demo.js"), await client.get("/static/demo.css")

    page, script, style = run(scenario())
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="message"' in page.text and 'src="static/demo.js"' in page.text
    assert "v1/suggest" in script.text and "javascript" in script.headers["content-type"]
    assert style.status_code == 200
