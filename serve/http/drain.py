"""Graceful drain on SIGTERM: stop taking work, finish what is in flight, then exit 0.

When an orchestrator stops a server it sends SIGTERM, then SIGKILL after a grace period. On SIGTERM this
server keeps its socket open but answers 503 `shutting_down` to new work and to the readiness probes (so a
load balancer moves traffic away), lets the requests already in flight finish, and exits 0 once none is
left or `drain_timeout_s` has passed (the stragglers are then cut off). A second SIGTERM, or Ctrl-C, stops at
once as uvicorn does.

With `--workers N`, uvicorn's supervisor passes SIGTERM on to every worker, and each worker runs the same
`DrainingServer` (see `DrainingWorker`), so each drains as a single server does. In a worker a repeated
SIGTERM does not cut the drain short: a process-group kill (systemd's default) reaches a worker both
directly and through the supervisor. Ctrl-C still stops at once.
"""

from __future__ import annotations

import logging
import signal
import socket
import time
from types import FrameType

import uvicorn
from uvicorn.supervisors.multiprocess import Process

logger = logging.getLogger("callinkit.serve.http")


class DrainState:
    """Shared by the request middleware (which counts requests and refuses new work while draining), the
    server (which starts the drain and exits when nothing is in flight) and the app's shutdown (which records
    model batches still computing, so that the process exits without waiting for them)."""

    def __init__(self) -> None:
        self.draining = False
        self.in_flight = 0
        self.abandoned_texts = 0  # texts of model batches still computing after the models were closed


class DrainingServer(uvicorn.Server):
    """uvicorn's server with the drain described in the module docstring. `repeated_sigterm_stops=False` (in
    `--workers` processes) makes a SIGTERM during the drain a no-op instead of an immediate stop."""

    def __init__(self, config: uvicorn.Config, drain: DrainState, drain_timeout_s: float, *,
                 repeated_sigterm_stops: bool = True) -> None:
        super().__init__(config)
        self.drain = drain
        self.drain_timeout_s = drain_timeout_s
        self.repeated_sigterm_stops = repeated_sigterm_stops
        self.deadline: float | None = None
        self.timed_out = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and not self.should_exit:
            if self.deadline is None:
                self.deadline = time.monotonic() + self.drain_timeout_s
                self.drain.draining = True
                logger.info("SIGTERM: draining %d request(s) in flight (at most %.0f s); new work gets 503",
                            self.drain.in_flight, self.drain_timeout_s)
                # Not recorded as a captured signal: uvicorn would re-raise it after shutting down, and the
                # process would end killed by SIGTERM instead of exiting 0.
                return
            if not self.repeated_sigterm_stops:
                logger.info("SIGTERM again: still draining %d request(s)", self.drain.in_flight)
                return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self.deadline is not None and not self.should_exit:
            if self.drain.in_flight == 0:
                logger.info("drained: no request in flight; shutting down")
                self.should_exit = True
            elif time.monotonic() >= self.deadline:
                logger.warning("drain timeout (%.0f s): cutting off %d request(s) still in flight",
                               self.drain_timeout_s, self.drain.in_flight)
                self.timed_out = True
                self.config.timeout_graceful_shutdown = 0  # uvicorn cancels them rather than waiting again
                self.should_exit = True
        return await super().on_tick(counter)


class DrainingWorker(Process):
    """One process of `callinkit serve --workers N`: uvicorn's worker, serving an app built from the CALLINKIT_*
    environment (which the supervisor set) with a `DrainingServer`. Created in the supervisor, run in the
    spawned child (`target`)."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:
        from callinkit.serve.http.command import exit_if_cut_off, worker_server

        # Built before uvicorn starts the health-check thread, which would otherwise build a plain Server.
        self._server = server = worker_server()
        super().target(sockets)
        exit_if_cut_off(server)
