"""What the engine needs to know: metric names, thresholds, alert rules, window. Plain data.

sbtop.config builds these from the TOML file; tests build them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sbtop.engine.keys import Fig
from sbtop.engine.levels import Level, Threshold
from sbtop.engine.slo import SloSettings

# Every figure sbtop can judge, in display order, with its unit.
FIGURE_UNITS: dict[str, str] = {
    Fig.LATENCY_P50_MS: "ms",
    Fig.LATENCY_P95_MS: "ms",
    Fig.LATENCY_P99_MS: "ms",
    # Burn rates, in multiples of the error budget (shown only with an [slo]).
    Fig.LATENCY_BURN_RATE_5M: "x",
    Fig.LATENCY_BURN_RATE_30M: "x",
    Fig.LATENCY_BURN_RATE_1H: "x",
    Fig.LATENCY_BURN_RATE_6H: "x",
    Fig.REQUESTS_PER_S: "/s",
    Fig.ERROR_RATE_5XX_PCT: "%",
    Fig.ERROR_RATE_4XX_PCT: "%",
    Fig.BURN_RATE_5M: "x",
    Fig.BURN_RATE_30M: "x",
    Fig.BURN_RATE_1H: "x",
    Fig.BURN_RATE_6H: "x",
    Fig.SOCKET_CONNECTIONS: "",
    Fig.SOCKET_MESSAGES_PER_S: "/s",
    Fig.MEMORY_PCT: "%",
    Fig.EVENT_LOOP_LAG_MS: "ms",
    Fig.DB_CONNECTIONS_PCT: "%",
    Fig.DB_POOL_PCT: "%",
    Fig.DB_SESSIONS: "",
    Fig.HEALTH: "",
    Fig.CANARY_P95_VS_STABLE_PCT: "%",
    Fig.CANARY_5XX_VS_STABLE_PTS: "pts",
    Fig.MEMORY_GROWTH_MB_PER_H: "MB/h",
    Fig.SOCKET_GROWTH_PER_H: "/h",
}

# The runbook's table of key metrics to watch.
RUNBOOK_THRESHOLDS: dict[str, Threshold] = {
    Fig.LATENCY_P95_MS: Threshold(warning=500, critical=1000),
    Fig.ERROR_RATE_5XX_PCT: Threshold(warning=1, critical=5),
    Fig.DB_CONNECTIONS_PCT: Threshold(warning=80, critical=95),
    # The runbook's "check database connection pool usage", judged like the connections.
    Fig.DB_POOL_PCT: Threshold(warning=80, critical=95),
    Fig.MEMORY_PCT: Threshold(warning=80, critical=95),
    Fig.SOCKET_CONNECTIONS: Threshold(warning=1000, critical=2000),
}


@dataclass(frozen=True, slots=True)
class MetricNames:
    """Where each figure comes from; the defaults fit prom-client, express-prom-bundle and the
    runbook's own PromQL."""

    latency_histogram: str = "http_request_duration_seconds"
    # A counter with a status label; when absent, the histogram's _count serves.
    requests_counter: str = "http_requests_total"
    status_labels: tuple[str, ...] = ("status", "status_code", "code")
    route_labels: tuple[str, ...] = ("route", "path", "handler")
    method_labels: tuple[str, ...] = ("method",)
    # The first of these present on the page is used; empty turns the figure off.
    socket_gauges: tuple[str, ...] = ("active_websocket_connections", "socket_io_connected")
    message_counters: tuple[str, ...] = (
        "websocket_messages_total",
        "socket_io_events_received_total",
        "socket_io_events_received",
    )
    memory_rss: str = "process_resident_memory_bytes"
    event_loop_lag: str = "nodejs_eventloop_lag_seconds"
    # A change of the process start time means every counter restarted from zero.
    process_start: str = "process_start_time_seconds"


