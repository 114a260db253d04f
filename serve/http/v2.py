"""KServe / Open Inference Protocol v2 routes for the same models, so KServe and Triton clients work unchanged.

Models: `classifier` (input `text` BYTES [n] -> `label` BYTES [n], `scores` FP32 [n, 3]) and `rewriter`
(input `text` BYTES [n], parameters `num_candidates`, `max_new_tokens` -> `rewrite` BYTES [n], `scores`
FP32 [n, k]). The column names of each `scores` output are in its `labels` parameter, comma-separated.
Tensors come as JSON or with the binary tensor data extension (v2_binary), whatever the content type.
Errors follow the protocol: `{"error": "<message>", "code": "<code>"}`, the string that Triton and KServe
clients read from `error`, with the server's machine-readable code beside it (every other path answers
`{"error": {"code", "message"}}`). This holds for every error under /v2, whoever raised it (see errors.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from callinkit import __version__
from callinkit.serve.http.errors import ApiError, V2ErrorResponse
from callinkit.serve.http.guards import check_rewrite_options, check_texts, until_disconnected
from callinkit.serve.http.models import CLASSIFIER, REWRITER, ServedModels
from callinkit.serve.http.routes_v1 import bundle_version
from callinkit.serve.http.v2_binary import InferRoute, binary_output_names, infer_response

router = APIRouter(prefix="/v2", tags=["v2 (Open Inference Protocol)"])

Parameters = dict[str, str | int | float | bool]


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class Live(BaseModel):
    live: bool


class Ready(BaseModel):
    ready: bool


class ModelReady(BaseModel):
    name: str
    ready: bool


class InferInput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: Parameters | None = None
    data: list[Any] = Field(description="row-major tensor data (nested lists are flattened)")


class RequestedOutput(BaseModel):
    name: str
    parameters: Parameters | None = None


class InferRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "42", "inputs": [{"name": "text", "shape": [2], "datatype": "BYTES",
                                "data": ["you clown, delete this", "the bus is late"]}]}]})

    id: str | None = None
    parameters: Parameters | None = None
    inputs: list[InferInput]
    outputs: list[RequestedOutput] | None = None


class InferOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: Parameters | None = None
    data: list[Any]


class InferResponse(BaseModel):
    model_name: str
    model_version: str | None = None
    id: str | None = None
    parameters: Parameters | None = None
    outputs: list[InferOutput]


_ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": V2ErrorResponse} for s in (400, 404, 422, 429, 503, 504)}


def _models(request: Request) -> ServedModels:
    return request.app.state.models


def _known(name: str) -> None:
    if name not in (CLASSIFIER, REWRITER):
        raise ApiError(404, "model_not_found", f"no model named {name!r}; this server has 'classifier' and "
                                               "'rewriter'")


def _outputs(name: str, labels: list[str]) -> list[TensorMetadata]:
    if name == CLASSIFIER:
        return [TensorMetadata(name="label", datatype="BYTES", shape=[-1]),
                TensorMetadata(name="scores", datatype="FP32", shape=[-1, len(labels)])]
    return [TensorMetadata(name="rewrite", datatype="BYTES", shape=[-1]),
            TensorMetadata(name="reason", datatype="BYTES", shape=[-1]),
            TensorMetadata(name="scores", datatype="FP32", shape=[-1, -1]),
            TensorMetadata(name="reason_codes", datatype="BYTES", shape=[-1])]


@router.get("/health/live", response_model=Live, summary="The server is up")
async def live() -> Live:
    return Live(live=True)


@router.get("/health/ready", response_model=Ready, responses={503: {"model": V2ErrorResponse}},
            summary="Every configured model is loaded")
async def ready(request: Request) -> Ready:
    models = _models(request)
    if not models.ready:
        raise ApiError(503, "not_ready", "models: " + ", ".join(f"{k} {v}" for k, v in models.status.items()))
    return Ready(ready=True)


@router.get("", response_model=ServerMetadata, summary="Server metadata")
async def server_metadata() -> ServerMetadata:
    return ServerMetadata(name="callinkit", version=__version__, extensions=["binary_tensor_data"])


@router.get("/models/{name}", response_model=ModelMetadata, responses=_ERRORS, summary="Model metadata")
async def model_metadata(name: str, request: Request) -> ModelMetadata:
    _known(name)
    models = _models(request)
    models.check_available(name)
    manifest = getattr(models.instances[name], "manifest", None) or {}
    labels = list(manifest.get("labels") or getattr(models.instances[name], "labels", ()) or ())
    version = bundle_version(manifest)
    return ModelMetadata(name=name, versions=[version] if version else [], platform="onnxruntime",
                         inputs=[TensorMetadata(name="text", datatype="BYTES", shape=[-1])],
                         outputs=_outputs(name, labels))


@router.get("/models/{name}/ready", response_model=ModelReady, responses=_ERRORS, summary="Model readiness")
async def model_ready(name: str, request: Request) -> ModelReady:
    _known(name)
    _models(request).check_available(name)
    return ModelReady(name=name, ready=True)


async def infer(name: str, body: InferRequest, request: Request) -> InferResponse | Response:
    _known(name)
    models = _models(request)
    settings = request.app.state.settings
    models.check_available(name)
    texts = _texts(body)
    check_texts(texts, settings, field="inputs[0].data")
    available = {o.name for o in _outputs(name, [])}
    wanted = _requested_outputs(body, available)
    binary = binary_output_names(body.outputs, body.parameters, available)
    manifest = getattr(models.instances[name], "manifest", None) or {}
    if name == CLASSIFIER:
        predictions = await until_disconnected(request, models.classify(texts))
        outputs = _classifier_outputs(predictions, list(manifest.get("labels") or models.instances[name].labels))
    else:
        params = body.parameters or {}
        num_candidates = _int_parameter(params, "num_candidates", None)
        max_new_tokens = _int_parameter(params, "max_new_tokens", None)
        check_rewrite_options(num_candidates, max_new_tokens, settings)
        rewrites = await until_disconnected(request, models.rewrite(texts, num_candidates, max_new_tokens))
        outputs = _rewriter_outputs(rewrites)
    return infer_response(InferResponse(model_name=name, model_version=bundle_version(manifest), id=body.id,
                                        outputs=[o for o in outputs if o.name in wanted]), binary)


# InferRoute hands this route plain JSON whatever the content type, compression or binary tensors.
router.add_api_route("/models/{name}/infer", infer, methods=["POST"], route_class_override=InferRoute,
                     response_model=InferResponse, response_model_exclude_none=True, responses=_ERRORS,
                     summary="Run a model on a BYTES tensor of texts")


def _texts(body: InferRequest) -> list[str]:
    if len(body.inputs) != 1:
        raise ApiError(400, "bad_request", f"expected one input tensor named 'text', got {len(body.inputs)}")
    tensor = body.inputs[0]
    if tensor.name != "text" or tensor.datatype != "BYTES":
        raise ApiError(400, "bad_request", f"expected input 'text' of datatype BYTES, got {tensor.name!r} "
                                           f"of {tensor.datatype}")
    texts = _flatten(tensor.data)
    if any(not isinstance(t, str) for t in texts):
        raise ApiError(400, "bad_request", "BYTES data must be strings in JSON (or binary, with the "
                                           "Inference-Header-Content-Length header)")
    expected = 1
    for dim in tensor.shape:
        expected *= dim
    if len(tensor.shape) not in (1, 2) or (len(tensor.shape) == 2 and tensor.shape[1] != 1) or \
            expected != len(texts):
        raise ApiError(400, "bad_request", f"shape {tensor.shape} does not match {len(texts)} texts; use [n] or "
                                           "[n, 1]")
    return texts


def _flatten(data: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in data:
        out.extend(_flatten(item) if isinstance(item, list) else [item])
    return out


def _requested_outputs(body: InferRequest, available: set[str]) -> set[str]:
    if not body.outputs:
        return available
    unknown = sorted({o.name for o in body.outputs} - available)
    if unknown:
        raise ApiError(400, "bad_request", f"unknown output(s) {unknown}; this model has {sorted(available)}")
    return {o.name for o in body.outputs}


def _int_parameter(params: Parameters, key: str, default: int | None) -> int | None:
    value = params.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ApiError(400, "bad_request", f"parameter {key} must be a positive integer, got {value!r}")
    return value


def _classifier_outputs(predictions: list[Any], labels: list[str]) -> list[InferOutput]:
    scores = [float(p.scores[label]) for p in predictions for label in labels]
    return [InferOutput(name="label", shape=[len(predictions)], datatype="BYTES",
                        data=[p.label for p in predictions]),
            InferOutput(name="scores", shape=[len(predictions), len(labels)], datatype="FP32",
                        parameters={"labels": ",".join(labels)}, data=scores)]


def _rewriter_outputs(rewrites: list[Any]) -> list[InferOutput]:
    """`rewrite` is "" where the guard abstained, and `reason` says why ("" where there is a rewrite);
    `reason_codes` gives the same reasons as stable codes, comma-separated (callinkit.guard.PROBLEM_CODES); the
    scores of an abstention are NaN."""
    columns = list(dict.fromkeys(c for r in rewrites for c in r.scores))
    return [InferOutput(name="rewrite", shape=[len(rewrites)], datatype="BYTES", data=[r.text or "" for r in rewrites]),
            InferOutput(name="reason", shape=[len(rewrites)], datatype="BYTES",
                        data=[getattr(r, "reason", None) or "" for r in rewrites]),
            InferOutput(name="scores", shape=[len(rewrites), len(columns)], datatype="FP32",
                        parameters={"labels": ",".join(columns)},
                        data=[float(r.scores.get(c, float("nan"))) for r in rewrites for c in columns]),
            InferOutput(name="reason_codes", shape=[len(rewrites)], datatype="BYTES",
                        data=[",".join(getattr(r, "reason_codes", ())) for r in rewrites])]
