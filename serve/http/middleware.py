"""The request middleware: request ids, bearer auth, the body size limit, metrics, internal errors, and the
drain on shutdown (requests in flight counted; new work and readiness probes refused while draining).

A plain ASGI middleware (not Starlette's BaseHTTPMiddleware) so it sees every response, including the
error responses of FastAPI's exception handlers, and passes the client's disconnect through to routes.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid
from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callinkit.serve.http.drain import DrainState
from callinkit.serve.http.errors import error_response
from callinkit.serve.http.metrics import ServerMetrics

logger = logging.getLogger("callinkit.serve.http")

REQUEST_ID_HEADER = "X-Request-ID"
# Health checks stay open when auth is on, so orchestrators can probe without a token.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/v2/health/live", "/v2/health/ready"})
READY_PATHS = frozenset({"/readyz", "/v2/health/ready"})
# While draining these still answer normally (liveness, metrics); readiness turns 503 and work is refused.
OPEN_WHILE_DRAINING = frozenset({"/healthz", "/v2/health/live", "/metrics"})
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _request_id(headers: Headers) -> str:
    """The client's X-Request-ID when it is a plain token (it ends up in logs), else a fresh one."""
    given = headers.get(REQUEST_ID_HEADER, "")
    return given if _SAFE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _route_template(scope: Scope) -> str:
    """`/v2/models/{name}/infer` rather than the raw path, so metrics labels stay few."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if "app_root_path" in scope:  # inside a Mount (the static files): its prefix
        return str(scope.get("root_path", "")).removeprefix(str(scope["app_root_path"])) or "mount"
    return "unmatched"


class RequestMiddleware:
    """Wraps the whole app: see the module docstring."""

    def __init__(self, app: ASGIApp, *, metrics: ServerMetrics, max_body_bytes: int,
                 api_keys: Iterable[str] = (), drain: DrainState | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.api_keys = tuple(k.encode() for k in api_keys)
        self.drain = drain if drain is not None else DrainState()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers = Headers(scope=scope)
        request_id = _request_id(headers)
        scope.setdefault("state", {})["request_id"] = request_id
        response = {"status": 500, "started": False}
        counted = scope["path"] not in PUBLIC_PATHS  # probes never hold up a drain
        if counted:
            self.drain.in_flight += 1

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"], response["started"] = message["status"], True
                sent_headers = MutableHeaders(scope=message)
                sent_headers[REQUEST_ID_HEADER] = request_id
                if self.drain.draining:  # the client should not send more on this connection
                    sent_headers["Connection"] = "close"
            await send(message)

        try:
            if self.drain.draining and scope["path"] not in OPEN_WHILE_DRAINING:
                # send_with_id adds `Connection: close`, as to every response sent while draining.
                await error_response(scope, 503, "shutting_down", "the server is shutting down and takes no new work; "
                                     "retry on another instance", {"Retry-After": "1"})(scope, receive, send_with_id)
                return
            if self.api_keys and scope["path"] not in PUBLIC_PATHS and not self._authorized(headers):
                await error_response(scope, 401, "unauthorized", "missing or invalid bearer token",
                                     {"WWW-Authenticate": "Bearer"})(scope, receive, send_with_id)
                return
            if scope["method"] in _BODY_METHODS:
                body = await self._read_body(headers, receive)
                if body is None:
                    await error_response(scope, 413, "body_too_large",
                                         f"request body is larger than {self.max_body_bytes} bytes"
                                         )(scope, receive, send_with_id)
                    return
                receive = _replay(body, receive)
            await self.app(scope, receive, send_with_id)
        except _ClientGone:
            response["status"] = 499  # nginx's "client closed request": nothing is sent, nothing computed
        except Exception:
            # Logged with the request id for operators; the client only learns the id, never the exception.
            logger.exception("%s %s failed (request id %s)", scope["method"], scope["path"], request_id)
            if not response["started"]:
                await error_response(scope, 500, "internal_error", f"internal error (request id {request_id})"
                                     )(scope, receive, send_with_id)
        finally:
            if counted:
                self.drain.in_flight -= 1
            self.metrics.observe_request(scope["method"], _route_template(scope), int(response["status"]),
                                         time.perf_counter() - start)

    def _authorized(self, headers: Headers) -> bool:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        given = token.strip().encode()
        # Compare with every key (constant time each) so timing does not reveal which prefix matched.
        return any([hmac.compare_digest(given, key) for key in self.api_keys])

    async def _read_body(self, headers: Headers, receive: Receive) -> bytes | None:
        """The whole body, or None when it is over the limit (checked before reading when declared)."""
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


class _ClientGone(Exception):
    """The client disconnected before its request body arrived."""


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive() that gives the already-read body once, then the client's later messages (disconnect)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