@dataclass(frozen=True, slots=True)
class HealthFields:
    """Dotted paths into the health JSON, used when /metrics lacks a figure."""

    rss: str = "memory.rss"
    memory_limit: str = "memory.limit"


@dataclass(frozen=True, slots=True)
class AlertRule:
    """A Prometheus-style alerting rule on one figure: `figure op value` held for `for_s`."""

    name: str
    figure: str
    op: str  # ">", ">=", "<", "<="
    value: float
    for_s: float = 0.0
    severity: Level = Level.WARNING
    summary: str = ""

    def holds(self, x: float) -> bool:
        if self.op == ">":
            return x > self.value
        if self.op == ">=":
            return x >= self.value
        if self.op == "<":
            return x < self.value
        return x <= self.value


RUNBOOK_ALERTS: tuple[AlertRule, ...] = (
    AlertRule("HighLatency", Fig.LATENCY_P95_MS, ">", 500, 300, Level.WARNING,
              "High p95 latency detected"),
    AlertRule("HighErrorRate", Fig.ERROR_RATE_5XX_PCT, ">", 1, 300, Level.CRITICAL,
              "Error rate above 1%"),
)


@dataclass(frozen=True, slots=True)
class CohortSettings:
    """The cohort label the app puts on its histogram and counter, and how the canary cohort
    is judged against the stable one (sbtop.engine.cohorts)."""

    label: str = "variant"
    canary: str = "optimized"
    stable: str = "baseline"
    # Fewer canary (or stable) requests in the window than this: "waiting", never a pass.
    min_canary_requests: int = 100
    # A one-sided test under this p-value is a significant difference.
    alpha: float = 0.01
    # The effect a significant difference must exceed to fail: a tiny slowdown that huge
    # traffic makes significant does not block a step.
    max_p95_over_stable_pct: float = 10.0
    max_5xx_over_stable_pts: float = 0.5


@dataclass(frozen=True, slots=True)
class TrendSettings:
    """The trend figures (sbtop.engine.trends): the span fitted, the least span before a
    slope is said, and how long a restart's effects are watched and then said."""

    window_s: float = 1800.0
    min_span_s: float = 600.0
    bucket_s: float = 60.0  # one median a bucket: the fit is made once a bucket
    after_restart_s: float = 120.0  # the reconnect storm and pool spike are read this long
    note_for_s: float = 600.0  # and said this long after the restart
    # Resident memory falling by this share between two readings is a restart, when no
    # process start time says so (Prometheus, a health JSON).
    restart_drop: float = 0.3
    horizon_s: float = 7 * 86400.0  # a limit further away than this is no warning


@dataclass(frozen=True, slots=True)
class EngineSettings:
    window_s: float = 60.0
    # Fewer requests than this in the window make latency and error figures unknown.
    min_requests: int = 10
    # A route needs this many requests in the window for its own p95 and error ratio.
    min_route_requests: int = 5
    top_routes: int = 5
    memory_limit_bytes: float | None = None
    # The application's pool (Prisma connection_limit x instances), when configured.
    db_pool_size: int | None = None
    names: MetricNames = field(default_factory=MetricNames)
    health_fields: HealthFields = field(default_factory=HealthFields)
    thresholds: dict[str, Threshold] = field(default_factory=lambda: dict(RUNBOOK_THRESHOLDS))
    alerts: tuple[AlertRule, ...] = RUNBOOK_ALERTS
    # Series missing from this many consecutive scrapes are forgotten (bounded memory).
    forget_after_scrapes: int = 600
    # A statement called this many times per HTTP request (or more) is hinted as N+1.
    n_plus_one_calls_per_request: float = 5.0
    # The error-budget SLOs ([slo]); none watched by default.
    slo: SloSettings = field(default_factory=SloSettings)
    # The canary cohort against the stable one; None: no cohort label configured.
    cohorts: CohortSettings | None = None
    trends: TrendSettings = field(default_factory=TrendSettings)
