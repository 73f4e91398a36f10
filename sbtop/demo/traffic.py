"""StudyBuddy's traffic, simulated: its routes, their latency and their error mix.

Request counts and error decisions use accumulators rather than dice, so a knob set to 3 % 5xx
gives exactly 3 % of requests as 5xx: tests can assert levels without flakiness. Latencies are
drawn from per-route log-normal distributions (seeded), or fixed when `fixed_latency_ms` is set.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    median_ms: float
    sigma: float  # spread of the log-normal latency
    weight: float  # share of traffic
    client_errors: tuple[tuple[str, float], ...] = ()  # (status, share) of 4xx answers
    ok_status: str = "200"
    optimized: bool = False  # rewritten by the performance fixes (friends, messages)


# StudyBuddy's API, with the shape of a small Express app on Prisma: reads are quick, the
# leaderboard and analytics aggregate, login hashes a password.
ROUTES: tuple[Route, ...] = (
    Route("POST", "/api/auth/login", 120, 0.35, 4, (("401", 0.06), ("429", 0.01))),
    Route("GET", "/api/auth/me", 15, 0.4, 10, (("401", 0.02),)),
    Route("GET", "/api/tasks", 35, 0.5, 18),
    Route("POST", "/api/tasks", 45, 0.45, 6, (("400", 0.03),), "201"),
    Route("PUT", "/api/tasks/:id", 40, 0.45, 5, (("404", 0.02), ("400", 0.01))),
    Route("DELETE", "/api/tasks/:id", 30, 0.4, 2, (("404", 0.03),), "204"),
    Route("GET", "/api/friends/list", 60, 0.6, 9, optimized=True),
    Route("POST", "/api/friends/request", 50, 0.5, 2, (("409", 0.08), ("404", 0.02)), "201"),
    Route("GET", "/api/messages/:conversationId", 55, 0.55, 14, (("403", 0.01),),
          optimized=True),
    Route("POST", "/api/messages", 40, 0.45, 8, (("400", 0.01),), "201", optimized=True),
    Route("GET", "/api/leaderboard", 140, 0.5, 5),
    Route("GET", "/api/analytics/dashboard", 220, 0.55, 3),
    Route("GET", "/api/health", 4, 0.3, 4),
)

# Finer than prom-client's defaults around the runbook's 500 ms and 1 s thresholds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0)


@dataclass(slots=True)
class Knobs:
    """What tests and the demo turn to push the backend over the runbook's thresholds."""

    rps: float = 40.0
    latency_scale: float = 1.0  # multiplies every route's latency
    fixed_latency_ms: float | None = None  # every request takes exactly this long
    error_rate: float = 0.002  # share of requests answered 5xx
    client_error_scale: float = 1.0  # multiplies the routes' 4xx shares
    sockets: float = 150.0
    messages_per_socket_s: float = 0.2
    memory_mb: float = 180.0
    memory_limit_mb: float = 512.0
    # A leak: resident memory grows this much an hour of traffic, from memory_mb, until the
    # process restarts (the memory-leak scenario).
    memory_leak_mb_per_h: float = 0.0
    event_loop_lag_ms: float = 3.0
    health_status: int = 200  # what /api/health answers
    health_delay_s: float = 0.0  # how long /api/health takes to answer
    metrics_delay_s: float = 0.0  # how long /metrics takes to answer
    metrics_status: int = 200
    # The runbook's feature flag: the share of requests on the optimized routes that take the
    # optimized path, and the step from which that path regresses (0: it never does).
    canary_percent: float = 0.0
    canary_regresses_at: float = 0.0
    # Render's status page (demo/status_pages.py): 0 operational, 1 degraded with an
    # incident, 2 a major outage. Only the page says so: the traffic is its own knobs'.
    render_incident: int = 0
    # How much slower the optimized path is at every step below `canary_regresses_at`
    # (0: it is faster, the fix works). The bad canary's slow cohort: at 5 % the whole
    # service hardly moves, the canary cohort against the stable one shows it.
    canary_slowdown: float = 0.0

    def update(self, values: dict[str, object]) -> list[str]:
        """Set knobs from a JSON object; returns the names it did not know or could not set."""
        bad = []
        for key, value in values.items():
            if key not in Knobs.__dataclass_fields__:
                bad.append(key)
                continue
            current = getattr(self, key)
            if value is None and key == "fixed_latency_ms":
                self.fixed_latency_ms = None
            elif isinstance(value, bool) or not isinstance(value, int | float):
                bad.append(key)
            elif isinstance(current, int) and not isinstance(current, bool):
                setattr(self, key, int(value))
            else:
                setattr(self, key, float(value))
        return bad

    def as_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in Knobs.__dataclass_fields__}


