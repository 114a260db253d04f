"""KServe / Open Inference Protocol v2 routes on the tiny classifier and the FakeRewriter, in-process: JSON
and binary tensors (tests/test_server_v2_clients.py drives a real server with Triton and KServe clients)."""

from __future__ import annotations

import asyncio
import gzip
import json
import struct
import zlib

import numpy as np
import pytest
from conftest import fixture_texts
from test_server_support import FakeRewriter, fake_rewriter_app, serving, v2_error

from callinkit import Classifier
from callinkit.serve import Rewrite
from callinkit.serve.http.v2_binary import decode_bytes_tensor


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
    assert server.json()["name"] == "callinkit" and server.json()["extensions"] == ["binary_tensor_data"]
    meta = classifier.json()
    assert meta["name"] == "classifier" and meta["platform"] == "onnxruntime" and len(meta["versions"]) == 1
    assert meta["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    assert meta["outputs"] == [{"name": "label", "datatype": "BYTES", "shape": [-1]},
                               {"name": "scores", "datatype": "FP32", "shape": [-1, 3]}]
    assert [o["name"] for o in rewriter.json()["outputs"]] == ["rewrite", "reason", "scores", "reason_codes"]
    assert classifier_ready.json() == {"name": "classifier", "ready": True}
    assert "no model named 'bert'" in v2_error(unknown, 404, "model_not_found")


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
    rewrite, reason, scores, codes = response.json()["outputs"]
    assert codes["data"] == [""]  # no reason, no code
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
    v2_error(response, status, code)


def test_rewriter_parameters_are_checked(tiny_bundle):
    bad_type, too_many = call(tiny_bundle, [
        ("POST", "/v2/models/rewriter/infer", {"parameters": {"num_candidates": "three"},
                                               "inputs": [bytes_input(["a"])]}),
        ("POST", "/v2/models/rewriter/infer", {"parameters": {"num_candidates": 9},
                                               "inputs": [bytes_input(["a"])]})], max_candidates=8)
    assert "num_candidates" in v2_error(bad_type, 400, "bad_request")
    v2_error(too_many, 422, "too_many_candidates")


def binary_body(request, texts):
    """A binary-extension body: the JSON header, then `texts` as one length-prefixed BYTES tensor."""
    blob = b"".join(struct.pack("<I", len(t.encode())) + t.encode() for t in texts)
    request = {**request, "inputs": [{"name": "text", "shape": [len(texts)], "datatype": "BYTES",
                                      "parameters": {"binary_data_size": len(blob)}}]}
    head = json.dumps(request).encode()
    return head + blob, {"Inference-Header-Content-Length": str(len(head))}


def raw_call(bundle, requests, rewriter=None, **overrides):
    """Run (path, body bytes, headers) POSTs against one app; return the responses."""
    async def scenario():
        async with serving(fake_rewriter_app(bundle, rewriter, **overrides)) as client:
            return [await client.post(path, content=body, headers=headers) for path, body, headers in requests]

    return asyncio.run(scenario())


def split_binary(response):
    """(JSON header, {output name: raw bytes}) of a binary-extension response."""
    length = int(response.headers["Inference-Header-Content-Length"])
    header, offset, blobs = json.loads(response.content[:length]), length, {}
    for output in header["outputs"]:
        size = output.get("parameters", {}).get("binary_data_size")
        if size is not None:
            blobs[output["name"]], offset = response.content[offset:offset + size], offset + size
    assert offset == len(response.content)
    return header, blobs


@pytest.mark.parametrize("content_type", [None, "application/octet-stream", "text/plain"])
def test_json_body_is_read_whatever_the_content_type(tiny_bundle, content_type):
    texts = ["you clown", "the bus is late"]
    expected = [p.label for p in Classifier.load(tiny_bundle).predict(texts)]
    headers = {"Content-Type": content_type} if content_type else {}
    body = json.dumps({"inputs": [bytes_input(texts)]}).encode()
    (response,) = raw_call(tiny_bundle, [("/v2/models/classifier/infer", body, headers)])
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == expected


@pytest.mark.parametrize("encoding, compress", [("gzip", gzip.compress), ("deflate", zlib.compress)])
def test_compressed_bodies_are_inflated(tiny_bundle, encoding, compress):
    body = json.dumps({"inputs": [bytes_input(["you clown"])]}).encode()
    (response,) = raw_call(tiny_bundle, [("/v2/models/classifier/infer", compress(body),
                                          {"Content-Encoding": encoding})])
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["shape"] == [1]


