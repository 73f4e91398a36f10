"""The simulated StudyBuddy backend: a real HTTP server on loopback.

It serves `/metrics` from a prometheus_client registry shaped like a prom-client Node service,
`/api/health` with the JSON an Express health route gives, Render's API and StudyBuddy's own
routes, the providers' status pages (Statuspage's summary.json), and a small control endpoint
for its knobs (the routes: server.py).

Traffic is simulated lazily: each scrape (and each knob change) first catches up on the time
that passed, so counters grow with real time without a thread waking up ten times a second.
Tests that want exact control pass `background=False` and call `advance()`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sbtop.demo import status_pages
from sbtop.demo.app_api import StudyBuddyApi
from sbtop.demo.exposition import text_page
from sbtop.demo.render_api import RenderControlPlane
from sbtop.demo.server import Server, handler_for
from sbtop.demo.traffic import ROUTES, Knobs, Route, TrafficModel

if TYPE_CHECKING:
    from sbtop.demo.instruments import Instruments


class SimulatedBackend:
    """A StudyBuddy look-alike. Use as a context manager, or start() / stop()."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, knobs: Knobs | None = None,
                 routes: tuple[Route, ...] = ROUTES, seed: int = 7,
                 background: bool = True) -> None:
        self.knobs = knobs or Knobs()
        self.routes = routes
        self.background = background
        self._caught_up = time.monotonic()
        self._lock = threading.Lock()
        self._model = TrafficModel(self.knobs, routes, seed)
        self._started = time.time()
        self.created_wall = self._started  # the providers' incidents are dated from it
        # Made at the first request or knob (prometheus_client and its registry: some 40 ms
        # that `sbtop demo` spent before its first frame, when no scrape had come yet).
        self._instruments: Instruments | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.connections: set[socket.socket] = set()  # open ones: shut on stop
        self.restarts = 0
        self.served = 0
        self.leaked_mb = 0.0  # the leak so far (memory_leak_mb_per_h), gone at a restart
        self._up_s = 0.0  # simulated time since the process started: the reconnect ramp
        # StudyBuddy's own routes, for the post-deployment checklist.
        self.app = StudyBuddyApi()
        # Render's API, shaped as documented, acting on this simulation (under /v1).
        self.render = RenderControlPlane(apply_env=self._apply_env, restart_service=self.restart)
        self._server = Server((host, port), handler_for(self))
        self._server.daemon_threads = True
        address = self._server.server_address
        self.host: str = str(address[0])
        self.port: int = int(address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> SimulatedBackend:
        serve = threading.Thread(target=self._server.serve_forever, name="sbtop-demo-http",
                                 daemon=True)
        serve.start()
        self._threads.append(serve)
        with self._lock:
            self._caught_up = time.monotonic()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._threads:  # shutdown() waits for serve_forever, which must be running
            self._server.shutdown()
        self._server.server_close()
        # Kept-alive connections would go on being answered: a stopped service answers none.
        for conn in list(self.connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for t in self._threads:
            t.join(timeout=5)

    def __enter__(self) -> SimulatedBackend:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- control ------------------------------------------------------------------------------

    def set(self, **values: Any) -> None:
        with self._lock:
            self._catch_up()  # the time before the change ran with the old knobs
            bad = self.knobs.update(values)
        if bad:
            raise ValueError(f"unknown or invalid knobs: {', '.join(bad)}")

    def restart(self) -> None:
        """What a Render restart does to the metrics: a new process, counters from zero."""
        with self._lock:
            self._catch_up()
            self._started = max(time.time(), self._started + 1.0)
            self._instruments = None  # a new process's metrics, made at the next read
            self.restarts += 1
            self.leaked_mb = 0.0
            self._up_s = 0.0

    def _apply_env(self, env: dict[str, str]) -> None:
        """A deploy went live: the service now runs with this environment."""
        try:
            percent = float(env.get("PERF_OPTIMIZATIONS_ENABLED", "0") or 0)
        except ValueError:
            percent = 0.0  # the app's parseInt would give NaN: the flag is off
        self.set(canary_percent=max(0.0, min(100.0, percent)))

    def status_page(self, path: str) -> bytes | None:
        """A provider's Statuspage summary.json at `path` (None: not a demo page's path)."""
        return status_pages.answer(path, self.knobs.render_incident, self.created_wall)

    @property
    def render_url(self) -> str:
        return f"{self.url}/v1"

    def advance(self, seconds: float) -> None:
        """Simulate `seconds` of traffic at once (tests use it with background=False)."""
        with self._lock:
            self._advance(seconds)

    # --- internals ----------------------------------------------------------------------------

    @property
    def _inst(self) -> Instruments:
        """This process's metrics (read and changed under the lock)."""
        if self._instruments is None:
            from sbtop.demo.instruments import Instruments

            self._instruments = Instruments(self._started)
        return self._instruments

    def _catch_up(self) -> None:
        if self.background:
            now = time.monotonic()
            self._advance(now - self._caught_up)
            self._caught_up = now

    def _advance(self, seconds: float) -> None:
        from sbtop.demo.instruments import GC_KINDS, HEAP_SPACES

        inst = self._inst
        k = self.knobs
        for req in self._model.advance(seconds):
            inst.duration.labels(req.method, req.route, req.status, req.variant).observe(
                req.seconds)
            inst.requests.labels(req.method, req.route, req.status, req.variant).inc()
            self.served += 1
        # Sockets and memory wander a little around their knobs, as live ones do; after a
        # restart the clients reconnect over ten seconds (of simulated time: a test that
        # advances by hand sees the same reconnect storm as the demo).
        jitter = self._model._rng.uniform(-1.0, 1.0)
        self._up_s += seconds
        self.leaked_mb += k.memory_leak_mb_per_h * seconds / 3600.0
        back = 1.0 if not self.restarts else min(1.0, self._up_s / 10.0)
        inst.sockets.set(max(0.0, round((k.sockets + jitter * max(1.0, k.sockets * 0.02))
                                        * back)))
        inst.messages.labels("chat:message").inc(max(0.0, k.sockets * k.messages_per_socket_s
                                                      * seconds))
        rss = round((k.memory_mb + self.leaked_mb + jitter * 2.0) * 1024 * 1024)
        inst.rss.set(rss)
        inst.heap_used.set(rss * 0.55)
        inst.heap_total.set(rss * 0.7)
        inst.lag.set(max(0.0, k.event_loop_lag_ms * k.latency_scale / 1000.0))
        inst.cpu.inc(seconds * 0.05)
        inst.handles.set(12 + int(k.sockets))
        inst.gc.labels(GC_KINDS[int(time.monotonic()) % 4]).observe(0.002)
        for space in HEAP_SPACES:
            inst.heap_space.labels(space).set(rss * 0.05)
        inst.db_query.labels("Task", "findMany").observe(0.004 * k.latency_scale)

    def metrics_page(self, openmetrics: bool = False) -> bytes:
        with self._lock:
            self._catch_up()
            registry = self._inst.registry
            if openmetrics:
                from prometheus_client.openmetrics.exposition import generate_latest

                return generate_latest(registry)  # type: ignore[no-untyped-call,no-any-return]
            return text_page(registry)

    def health(self) -> dict[str, Any]:
        with self._lock:
            k = self.knobs
            rss = int((k.memory_mb + self.leaked_mb) * 1024 * 1024)
            return {
                "status": "ok" if 200 <= k.health_status < 300 else "error",
                "uptime": round(time.time() - self._started, 1),
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "memory": {
                    "rss": rss,
                    "heapUsed": int(rss * 0.55),
                    "heapTotal": int(rss * 0.7),
                    "limit": int(k.memory_limit_mb * 1024 * 1024),
                },
                "database": "connected",
                "sockets": int(k.sockets),
            }


@contextmanager
def running(**kwargs: Any) -> Iterator[SimulatedBackend]:
    backend = SimulatedBackend(**kwargs)
    backend.start()
    try:
        yield backend
    finally:
        backend.stop()


def fleet(count: int, host: str = "127.0.0.1", port: int = 0) -> list[SimulatedBackend]:
    """`count` instances of one service, each on its own port (port, port+1, ... or free
    ones). The first serves Render's API; a deploy or restart through it reaches every
    instance, as a Render deploy does. Not started."""
    backends: list[SimulatedBackend] = []
    for i in range(count):
        p = port + i if port else 0
        try:
            backends.append(SimulatedBackend(host, p, seed=7 + i))
        except (OSError, OverflowError, ValueError) as e:
            for b in backends:  # free the ports already taken
                b.stop()
            why = getattr(e, "strerror", None) or str(e)
            raise OSError(f"cannot listen on {host}:{p}: {why}") from None

    def apply_env(env: dict[str, str]) -> None:
        for b in backends:
            b._apply_env(env)

    def restart() -> None:
        for b in backends:
            b.restart()

    backends[0].render.apply_env = apply_env
    backends[0].render.restart_service = restart
    return backends