@dataclass(slots=True)
class Request:
    method: str
    route: str
    status: str
    seconds: float
    # The runbook's flag, decided per request and put on the metrics as the cohort label.
    variant: str = "baseline"


@dataclass
class TrafficModel:
    """Turns elapsed time into requests. Not thread-safe: the backend holds its lock."""

    knobs: Knobs
    routes: tuple[Route, ...] = ROUTES
    seed: int = 7
    _rng: random.Random = field(init=False)
    _due: float = field(default=0.0, init=False)
    _error_due: float = field(default=0.0, init=False)
    _client_due: dict[str, float] = field(default_factory=dict, init=False)
    _weights: list[float] = field(init=False)
    # The flag's draw for requests off the optimized routes: its own generator, so the main
    # one draws exactly what it always did (the demo's figures stay as they were).
    _variant_rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._variant_rng = random.Random(self.seed + 1)
        self._weights = [r.weight for r in self.routes]
        # Start every error accumulator at a seeded phase, so a fresh backend does not wait
        # hundreds of requests for its first error, yet shares stay exact over time.
        self._error_due = self._rng.random()
        self._client_due = {r.path + code: self._rng.random()
                            for r in self.routes for code, _share in r.client_errors}

    def advance(self, seconds: float) -> Iterator[Request]:
        """The requests served during the next `seconds`."""
        self._due += self.knobs.rps * seconds
        n = int(self._due)
        self._due -= n
        if n <= 0:
            return
        chosen = self._rng.choices(self.routes, weights=self._weights, k=n)
        for route in chosen:
            yield self._serve(route)

    def _serve(self, route: Route) -> Request:
        k = self.knobs
        status = route.ok_status
        scale = k.latency_scale
        fails = False
        variant = "baseline"
        if route.optimized and k.canary_percent > 0 and (
                self._rng.random() * 100 < k.canary_percent):
            variant = "optimized"
            if k.canary_regresses_at and k.canary_percent >= k.canary_regresses_at:
                scale *= 4.0  # the bad canary: the new code path is slower and fails
                fails = self._rng.random() < 0.25
            elif k.canary_slowdown > 0:
                scale *= k.canary_slowdown
            else:
                scale *= 0.55  # the fix works: fewer queries, faster answers
        elif not route.optimized and k.canary_percent > 0 and (
                self._variant_rng.random() * 100 < k.canary_percent):
            variant = "optimized"  # the flag is drawn per request; this route has one path
        self._error_due += k.error_rate
        if fails:
            status = "500"
        elif self._error_due >= 1.0:
            self._error_due -= 1.0
            status = "503" if self._rng.random() < 0.2 else "500"
        else:
            for code, share in route.client_errors:
                key = route.path + code
                due = self._client_due.get(key, 0.0) + share * k.client_error_scale
                if due >= 1.0:
                    self._client_due[key] = due - 1.0
                    status = code
                    break
                self._client_due[key] = due
        if k.fixed_latency_ms is not None:
            seconds = k.fixed_latency_ms / 1000.0
        else:
            ms = route.median_ms * math.exp(self._rng.gauss(0.0, route.sigma)) * scale
            seconds = ms / 1000.0
        return Request(route.method, route.path, status, seconds, variant)


def synthetic_routes(count: int) -> tuple[Route, ...]:
    """StudyBuddy's routes plus `count` more, for pages the size of a large service's."""
    extra = tuple(
        Route(("GET", "POST", "PUT")[i % 3], f"/api/extra/{i}", 20 + (i * 7) % 200, 0.5, 1,
              (("404", 0.02), ("400", 0.02)))
        for i in range(count)
    )
    return ROUTES + extra
