"""Real Open Inference Protocol clients against a real `callinkit serve` process on loopback: Triton's
`tritonclient.http` and KServe's `InferenceRESTClient`, with binary and JSON tensors, on the tiny classifier
and the tiny rewriter bundles (both from conftest; nothing is downloaded)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest
from test_server_support import free_port, wait_until_serving, without_callinkit_env

from callinkit.serve import Classifier, Rewriter

httpclient = pytest.importorskip("tritonclient.http")
from tritonclient.utils import InferenceServerException  # noqa: E402

TEXTS = ["you absolute clown, delete this", "the bus is late again 🚌", "nobody asked you, log off forever"]
COLUMNS = ["call_out", "call_in", "neutral"]


@pytest.fixture(scope="module")
def server(tiny_bundle, tiny_rewriter_bundle) -> Iterator[str]:
    """`callinkit serve` with the tiny classifier and rewriter; yields its host:port."""
    port = free_port()
    command = [sys.executable, "-m", "callinkit", "serve", "--classifier-bundle", str(tiny_bundle),
               "--rewriter-bundle", str(tiny_rewriter_bundle), "--port", str(port), "--log-level", "warning",
               "--max-texts", "4"]
    with without_callinkit_env():
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", proc)
        yield f"127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=30)[0]
        assert proc.returncode == 0, output


@pytest.fixture(scope="module")
def expected(tiny_bundle, tiny_rewriter_bundle):
    classifier = Classifier.load(tiny_bundle)
    rewriter = Rewriter.load(tiny_rewriter_bundle, classifier=classifier)
    return classifier.predict(TEXTS), rewriter.rewrite(TEXTS[:2], num_candidates=2, max_new_tokens=8)


def text_tensor(module, texts: list[str], binary: bool):
    tensor = module.InferInput("text", [len(texts)], "BYTES")
    tensor.set_data_from_numpy(np.array([t.encode() for t in texts], dtype=np.object_), binary_data=binary)
    return tensor


def decoded(array: np.ndarray) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else v for v in array.tolist()]


def check_classifier(labels: np.ndarray, scores: np.ndarray, predictions) -> None:
    assert decoded(labels) == [p.label for p in predictions]
    assert scores.dtype == np.float32 and scores.shape == (len(predictions), 3)
    np.testing.assert_allclose(scores, [[p.scores[c] for c in COLUMNS] for p in predictions], atol=1e-5)


def test_triton_client_health_and_metadata(server, tiny_bundle):
    client = httpclient.InferenceServerClient(url=server)
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("classifier") and client.is_model_ready("rewriter")
        assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
        meta = client.get_model_metadata("classifier")
        assert meta["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
        assert [o["name"] for o in meta["outputs"]] == ["label", "scores"]
    finally:
        client.close()


@pytest.mark.parametrize("binary_in, binary_out, compression", [
    (True, None, None),  # the client's defaults: binary input, every output binary (binary_data_output)
    (False, False, None),  # JSON both ways
    (True, False, "gzip"),
    (False, True, "deflate"),
])
def test_triton_client_classifies(server, expected, binary_in, binary_out, compression):
    outputs = None if binary_out is None else [httpclient.InferRequestedOutput(name, binary_data=binary_out)
                                               for name in ("label", "scores")]
    client = httpclient.InferenceServerClient(url=server)
    try:
        result = client.infer("classifier", [text_tensor(httpclient, TEXTS, binary_in)], outputs=outputs,
                              request_id="t-1", request_compression_algorithm=compression)
    finally:
        client.close()
    assert result.get_response()["id"] == "t-1"
    assert result.get_output("scores")["parameters"]["labels"] == ",".join(COLUMNS)
    check_classifier(result.as_numpy("label"), result.as_numpy("scores"), expected[0])


def test_triton_client_rewrites_with_parameters(server, expected):
    client = httpclient.InferenceServerClient(url=server)
    try:
        result = client.infer("rewriter", [text_tensor(httpclient, TEXTS[:2], True)],
                              parameters={"num_candidates": 2, "max_new_tokens": 8})
    finally:
        client.close()
    rewrites = expected[1]
    assert decoded(result.as_numpy("rewrite")) == [r.text or "" for r in rewrites]
    assert decoded(result.as_numpy("reason")) == [r.reason or "" for r in rewrites]
    columns = result.get_output("scores")["parameters"]["labels"].split(",")
    scores = result.as_numpy("scores")
    assert scores.shape == (2, len(columns))
    want = [[r.scores.get(c, np.nan) for c in columns] for r in rewrites]
    np.testing.assert_allclose(scores, want, rtol=1e-4, atol=1e-5)  # NaN where a rewrite has no score


def test_triton_client_sees_the_servers_errors(server):
    client = httpclient.InferenceServerClient(url=server)
    try:
        with pytest.raises(InferenceServerException) as too_many:
            client.infer("classifier", [text_tensor(httpclient, ["a"] * 5, True)])
        with pytest.raises(InferenceServerException) as unknown:
            client.infer("bert", [text_tensor(httpclient, ["a"], True)])
        with pytest.raises(InferenceServerException) as class_count:
            client.infer("classifier", [text_tensor(httpclient, ["a"], True)],
                         outputs=[httpclient.InferRequestedOutput("scores", class_count=2)])
    finally:
        client.close()
    # The protocol's error is a string, which the client reads as the exception's message; str() prints it
    # (it raised TypeError while /v2 answered the {"code", "message"} object of the other routes).
    assert too_many.value.status() == "422" and isinstance(too_many.value.message(), str)
    assert "at most 4 texts" in str(too_many.value) and str(too_many.value).startswith("[422]")
    assert unknown.value.status() == "404" and "no model named 'bert'" in str(unknown.value)
    assert class_count.value.status() == "400" and "classification extension" in str(class_count.value)


@pytest.mark.parametrize("binary", [True, False])
def test_kserve_rest_client_classifies_and_rewrites(server, expected, binary):
    kserve = pytest.importorskip("kserve")

    async def scenario():
        client = kserve.InferenceRESTClient(kserve.RESTConfig(protocol="v2", timeout=30, retries=0))
        try:
            outputs = [kserve.protocol.infer_type.RequestedOutput(n, {"binary_data": binary})
                       for n in ("label", "scores")]
            classified = await client.infer(f"http://{server}", kserve.InferRequest(
                "classifier", [text_tensor(kserve, TEXTS, binary)], request_id="k-1", request_outputs=outputs),
                model_name="classifier")
            rewritten = await client.infer(f"http://{server}", kserve.InferRequest(
                "rewriter", [text_tensor(kserve, TEXTS[:2], binary)],
                parameters={"num_candidates": 2, "max_new_tokens": 8}), model_name="rewriter")
            return classified, rewritten
        finally:
            await client.close()

    classified, rewritten = asyncio.run(scenario())
    assert classified.id == "k-1" and classified.model_name == "classifier"
    by_name = {o.name: o for o in classified.outputs}
    check_classifier(by_name["label"].as_numpy(), by_name["scores"].as_numpy(), expected[0])
    rewrite = next(o for o in rewritten.outputs if o.name == "rewrite")
    assert decoded(rewrite.as_numpy()) == [r.text or "" for r in expected[1]]


def test_kserve_rest_client_gets_the_error_shape(server):
    kserve = pytest.importorskip("kserve")
    import httpx

    async def scenario():
        client = kserve.InferenceRESTClient(kserve.RESTConfig(protocol="v2", timeout=30, retries=0))
        try:
            await client.infer(f"http://{server}", kserve.InferRequest(
                "rewriter", [text_tensor(kserve, ["a"], True)], parameters={"num_candidates": 99}),
                model_name="rewriter")
        finally:
            await client.close()

    with pytest.raises(httpx.HTTPStatusError) as error:
        asyncio.run(scenario())
    assert error.value.response.status_code == 422
    body = json.loads(error.value.response.content)
    assert body["code"] == "too_many_candidates" and "num_candidates" in body["error"]