def test_binary_inputs_and_outputs_match_the_json_answer(tiny_bundle):
    texts = ["you absolute clown 🤡", "the bus is late", "ok"]
    expected = Classifier.load(tiny_bundle).predict(texts)
    body, headers = binary_body({"id": "b-1", "parameters": {"binary_data_output": True}}, texts)
    (response,) = raw_call(tiny_bundle, [("/v2/models/classifier/infer", body, headers)])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    header, blobs = split_binary(response)
    assert header["id"] == "b-1" and set(blobs) == {"label", "scores"}
    label, scores = header["outputs"]
    assert "data" not in label and "data" not in scores and scores["shape"] == [3, 3]
    assert scores["parameters"]["labels"] == "call_out,call_in,neutral"
    assert decode_bytes_tensor(blobs["label"], "label") == [p.label for p in expected]
    got = np.frombuffer(blobs["scores"], dtype="<f4").reshape(3, 3)
    want = [[p.scores[c] for c in ("call_out", "call_in", "neutral")] for p in expected]
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_each_requested_output_chooses_binary_or_json(tiny_bundle):
    body, headers = binary_body({"parameters": {"binary_data_output": True},
                                 "outputs": [{"name": "label", "parameters": {"binary_data": False}},
                                             {"name": "scores"}]}, ["a", "b"])
    json_in = json.dumps({"inputs": [bytes_input(["a", "b"])],
                          "outputs": [{"name": "scores", "parameters": {"binary_data": True}}]}).encode()
    mixed, only_scores = raw_call(tiny_bundle, [("/v2/models/classifier/infer", body, headers),
                                                ("/v2/models/classifier/infer", json_in, {})])
    header, blobs = split_binary(mixed)
    assert len(header["outputs"][0]["data"]) == 2 and set(blobs) == {"scores"}  # scores takes the default
    header, blobs = split_binary(only_scores)
    assert [o["name"] for o in header["outputs"]] == ["scores"] and len(blobs["scores"]) == 2 * 3 * 4


def test_binary_rewriter_output_keeps_nan_scores_of_an_abstention(tiny_bundle):
    class AbstainOnSecond(FakeRewriter):
        def rewrite(self, texts, num_candidates=None, max_new_tokens=None):
            first = super().rewrite(texts[:1], num_candidates, max_new_tokens)
            return first + [Rewrite(None, {}, [], ok=False, reason="no candidate passed the guard",
                                    reason_codes=("not_call_in", "drifts"))]

    body, headers = binary_body({"parameters": {"binary_data_output": True, "num_candidates": 2}},
                                ["you clown", "nope"])
    as_json = json.dumps({"inputs": [bytes_input(["you clown", "nope"])]}).encode()
    binary, plain = raw_call(tiny_bundle, [("/v2/models/rewriter/infer", body, headers),
                                           ("/v2/models/rewriter/infer", as_json, {})], rewriter=AbstainOnSecond())
    header, blobs = split_binary(binary)
    assert decode_bytes_tensor(blobs["rewrite"], "rewrite") == ["Call-in #0: you clown", ""]
    assert decode_bytes_tensor(blobs["reason"], "reason") == ["", "no candidate passed the guard"]
    assert decode_bytes_tensor(blobs["reason_codes"], "reason_codes") == ["", "not_call_in,drifts"]
    scores = np.frombuffer(blobs["scores"], dtype="<f4").reshape(2, 3)
    np.testing.assert_allclose(scores[0], [0.9, 0.8, 0.72], atol=1e-6)
    assert np.isnan(scores[1]).all()
    assert plain.json()["outputs"][2]["data"][3:] == [None, None, None]  # JSON has no NaN: null


def _blob(*texts):
    return b"".join(struct.pack("<I", len(t)) + t for t in texts)


def _binary(header, blob, length=None):
    head = json.dumps(header).encode()
    return head + blob, {"Inference-Header-Content-Length": str(len(head) if length is None else length)}


@pytest.mark.parametrize("body_headers, message", [
    (_binary({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES",
                          "parameters": {"binary_data_size": 9}}]}, _blob(b"abc")), "binary_data_size 9"),
    (_binary({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES",
                          "parameters": {"binary_data_size": 7}}]}, struct.pack("<I", 10) + b"abc"), "claims 10"),
    (_binary({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES",
                          "parameters": {"binary_data_size": 5}}]}, _blob(b"a") + b"zz"), "2 bytes follow"),
    (_binary({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES",
                          "parameters": {"binary_data_size": 6}}]}, _blob(b"\xff\xfe")), "not valid UTF-8"),
    (_binary({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES",
                          "parameters": {"binary_data_size": 2}}]}, b"\x01\x00"), "4-byte length"),
    (_binary({"inputs": [{"name": "text", "shape": [1], "datatype": "FP32",
                          "parameters": {"binary_data_size": 4}}]}, b"\x00" * 4), "expected datatype BYTES"),
    (_binary({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["a"],
                          "parameters": {"binary_data_size": 5}}]}, _blob(b"a")), "both data and"),
    (_binary({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES",
                          "parameters": {"shared_memory_region": "r0"}}]}, b""), "shared memory"),
    (_binary({"inputs": [bytes_input(["a"])], "outputs": [{"name": "label", "parameters": {"classification": 2}}]},
             b""), "classification extension"),
    (_binary({"inputs": [bytes_input(["a"])], "parameters": {"binary_data_output": "yes"}}, b""),
     "binary_data_output must be"),
    (_binary({"inputs": [bytes_input(["a"])]}, b"", length=9999), "must be a byte count"),
    (_binary({"inputs": [bytes_input(["a"])]}, b"", length="-1"), "must be a byte count"),
    ((b"{not json" + _blob(b"a"), {"Inference-Header-Content-Length": "9"}), "not a JSON inference request"),
    ((b"\x1f\x8b\x08garbage", {"Content-Encoding": "gzip"}), "not valid gzip"),
])
def test_malformed_binary_requests_get_a_clear_400(tiny_bundle, body_headers, message):
    body, headers = body_headers
    (response,) = raw_call(tiny_bundle, [("/v2/models/classifier/infer", body, headers)])
    assert message in v2_error(response, 400, "bad_request")


