"""`callinkit serve`: parse the flags (generated from ServerSettings), check the bundles, run uvicorn."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from callinkit.bundle import read_manifest
from callinkit.errors import CallinkitError
from callinkit.serve.http.settings import ServerSettings, add_arguments, settings_from_args
from callinkit.serve.runtime import default_bundle, resolve_bundle

EPILOG = """\
every flag can also be set by its CALLINKIT_* environment variable; flags win.
examples:
  callinkit serve --classifier-bundle bundles/quickstart
  CALLINKIT_API_KEYS=secret1,secret2 callinkit serve --host 0.0.0.0 --port 8080 --workers 2
then open http://127.0.0.1:8000/ (demo) or /docs (API reference).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callinkit serve", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Serve the classifier and the rewriter (the shipped ones unless you pass bundles) over HTTP: "
                    "the /v1 JSON API, KServe v2 routes, Prometheus /metrics and a demo page at /.")
    add_arguments(parser)
    return parser


def check_bundles(settings: ServerSettings) -> None:
    """Read the bundles' manifests now, so a wrong path fails at the command line rather than in the
    server's background loading. Raises BundleError / CallinkitError."""
    read_manifest(resolve_bundle("classifier", settings.classifier_bundle), kind="classifier")
    if settings.rewriter_bundle is not None:
        try:
            from callinkit.serve import Rewriter  # noqa: F401
        except ImportError:
            raise CallinkitError("--rewriter-bundle needs callinkit.serve.Rewriter, which this install does "
                                 "not have yet") from None
        read_manifest(settings.rewriter_bundle, kind="rewriter")


def with_default_rewriter(settings: ServerSettings) -> ServerSettings:
    """Serve the default rewriter ($CALLINKIT_REWRITER_BUNDLE or the shipped one) unless a bundle is given;
    `--rewriter-bundle none` serves the classifier alone."""
    if settings.rewriter_bundle is None:
        found = default_bundle("rewriter")
        return settings.model_copy(update={"rewriter_bundle": found}) if found is not None else settings
    if str(settings.rewriter_bundle).lower() == "none":
        return settings.model_copy(update={"rewriter_bundle": None})
    return settings


def main(argv: list[str]) -> int:
    """Run the server until interrupted. Raises ConfigError for bad options, BundleError for bad bundles."""
    args = build_parser().parse_args(argv)
    settings = with_default_rewriter(settings_from_args(vars(args)))
    check_bundles(settings)
    _configure_logging(settings)
    if settings.workers == 1:
        from callinkit.serve.http.app import create_app

        return run_server(create_app(settings), settings)
    import uvicorn

    from callinkit.serve.http.metrics import multiprocess_folder

    # Each worker process builds its own app from the environment: pass every setting through it.
    os.environ.update(settings.to_env())
    with multiprocess_folder():  # before the workers start: /metrics then sums over all of them
        uvicorn.run("callinkit.serve.http.app:create_app", factory=True, workers=settings.workers,
                    **_uvicorn_options(settings))
    return 0


def _configure_logging(settings: ServerSettings) -> None:
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _uvicorn_options(settings: ServerSettings) -> dict[str, Any]:
    return {"host": settings.host, "port": settings.port, "log_level": settings.log_level,
            "timeout_graceful_shutdown": settings.drain_timeout_s}


def run_server(app: Any, settings: ServerSettings) -> int:
    """Serve `app` (from create_app) until SIGTERM has drained it or Ctrl-C stops it; 0 either way. A drain
    that timed out leaves model calls running in threads: the process then exits without waiting for them."""
    import uvicorn

    from callinkit.serve.http.drain import DrainingServer

    _configure_logging(settings)
    server = DrainingServer(uvicorn.Config(app, **_uvicorn_options(settings)), app.state.drain,
                            settings.drain_timeout_s)
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its graceful shutdown
        pass
    if server.timed_out:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0
