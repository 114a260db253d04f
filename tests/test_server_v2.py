"""KServe / Open Inference Protocol v2 routes on the tiny classifier and the FakeRewriter."""

from __future__ import annotations

import asyncio

import pytest
from conftest import fixture_texts
from test_server_support import FakeRewriter, fake_rewriter_app, serving

from callinkit import Classifier


def bytes_input(texts, shape=None):
    return {"name": "text", "shape": shape or [len(texts)], "datatype": "BYTES", "data": texts}


def call(bundle, requests, rewriter=None, **overrides):
    """Run (method, path, json) requests against one app; return the responses."""
    async def scenario():
        async with serving(fake_rewriter_app(bundle, rewriter, **overrides)) as client:
            return [await client.request(method, path, json=body) for method, path, body in requests]

    return asyncio.run(scenario())


def test_health_and_metadata(tiny_bundle):
    live, ready, server, classifier, rewriter, classifier_ready, unknown = call(tiny_bundle, [
        ("GET", "/v2/health/live", None), ("GET", "/v2/health/ready", None), ("GET", "/v2", None),
        ("GET", "/v2/models/classifier", None), ("GET", "/v2/models/rewriter", None),
        ("GET", "/v2/models/classifier/ready", None), ("GET", "/v2/models/bert", None)])
    assert live.json() == {"live": True} and ready.json() == {"ready": True}
    assert server.json()["name"] == "callinkit" and server.json()["extensions"] == []
    meta = classifier.json()
    assert meta["name"] == "classifier" and meta["platform"] == "onnxruntime" and len(meta["versions"]) == 1
    assert meta["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    assert meta["outputs"] == [{"name": "label", "datatype": "BYTES", "shape": [-1]},
                               {"name": "scores", "datatype": "FP32", "shape": [-1, 3]}]
    assert [o["name"] for o in rewriter.json()["outputs"]] == ["rewrite", "reason", "scores"]
    assert classifier_ready.json() == {"name": "classifier", "ready": True}
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"


def test_classifier_infer_returns_labels_and_row_major_scores(tiny_bundle):
    texts = fixture_texts()[:5]
    expected = Classifier.load(tiny_bundle).predict(texts)
    (response,) = call(tiny_bundle, [("POST", "/v2/models/classifier/infer",
                                      {"id": "req-7", "inputs": [bytes_input(texts)]})])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == "classifier" and body["id"] == "req-7" and body["model_version"]
    label, scores = body["outputs"]
    assert label == {"name": "label", "shape": [5], "datatype": "BYTES", "data": [p.label for p in expected]}
    assert scores["name"] == "scores" and scores["shape"] == [5, 3] and scores["datatype"] == "FP32"
    columns = scores["parameters"]["labels"].split(",")
    assert columns == ["call_out", "call_in", "neutral"]
    flat = [p.scores[c] for p in expected for c in columns]
    assert scores["data"] == pytest.approx(flat, abs=1e-5)


def test_infer_accepts_n_by_1_nested_data_and_filters_outputs(tiny_bundle):
    (response,) = call(tiny_bundle, [("POST", "/v2/models/classifier/infer", {
        "inputs": [bytes_input([["a"], ["b"]], shape=[2, 1])], "outputs": [{"name": "label"}]})])
    assert response.status_code == 200, response.text
    outputs = response.json()["outputs"]
    assert [o["name"] for o in outputs] == ["label"] and len(outputs[0]["data"]) == 2
    assert "id" not in response.json()  # optional fields absent rather than null


def test_rewriter_infer_passes_parameters(tiny_bundle):
    rewriter = FakeRewriter()
    (response,) = call(tiny_bundle, [("POST", "/v2/models/rewriter/infer", {
        "parameters": {"num_candidates": 2, "max_new_tokens": 4},
        "inputs": [bytes_input(["you absolute clown, delete this"])]})], rewriter=rewriter)
    assert response.status_code == 200, response.text
    rewrite, reason, scores = response.json()["outputs"]
    assert rewrite["data"] == ["Call-in #0: you absolute"] and rewrite["shape"] == [1]
    assert reason["data"] == [""]  # a rewrite was given, so there is no reason for its absence
    assert scores["parameters"]["labels"] == "call_in,similarity,score"
    assert scores["shape"] == [1, 3] and scores["data"] == pytest.approx([0.9, 0.8, 0.72])
    assert rewriter.calls == [(["you absolute clown, delete this"], 2, 4)]


@pytest.mark.parametrize("body, status, code", [
    ({"inputs": [{"name": "text", "shape": [1], "datatype": "FP32", "data": [1.0]}]}, 400, "bad_request"),
    ({"inputs": [{"name": "prompt", "shape": [1], "datatype": "BYTES", "data": ["a"]}]}, 400, "bad_request"),
    ({"inputs": [bytes_input(["a", "b"], shape=[3])]}, 400, "bad_request"),
    ({"inputs": [bytes_input(["a", "b"], shape=[1, 2])]}, 400, "bad_request"),
    ({"inputs": [bytes_input(["a"]), bytes_input(["b"])]}, 400, "bad_request"),
    ({"inputs": [bytes_input(["a"])], "outputs": [{"name": "logits"}]}, 400, "bad_request"),
    ({"inputs": [bytes_input(["a", "b", "c"])]}, 422, "too_many_texts"),
    ({"inputs": [bytes_input(["x" * 30])]}, 422, "text_too_long"),
    ({"inputs": "nope"}, 422, "validation_error"),
])
def test_infer_errors(tiny_bundle, body, status, code):
    (response,) = call(tiny_bundle, [("POST", "/v2/models/classifier/infer", body)], max_texts=2, max_chars=20)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_rewriter_parameters_are_checked(tiny_bundle):
    bad_type, too_many = call(tiny_bundle, [
        ("POST", "/v2/models/rewriter/infer", {"parameters": {"num_candidates": "three"},
                                               "inputs": [bytes_input(["a"])]}),
        ("POST", "/v2/models/rewriter/infer", {"parameters": {"num_candidates": 9},
                                               "inputs": [bytes_input(["a"])]})], max_candidates=8)
    assert bad_type.status_code == 400 and "num_candidates" in bad_type.json()["error"]["message"]
    assert too_many.status_code == 422 and too_many.json()["error"]["code"] == "too_many_candidates"
