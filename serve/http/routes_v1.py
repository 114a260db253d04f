"""The /v1 JSON API: classify, rewrite, suggest, and the loaded models' manifests."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request

from callinkit.serve.http.batching import DeadlineExceeded
from callinkit.serve.http.errors import ErrorResponse
from callinkit.serve.http.guards import check_rewrite_options, check_texts, until_disconnected
from callinkit.serve.http.models import CLASSIFIER, REWRITER, ServedModels
from callinkit.serve.http.schemas import (
    Candidate,
    Classification,
    ClassifyRequest,
    ClassifyResponse,
    ExplanationSpan,
    ModelInfo,
    ModelsResponse,
    RewriteRequest,
    RewriteResponse,
    RewriteResult,
    SuggestRequest,
    SuggestResponse,
)
from callinkit.serve.http.settings import ServerSettings

router = APIRouter(prefix="/v1", tags=["v1"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text} for status, text in {
        401: "missing or invalid bearer token (when API keys are configured)",
        413: "request body too large",
        422: "invalid body, or over a limit (texts per request, characters per text, candidates, tokens)",
        429: "the model's queue is full; retry after the Retry-After header's seconds",
        503: "the model is loading, failed to load, or is not configured",
        504: "the request's deadline passed before the model answered",
    }.items()}


def _models(request: Request) -> ServedModels:
    return request.app.state.models


def _settings(request: Request) -> ServerSettings:
    return request.app.state.settings


def classification(prediction: Any, explanation: Any = None) -> Classification:
    spans = None if explanation is None else [ExplanationSpan(**sp.to_dict()) for sp in explanation.spans]
    return Classification(label=prediction.label, scores=dict(prediction.scores),
                          uncertain=bool(getattr(prediction, "uncertain", False)), spans=spans)


def rewrite_result(rewrite: Any) -> RewriteResult:
    return RewriteResult(rewrite=rewrite.text, reason=getattr(rewrite, "reason", None),
                         reason_codes=list(getattr(rewrite, "reason_codes", ())), scores=dict(rewrite.scores),
                         candidates=[Candidate(text=c.text, scores=dict(c.scores),
                                               problems=list(getattr(c, "problems", ())),
                                               problem_codes=c.problem_codes)
                                     for c in rewrite.candidates])


@router.post("/classify", response_model=ClassifyResponse, responses=_ERRORS,
             summary="Label messages call_out, call_in or neutral")
async def classify(body: ClassifyRequest, request: Request) -> ClassifyResponse:
    """One result per text, in order. Texts from concurrent requests are batched together."""
    check_texts(body.texts, _settings(request))
    if body.explain:
        explanations = await until_disconnected(request, _models(request).explain(body.texts))
        return ClassifyResponse(results=[classification(e.prediction, e) for e in explanations])
    predictions = await until_disconnected(request, _models(request).classify(body.texts))
    return ClassifyResponse(results=[classification(p) for p in predictions])


@router.post("/rewrite", response_model=RewriteResponse, responses=_ERRORS,
             summary="Rewrite call-outs as call-ins")
async def rewrite(body: RewriteRequest, request: Request) -> RewriteResponse:
    """One result per text, in order: the best rewrite, its scores, and every candidate, best first.
    Answers 503 when the server has no rewriter bundle."""
    settings = _settings(request)
    models = _models(request)
    models.check_available(REWRITER)
    check_texts(body.texts, settings)
    check_rewrite_options(body.num_candidates, body.max_new_tokens, settings)
    rewrites = await until_disconnected(
        request, models.rewrite(body.texts, body.num_candidates, body.max_new_tokens))
    return RewriteResponse(results=[rewrite_result(r) for r in rewrites])


@router.post("/suggest", response_model=SuggestResponse, responses=_ERRORS,
             summary="Classify one message and, if it is a call-out, suggest a call-in")
async def suggest(body: SuggestRequest, request: Request) -> SuggestResponse:
    """The classification of `text`, plus a rewrite only when the label is call_out. Needs the rewriter
    (503 without one), so that the answer's shape never depends on the text."""
    settings = _settings(request)
    models = _models(request)
    models.check_available(REWRITER)
    check_texts([body.text], settings, field="text")
    check_rewrite_options(body.num_candidates, body.max_new_tokens, settings)

    async def work() -> SuggestResponse:
        # One deadline for the request: the rewrite gets what the classification left of it.
        deadline = time.monotonic() + settings.request_timeout_s
        prediction = (await models.classify([body.text]))[0]
        rewritten = None
        if prediction.label == "call_out":
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExceeded(f"suggest did not answer within {settings.request_timeout_s:g} s")
            rewritten = rewrite_result((await models.rewrite([body.text], body.num_candidates,
                                                             body.max_new_tokens, timeout_s=remaining))[0])
        return SuggestResponse(label=prediction.label, scores=dict(prediction.scores), rewrite=rewritten)

    return await until_disconnected(request, work())


@router.get("/models", response_model=ModelsResponse, responses={401: _ERRORS[401]},
            summary="The models this server hosts, with their bundle manifests")
async def list_models(request: Request) -> ModelsResponse:
    """Version, labels, metrics and provenance of each model, from its bundle's manifest."""
    models = _models(request)
    return ModelsResponse(models=[model_info(name, models) for name in (CLASSIFIER, REWRITER)])


def model_info(name: str, models: ServedModels) -> ModelInfo:
    manifest: dict[str, Any] = getattr(models.instances.get(name), "manifest", None) or {}
    provenance = {key: manifest[key] for key in ("base_model", "data", "training", "validation", "quantization",
                                                 "callinkit_version", "created_at") if key in manifest}
    return ModelInfo(name=name, status=models.status[name], version=bundle_version(manifest),
                     labels=manifest.get("labels"), metrics=manifest.get("metrics"),
                     provenance=provenance or None)


def bundle_version(manifest: dict[str, Any]) -> str | None:
    """`<name>@<created_at>`: bundles carry no version number, but name and export time identify one."""
    if not manifest:
        return None
    if "version" in manifest:
        return str(manifest["version"])
    return "@".join(str(manifest[k]) for k in ("name", "created_at") if k in manifest) or None