def test_unknown_encoding_is_refused_and_inflation_is_capped(tiny_bundle):
    bomb = gzip.compress(json.dumps({"inputs": [bytes_input(["a" * 5000])]}).encode())
    unknown, too_big = raw_call(tiny_bundle, [
        ("/v2/models/classifier/infer", b"{}", {"Content-Encoding": "br"}),
        ("/v2/models/classifier/infer", bomb, {"Content-Encoding": "gzip"})], max_body_bytes=2048)
    assert len(bomb) < 2048
    assert "'br'" in v2_error(unknown, 415, "unsupported_media_type")
    v2_error(too_big, 413, "body_too_large")


def test_infer_route_keeps_its_documented_json_body(tiny_bundle):
    schema = fake_rewriter_app(tiny_bundle).openapi()
    body = schema["paths"]["/v2/models/{name}/infer"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/InferRequest")


def test_every_error_under_v2_takes_the_protocols_shape_and_v1_keeps_its_own(tiny_bundle):
    """Errors from the middleware (401, 413, 500), FastAPI (404, 405, 422) and routes, on both APIs."""
    class Exploding:
        labels = ("call_out", "call_in", "neutral")
        manifest: dict = {}

        def predict(self, texts):
            raise RuntimeError("secret internal detail")

    from test_server_support import settings

    from callinkit.serve.http import create_app

    big = {"texts": ["x" * 1500]}
    big_v2 = {"inputs": [bytes_input(["x" * 1500])]}

    async def scenario():
        guarded = create_app(settings(tiny_bundle, api_keys="k", max_body_bytes=1024),
                             classifier_loader=lambda s: Exploding())
        async with serving(guarded) as client:
            auth = {"Authorization": "Bearer k"}
            return {
                "401": (await client.get("/v2/models/classifier"), await client.get("/v1/models")),
                "413": (await client.post("/v2/models/classifier/infer", json=big_v2, headers=auth),
                        await client.post("/v1/classify", json=big, headers=auth)),
                "500": (await client.post("/v2/models/classifier/infer", json={"inputs": [bytes_input(["a"])]},
                                          headers={**auth, "X-Request-ID": "r-9"}),
                        await client.post("/v1/classify", json={"texts": ["a"]}, headers=auth)),
                "404": (await client.get("/v2/no/such/route", headers=auth),
                        await client.get("/v1/no/such/route", headers=auth)),
                "405": (await client.delete("/v2/health/live", headers=auth),
                        await client.delete("/v1/classify", headers=auth)),
                "422": (await client.post("/v2/models/classifier/infer", json={"inputs": 3}, headers=auth),
                        await client.post("/v1/classify", json={"texts": 3}, headers=auth)),
            }

    responses = asyncio.run(scenario())
    codes = {"401": "unauthorized", "413": "body_too_large", "500": "internal_error", "404": "not_found",
             "405": "method_not_allowed", "422": "validation_error"}
    for status, (v2, v1) in responses.items():
        message = v2_error(v2, int(status), codes[status])
        assert v1.status_code == int(status) and v1.json() == {"error": {"code": codes[status],
                                                                         "message": v1.json()["error"]["message"]}}
        assert isinstance(v1.json()["error"]["message"], str) and v1.json()["error"]["message"]
        if status == "500":
            assert "r-9" in message and "secret" not in v2.text
        if status == "404":
            assert message == "no route GET /v2/no/such/route"


def test_v2_errors_are_documented_in_their_shape(tiny_bundle):
    schema = fake_rewriter_app(tiny_bundle).openapi()
    v2_error_ref = schema["paths"]["/v2/models/{name}/infer"]["post"]["responses"]["422"]["content"]
    v1_error_ref = schema["paths"]["/v1/classify"]["post"]["responses"]["422"]["content"]
    assert v2_error_ref["application/json"]["schema"]["$ref"].endswith("/V2ErrorResponse")
    assert v1_error_ref["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert schema["components"]["schemas"]["V2ErrorResponse"]["properties"]["error"]["type"] == "string"


@pytest.mark.parametrize("path, root_path, v2", [
    ("/v2", "", True), ("/v2/models/classifier/infer", "", True), ("/v2models", "", False),
    ("/v1/classify", "", False), ("/", "", False), ("/api/v2/health/ready", "/api", True),
    ("/api/v1/classify", "/api", False),
])
def test_the_v2_shape_is_chosen_by_path_also_behind_a_root_path(path, root_path, v2):
    from callinkit.serve.http.errors import is_v2_path

    assert is_v2_path({"path": path, "root_path": root_path}) is v2
