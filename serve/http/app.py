"""`create_app(settings)`: the FastAPI app that serves the classifier and rewriter over HTTP.

Models load in the lifespan hook, in a background thread, so /healthz answers at once and /readyz turns
200 when they are loaded. Embedding the app in another ASGI app? Mounted sub-apps get no lifespan events:
run `app.router.lifespan_context(app)` from the host app's own lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from callinkit import __version__
from callinkit.serve.http import routes_v1, v2
from callinkit.serve.http.drain import DrainState
from callinkit.serve.http.errors import ApiError, ErrorResponse, install_error_handlers
from callinkit.serve.http.metrics import ServerMetrics
from callinkit.serve.http.middleware import REQUEST_ID_HEADER, RequestMiddleware
from callinkit.serve.http.models import ClassifierLoader, RewriterLoader, ServedModels
from callinkit.serve.http.schemas import Health, Readiness
from callinkit.serve.http.settings import ServerSettings

STATIC_DIR = Path(__file__).parent / "static"


def _description(settings: ServerSettings) -> str:
    auth = "`Authorization: Bearer <token>` on every route but the health checks" if settings.api_keys \
        else "none"
    return (
        "Classify messages as **call_out**, **call_in** or **neutral**, and rewrite call-outs as call-ins.\n\n"
        f"Limits: {settings.max_texts} texts per request, {settings.max_chars} characters per text, "
        f"{settings.max_body_bytes} bytes per body, num_candidates <= {settings.max_candidates}, "
        f"max_new_tokens <= {settings.max_new_tokens}. Auth: {auth}.\n\n"
        'Every failure answers `{"error": {"code": ..., "message": ...}}`, except under /v2, where the Open '
        'Inference Protocol\'s `{"error": "<message>"}` carries our code beside it: `{"error": ..., "code": ...}`. '
        "Every response carries "
        f"`{REQUEST_ID_HEADER}` (yours, or a generated one) to quote when reporting a problem."
    )


def create_app(settings: ServerSettings | None = None, *, classifier_loader: ClassifierLoader | None = None,
               rewriter_loader: RewriterLoader | None = None) -> FastAPI:
    """The server app. `settings` default to CALLINKIT_* variables; the loaders replace bundle loading
    (`classifier_loader(settings)`, `rewriter_loader(settings, classifier)`), e.g. to serve models already
    in memory. A rewriter is served when `settings.rewriter_bundle` or `rewriter_loader` is given."""
    settings = settings if settings is not None else ServerSettings()
    metrics = ServerMetrics()
    models = ServedModels(settings, metrics, classifier_loader, rewriter_loader)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.create_task(models.load(), name="callinkit-load-models")
        try:
            yield
        finally:
            loading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loading
            await models.close()
            drain.abandoned_texts = models.abandoned_texts  # the server exits without waiting for them
            metrics.close()

    app = FastAPI(title="callinkit", version=__version__, description=_description(settings), lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.models = models
    app.state.drain = drain = DrainState()  # DrainingServer (callinkit serve) starts it on SIGTERM
    install_error_handlers(app)
    app.include_router(routes_v1.router)
    app.include_router(v2.router)
    _add_service_routes(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    app.add_middleware(RequestMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes,
                       api_keys=[k.get_secret_value() for k in settings.api_keys], drain=drain)
    if settings.cors_origins:  # added last, so it runs first: preflights are answered before auth
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", REQUEST_ID_HEADER],
                           expose_headers=[REQUEST_ID_HEADER, "Retry-After"])
    return app


def _add_service_routes(app: FastAPI) -> None:
    @app.get("/healthz", response_model=Health, tags=["service"], summary="The process is up")
    async def healthz() -> Health:
        return Health()

    @app.get("/readyz", response_model=Readiness, tags=["service"], summary="Every configured model is loaded",
             responses={503: {"model": ErrorResponse, "description": "still loading, or a model failed"}})
    async def readyz(request: Request) -> Readiness:
        models: ServedModels = request.app.state.models
        if not models.ready:
            raise ApiError(503, "not_ready", "models: " + ", ".join(f"{k} {v}" for k, v in models.status.items()))
        return Readiness(ready=True, models=dict(models.status))

    @app.get("/metrics", tags=["service"], summary="Prometheus metrics",
             response_class=Response, responses={200: {"content": {"text/plain": {}}}})
    async def prometheus(request: Request) -> Response:
        metrics: ServerMetrics = request.app.state.metrics
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.get("/", include_in_schema=False)
    async def demo_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")
