"""`callinkit serve`: parse the flags (generated from ServerSettings), check the bundles, run uvicorn."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from callinkit.bundle import read_manifest
from callinkit.errors import CallinkitError
from callinkit.serve.http.settings import ServerSettings, add_arguments, settings_from_args
from callinkit.serve.runtime import default_bundle, resolve_bundle

if TYPE_CHECKING:
    from callinkit.serve.http.drain import DrainingServer

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
    for name in ("rewriter_min_logprob", "rewriter_min_logprob_tail"):
        if settings.rewriter_bundle is None and getattr(settings, name) is not None:
            raise CallinkitError(f"--{name.replace('_', '-')} sets the rewriter's floor, but this server has no "
                                 "rewriter")
    if settings.rewriter_bundle is not None:
        try:
            from callinkit.serve import Rewriter  # noqa: F401
        except ImportError:
            raise CallinkitError("--rewriter-bundle needs callinkit.serve.Rewriter, which this install does "
                                 "not have yet") from None
        from callinkit.serve.rewriter import bundle_architecture

        bundle_architecture(settings.rewriter_bundle, {"min_logprob": settings.rewriter_min_logprob,
                                                       "min_logprob_tail": settings.rewriter_min_logprob_tail})


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
    from callinkit.serve.http.metrics import multiprocess_folder

    with multiprocess_folder():  # before the workers start: /metrics then sums over all of them
        return run_workers(settings)


def _configure_logging(settings: ServerSettings) -> None:
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s")


def _uvicorn_options(settings: ServerSettings) -> dict[str, Any]:
    return {"host": settings.host, "port": settings.port, "log_level": settings.log_level,
            "timeout_graceful_shutdown": settings.drain_timeout_s}


def build_server(app: Any, settings: ServerSettings, *, in_worker: bool = False) -> DrainingServer:
    """The uvicorn server that runs `app` (from create_app) and drains it on SIGTERM."""
    import uvicorn

    from callinkit.serve.http.drain import DrainingServer

    return DrainingServer(uvicorn.Config(app, **_uvicorn_options(settings)), app.state.drain,
                          settings.drain_timeout_s, drain_quiet_s=settings.drain_quiet_s,
                          repeated_sigterm_stops=not in_worker)


def run_server(app: Any, settings: ServerSettings) -> int:
    """Serve `app` (from create_app) until SIGTERM has drained it or Ctrl-C stops it; 0 either way."""
    _configure_logging(settings)
    server = build_server(app, settings)
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its graceful shutdown
        pass
    exit_if_cut_off(server)
    return 0


def exit_if_cut_off(server: DrainingServer) -> None:
    """After a drain that timed out, or a shutdown that left a model batch computing, exit 0 now: the interpreter
    would wait at exit for the model threads, however long past --drain-timeout-s they take. A batch left
    computing after a complete drain has nobody waiting for it (its callers' deadlines passed, or they left)."""
    if server.timed_out or server.drain.abandoned_texts:
        if not server.timed_out:
            logging.getLogger("callinkit.serve.http").info(
                "exiting without waiting for a model batch of %d text(s) still computing (no request waits for it)",
                server.drain.abandoned_texts)
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def worker_server() -> DrainingServer:
    """In a `--workers` process: the app and its draining server, from the CALLINKIT_* environment."""
    from callinkit.serve.http.app import create_app

    settings = ServerSettings()
    _configure_logging(settings)
    return build_server(create_app(settings), settings, in_worker=True)


def run_workers(settings: ServerSettings) -> int:
    """`--workers N`: uvicorn's supervisor with N `DrainingWorker` processes on one socket. SIGTERM (or Ctrl-C)
    to the supervisor reaches every worker, and each drains as a single server does. Returns 0 when every
    worker exited 0, else 1."""
    from uvicorn import Config
    from uvicorn.supervisors import multiprocess

    from callinkit.serve.http.drain import DrainingWorker

    os.environ.update(settings.to_env())  # each worker rebuilds the settings from the environment
    config = Config("callinkit.serve.http.app:create_app", factory=True, workers=settings.workers,
                    **_uvicorn_options(settings))
    sock = config.bind_socket()
    # uvicorn's supervisor has no option for its workers' class: it builds `Process(config, sockets)` from its
    # module's global when it starts a worker, replaces a dead one, and on SIGHUP / SIGTTIN. Substituted for the
    # supervisor's life so that every worker drains (uvicorn is pinned to the versions with this shape).
    plain = multiprocess.Process
    multiprocess.Process = DrainingWorker
    try:
        supervisor = multiprocess.Multiprocess(config, sockets=[sock])
        supervisor.run()
    finally:
        multiprocess.Process = plain
        sock.close()
    failed = {p.pid: p.exitcode for p in supervisor.processes if p.exitcode != 0}
    if failed:
        logging.getLogger("callinkit.serve.http").error("worker(s) exited with an error: %s", failed)
        return 1
    return 0
