"""Graceful drain on SIGTERM: stop taking work, finish what is in flight, then exit 0.

When an orchestrator stops a server it sends SIGTERM, then SIGKILL after a grace period. On SIGTERM this
server keeps its socket open but answers 503 `shutting_down` to new work and to the readiness probes (so a
load balancer moves traffic away), lets the requests already in flight finish, and exits 0 once none is
left or `drain_timeout_s` has passed (the stragglers are then cut off). A second SIGTERM, or Ctrl-C, stops at
once as uvicorn does.

"None left" counts more than the requests the app is working on: a request whose bytes have reached the
server but not yet its app (in the kernel's socket buffer while the event loop was busy, or in h11's buffer)
would otherwise be cut off with a reset when the connections close. So the server counts a connection with
such bytes or a response in progress as work in flight, and once none is left it still answers (503
`shutting_down`) for `drain_quiet_s`, exiting at the first moment after that with nothing in flight: requests
already on their way when the work ran out (a client that wrote to a kept-alive connection just before
SIGTERM, on a machine too busy to deliver it at once) get an answer instead of a reset. Every response sent
while draining carries `Connection: close` (see the middleware), so clients stop reusing kept-alive
connections.

With `--workers N`, uvicorn's supervisor passes SIGTERM on to every worker, and each worker runs the same
`DrainingServer` (see `DrainingWorker`), so each drains as a single server does. In a worker a repeated
SIGTERM does not cut the drain short: a process-group kill (systemd's default) reaches a worker both
directly and through the supervisor. Ctrl-C still stops at once.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
import time
from types import FrameType
from typing import Any

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


def unread_bytes(sock: Any) -> int:
    """Bytes received on `sock` that nobody has read yet (FIONREAD); 0 where the platform cannot tell."""
    try:
        import fcntl
        import termios

        return int.from_bytes(fcntl.ioctl(sock.fileno(), termios.FIONREAD, bytes(4)), sys.byteorder)
    except (ImportError, OSError, ValueError, AttributeError):
        return 0


def connection_has_work(protocol: Any) -> bool:
    """Whether a uvicorn connection (its HTTP protocol object) is answering a request, or holds bytes of one
    that the app has not seen yet: in h11's buffer, or unread in the kernel's."""
    transport = getattr(protocol, "transport", None)
    if transport is None or transport.is_closing():
        return False
    cycle = getattr(protocol, "cycle", None)
    if cycle is not None and not getattr(cycle, "response_complete", True):
        return True
    trailing = getattr(getattr(protocol, "conn", None), "trailing_data", None)  # h11.Connection
    if isinstance(trailing, tuple) and trailing and trailing[0]:
        return True
    sock = transport.get_extra_info("socket")
    return sock is not None and unread_bytes(sock) > 0


class DrainingServer(uvicorn.Server):
    """uvicorn's server with the drain described in the module docstring. `repeated_sigterm_stops=False` (in
    `--workers` processes) makes a SIGTERM during the drain a no-op instead of an immediate stop."""

    def __init__(self, config: uvicorn.Config, drain: DrainState, drain_timeout_s: float, *,
                 drain_quiet_s: float = 0.5, repeated_sigterm_stops: bool = True) -> None:
        super().__init__(config)
        self.drain = drain
        self.drain_timeout_s = drain_timeout_s
        self.drain_quiet_s = drain_quiet_s
        self.quiet_since: float | None = None  # while draining: when nothing was first left in flight
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
            now = time.monotonic()
            idle = not self.drain.in_flight and not any(connection_has_work(c)
                                                         for c in list(self.server_state.connections))
            if idle and self.quiet_since is None:
                self.quiet_since = now  # all the work taken before SIGTERM is done; linger for latecomers
            if idle and (now - self.quiet_since >= self.drain_quiet_s or now >= self.deadline):
                logger.info("drained: no request in flight; shutting down")
                self.should_exit = True
            elif now >= self.deadline:
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
