"""One error shape for every failure: `{"error": {"code": "...", "message": "..."}}`.

Under /v2 the Open Inference Protocol fixes the body as `{"error": "<message>"}`, and its clients read that
key as a string (tritonclient's exception cannot print anything else), so responses to /v2 paths answer
`{"error": "<message>", "code": "..."}`: the protocol's string, with the same code as a sibling key. Routes
raise `ApiError`; FastAPI's own validation errors, 404s and 405s are turned into the right shape here. Unexpected exceptions never reach this module's handlers: the request middleware logs them with the
request id and answers a generic 500 (their text is never sent to clients).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from callinkit.serve.http.batching import BatcherStopped, DeadlineExceeded, QueueFull

# The codes a client can branch on, by HTTP status when FastAPI raised it.
STATUS_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
                413: "body_too_large", 415: "unsupported_media_type", 422: "validation_error",
                429: "queue_full", 500: "internal_error", 503: "unavailable", 504: "deadline_exceeded"}


class ErrorDetail(BaseModel):
    code: str = Field(description="stable, machine-readable reason", examples=["validation_error"])
    message: str = Field(description="what went wrong, for people", examples=["texts: at most 64 texts"])


class ErrorResponse(BaseModel):
    """The body of every non-2xx response."""

    error: ErrorDetail


class V2ErrorResponse(BaseModel):
    """The body of every non-2xx response under /v2 (the Open Inference Protocol's, plus our code)."""

    error: str = Field(description="what went wrong, for people", examples=["no model named 'bert'"])
    code: str = Field(description="stable, machine-readable reason", examples=["model_not_found"])


class ApiError(Exception):
    """A failure the client should hear about, with its HTTP status, code and message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def is_v2_path(scope: Scope) -> bool:
    """Whether the request is under /v2 (behind a proxy's root path too), so its errors take the v2 shape."""
    path, root = str(scope.get("path", "")), str(scope.get("root_path", ""))
    if root and path.startswith(root):  # ASGI servers may include the root path in `path`
        path = path[len(root):]
    return path == "/v2" or path.startswith("/v2/")


def error_response(scope: Scope, status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """The error in the shape the request's path calls for (see the module docstring)."""
    body = {"error": message, "code": code} if is_v2_path(scope) else {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def describe_validation_errors(errors: list[dict[str, Any]], limit: int = 5) -> str:
    """`body.texts.3: String should have at most 2000 characters; ...` (the first few problems)."""
    parts = []
    for err in errors[:limit]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg", "invalid")))
    if len(errors) > limit:
        parts.append(f"and {len(errors) - limit} more")
    return "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    """Make FastAPI's and the batcher's exceptions answer in the error shape of their path."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request.scope, exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(request.scope, 422, "validation_error", describe_validation_errors(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path}"
        return error_response(request.scope, exc.status_code, code, message, getattr(exc, "headers", None))

    @app.exception_handler(QueueFull)
    async def _queue_full(request: Request, exc: QueueFull) -> JSONResponse:
        return error_response(request.scope, 429, "queue_full", str(exc), {"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(DeadlineExceeded)
    async def _deadline(request: Request, exc: DeadlineExceeded) -> JSONResponse:
        return error_response(request.scope, 504, "deadline_exceeded", str(exc))

    @app.exception_handler(BatcherStopped)
    async def _stopped(request: Request, exc: BatcherStopped) -> JSONResponse:
        return error_response(request.scope, 503, "shutting_down", "the server is shutting down; retry on another replica")
