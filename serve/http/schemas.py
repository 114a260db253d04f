"""Request and response bodies of the /v1 API (their JSON schemas and examples appear in /docs)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

CALL_OUT = "You absolute clown, delete this before everyone sees how dumb you are."
CALL_IN = "Hey, I think that post has a mistake; could you take another look at the numbers?"
SCORES = {"call_out": 0.91, "call_in": 0.04, "neutral": 0.05}
REWRITE = {"rewrite": CALL_IN, "scores": {"call_in": 0.88, "similarity": 0.71, "score": 0.62},
           "candidates": [{"text": CALL_IN, "scores": {"call_in": 0.88, "similarity": 0.71, "score": 0.62}}]}


class _Request(BaseModel):
    # Unknown fields are errors: a typo such as "text" for "texts" should not pass silently.
    model_config = ConfigDict(extra="forbid")


class ClassifyRequest(_Request):
    model_config = ConfigDict(json_schema_extra={"examples": [{"texts": [CALL_OUT, "the bus is late again"]}]})

    texts: list[str] = Field(description="messages to classify; the answer has one result per text, in order")
    explain: bool = Field(False, description="also return the word spans that pushed each text toward its label "
                                             "(occlusion; costs one model call per word)")


class ExplanationSpan(BaseModel):
    start: int = Field(description="first character of the span in the text")
    end: int = Field(description="one past its last character")
    text: str
    score: float = Field(description="drop in the label's log-odds when these words are left out")


class Classification(BaseModel):
    label: str = Field(description="call_out, call_in or neutral", examples=["call_out"])
    scores: dict[str, float] = Field(description="probability of every label (they sum to 1)", examples=[SCORES])
    uncertain: bool = Field(False, description="the top probability is below the model's threshold chosen on "
                                               "validation data: route this message to a person")
    spans: list[ExplanationSpan] | None = Field(None, description="with explain: the spans that pushed the text "
                                                                 "toward its label, strongest first")


class ClassifyResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"results": [
        {"label": "call_out", "scores": SCORES, "uncertain": False},
        {"label": "neutral", "scores": {"call_out": 0.03, "call_in": 0.02, "neutral": 0.95}, "uncertain": False}]}]})

    results: list[Classification]


class RewriteOptions(_Request):
    num_candidates: int | None = Field(None, ge=1, description="candidates to generate, guard and rank per text "
                                                               "(default: the rewriter bundle's)")
    max_new_tokens: int | None = Field(None, ge=1, description="longest rewrite in tokens (default: the "
                                                               "rewriter bundle's)")


class RewriteRequest(RewriteOptions):
    model_config = ConfigDict(json_schema_extra={"examples": [{"texts": [CALL_OUT], "num_candidates": 3}]})

    texts: list[str] = Field(description="call-outs to rewrite as call-ins; one result per text, in order")


class Candidate(BaseModel):
    text: str
    scores: dict[str, float] = Field(description="the rewriter's ranking scores, e.g. call_in probability, "
                                                 "similarity to the original, and their combined score")
    problems: list[str] = Field(default_factory=list, description="why the guard refused this candidate (empty "
                                                                  "when it passed)")
    problem_codes: list[str] = Field(default_factory=list, description="the same problems as stable codes, in order "
                                     "(callinkit.guard.PROBLEM_CODES), e.g. repeats_attack, not_call_in",
                                     examples=[["not_call_in", "drifts"]])


class RewriteResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [REWRITE]})

    rewrite: str | None = Field(description="the best candidate that passed the guard; null when none did")
    reason: str | None = Field(None, description="why there is no rewrite (null when there is one)")
    reason_codes: list[str] = Field(default_factory=list, description="the reason as stable codes (empty when there "
                                    "is a rewrite), e.g. refused_threat, or the commonest problems of the "
                                    "candidates", examples=[["refused_threat"]])
    scores: dict[str, float] = Field(description="the best candidate's scores")
    candidates: list[Candidate] = Field(description="every candidate, passing ones first, best first")


class RewriteResponse(BaseModel):
    results: list[RewriteResult]


class SuggestRequest(RewriteOptions):
    model_config = ConfigDict(json_schema_extra={"examples": [{"text": CALL_OUT, "num_candidates": 3}]})

    text: str = Field(description="one message")


class SuggestResponse(Classification):
    model_config = ConfigDict(json_schema_extra={"examples": [{"label": "call_out", "scores": SCORES,
                                                               "rewrite": REWRITE}]})

    rewrite: RewriteResult | None = Field(description="a call-in version, only when the label is call_out")


class ModelInfo(BaseModel):
    name: str = Field(examples=["classifier"])
    status: str = Field(description="loading, ready, failed or absent (no bundle configured)")
    version: str | None = Field(None, description="the bundle's name and creation time")
    labels: list[str] | None = None
    metrics: dict[str, Any] | None = Field(None, description="evaluation metrics from the bundle")
    provenance: dict[str, Any] | None = Field(None, description="base model, data, training and export "
                                                                "checks recorded in the bundle")


class ModelsResponse(BaseModel):
    models: list[ModelInfo]


class Health(BaseModel):
    status: str = Field("ok", examples=["ok"])


class Readiness(BaseModel):
    ready: bool
    models: dict[str, str] = Field(description="status of each model", examples=[{"classifier": "ready",
                                                                                  "rewriter": "absent"}])
