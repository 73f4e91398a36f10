"""The configuration's schema: one dataclass per TOML table, the runbook's values as defaults.

These are the file's shape only; sbtop.config.binding fills them from TOML, validation checks
them, and resolve turns one target into what the rest of sbtop runs on."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from sbtop.config.values import join
from sbtop.engine.settings import HealthFields, MetricNames
from sbtop.sources.settings import (
    DEFAULT_MAX_ANSWER_BYTES,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_SAMPLES,
)

# Defaults come from the engine's own types, so the file and the engine cannot disagree.
_NAMES = MetricNames()
_FIELDS = HealthFields()

# Field metadata: "env" marks a key that names an environment variable (checked to be a name,
# not a pasted secret); "toml" a key spelt differently in the file; "duration" a value that may
# be written "5m"; "partial" a table of overrides for some keys of another table.
ENV = {"env": True}


@dataclass
class AuthConfig:
    """How to get past a protected /metrics (and health path)."""

    header: str = ""
    header_env: str = field(default="", metadata=ENV)
    cookie: str = ""
    cookie_env: str = field(default="", metadata=ENV)


@dataclass
class RenderConfig:
    service_id: str = ""
    api_key_env: str = field(default="RENDER_API_KEY", metadata=ENV)
    api_url: str = "https://api.render.com/v1"


@dataclass
class CommandActionsConfig:
    """argv lists (no shell) with {percent}, {service} and {flag} filled in."""

    canary: list[str] = field(default_factory=list)
    restart: list[str] = field(default_factory=list)
    rollback: list[str] = field(default_factory=list)
    read_flag: list[str] = field(default_factory=list)  # prints the flag's value
    timeout_s: float = 300.0


@dataclass
class HttpActionsConfig:
    url: str = field(default="", repr=False)  # may hold a key: never in a repr
    # Or the URL from the environment: a deploy hook's URL is itself the credential.
    url_env: str = field(default="", metadata=ENV)
    method: str = "POST"
    body: str = '{"action": "{action}", "percent": "{percent}", "service": "{service}"}'
    header: str = ""
    header_env: str = field(default="", metadata=ENV)
    timeout_s: float = 30.0


@dataclass
class ActionsConfig:
    # "render", "command", "http"; "" means: render when render.service_id is set, else none.
    provider: str = ""
    command: CommandActionsConfig = field(default_factory=CommandActionsConfig)
    http: HttpActionsConfig = field(default_factory=HttpActionsConfig)


@dataclass
class PrometheusConfig:
    """Read the figures from Prometheus (all instances) instead of scraping one /metrics."""

    url: str = ""
    selector: str = ""  # label matchers added to every metric, e.g. job="studybuddy"
    timeout_s: float = 5.0
    max_answer_mb: float = DEFAULT_MAX_ANSWER_BYTES / 1024 / 1024
    header: str = ""
    header_env: str = field(default="", metadata=ENV)
    basic_user: str = ""
    basic_password_env: str = field(default="", metadata=ENV)


@dataclass
class MetricsConfig:
    latency_histogram: str = _NAMES.latency_histogram
    requests_counter: str = _NAMES.requests_counter
    status_labels: list[str] = field(default_factory=lambda: list(_NAMES.status_labels))
    route_labels: list[str] = field(default_factory=lambda: list(_NAMES.route_labels))
    method_labels: list[str] = field(default_factory=lambda: list(_NAMES.method_labels))
    socket_gauges: list[str] = field(default_factory=lambda: list(_NAMES.socket_gauges))
    message_counters: list[str] = field(
        default_factory=lambda: list(_NAMES.message_counters))
    memory_rss: str = _NAMES.memory_rss
    event_loop_lag: str = _NAMES.event_loop_lag
    process_start: str = _NAMES.process_start


@dataclass
class HealthFieldsConfig:
    rss: str = _FIELDS.rss
    memory_limit: str = _FIELDS.memory_limit


@dataclass
class TargetConfig:
    base_url: str = ""
    metrics_path: str = "/metrics"
    # Several instances without Prometheus: each one's metrics URL, scraped concurrently and
    # summed (base_url then serves health only).
    metrics_urls: list[str] = field(default_factory=list)
    health_path: str = "/api/health"
    health_interval_s: float = 5.0
    production: bool = False
    dsn_env: str = field(default="DATABASE_URL", metadata=ENV)
    memory_limit_mb: float = 0.0
    timeout_s: float = 5.0
    connect_timeout_s: float = 3.0
    verify_tls: bool = True
    ca_bundle: str = ""
    max_page_mb: float = DEFAULT_MAX_BYTES / 1024 / 1024
    max_samples: int = DEFAULT_MAX_SAMPLES
    gzip: bool = True
    auth: AuthConfig = field(default_factory=AuthConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    actions: ActionsConfig = field(default_factory=ActionsConfig)
    prometheus: PrometheusConfig = field(default_factory=PrometheusConfig)
    # Per-target overrides of [metrics]; only the keys given here change.
    metrics: dict[str, Any] = field(default_factory=dict, metadata={"partial": MetricsConfig})


@dataclass
class UiConfig:
    theme: str = "dark"
    refresh_s: float = 1.0
    read_only: bool = False
    history_s: float = 3600.0


@dataclass
class EngineConfig:
    window_s: float = 60.0
    min_requests: int = 10
    min_route_requests: int = 5
    top_routes: int = 5


@dataclass
class ThresholdConfig:
    warning: float | None = None
    critical: float | None = None
    below: bool = False


@dataclass
class AlertConfig:
    name: str = ""
    figure: str = ""
    op: str = ">"
    value: float = 0.0
    for_s: float = field(default=0.0, metadata={"toml": "for", "duration": True})
    severity: str = "warning"
    summary: str = ""


@dataclass
class DbConfig:
    connect_timeout_s: float = 3.0
    statement_timeout_s: float = 2.0
    only_database: bool = False
    pool_size: int = 0
    pool_user: str = ""
    allow_cancel: bool = False


@dataclass
class CanaryGateConfig:
    max_5xx_pct: float = 1.0
    max_p95_regression_pct: float = 10.0
    max_db_connections_pct: float = 80.0


@dataclass
class CanaryConfig:
    flag: str = "PERF_OPTIMIZATIONS_ENABLED"
    steps: list[int] = field(default_factory=lambda: [0, 5, 25, 100])
    # Soak per step, as durations keyed by the step's percent (the runbook's 30 min and 1 h).
    soak: dict[str, Any] = field(default_factory=lambda: {"5": "30m", "25": "1h"})
    gate: CanaryGateConfig = field(default_factory=CanaryGateConfig)


@dataclass
class VerifyConfig:
    """One item of the post-deployment checklist, as an HTTP probe (`sbtop verify`)."""

    name: str = ""
    method: str = "GET"
    path: str = "/"
    # Sent as is; ${NAME} is replaced by that environment variable (credentials stay out of
    # the file). JSON unless content_type says otherwise.
    body: str = ""
    content_type: str = ""
    header: str = ""  # a header whose value is in header_env
    header_env: str = field(default="", metadata=ENV)
    cookie: str = ""  # a cookie whose value is in cookie_env
    cookie_env: str = field(default="", metadata=ENV)
    expect_status: int = 200
    # Dotted paths into the JSON answer and the value each must have ("*": present, not null).
    expect_json: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 10.0


@dataclass
class VerificationConfig:
    """The checklist's two metric items: how much worse than the canary's baseline still
    counts as 'no increase in error rate' and 'latency improved or stable'."""

    p95_tolerance_pct: float = 10.0
    error_rate_tolerance_pts: float = 0.1


@dataclass
class Config:
    default_target: str = ""
    ui: UiConfig = field(default_factory=UiConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    health_fields: HealthFieldsConfig = field(default_factory=HealthFieldsConfig)
    thresholds: dict[str, ThresholdConfig] = field(default_factory=dict)
    alerts: list[AlertConfig] | None = None
    targets: dict[str, TargetConfig] = field(default_factory=dict)
    db: DbConfig = field(default_factory=DbConfig)
    canary: CanaryConfig = field(default_factory=CanaryConfig)
    verify: list[VerifyConfig] = field(default_factory=list)
    verification: VerificationConfig = field(default_factory=VerificationConfig)
    source: str = field(default="", metadata={"internal": True})



def schema_paths(cls: Any = Config, prefix: str = "") -> list[str]:
    """Every key path the schema accepts ('targets.*.auth.header'), for documentation tests."""
    out: list[str] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        key = f.metadata.get("toml", f.name)
        path = join(prefix, key)
        hint = hints[f.name]
        origin = typing.get_origin(hint)
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if origin in (types.UnionType, typing.Union):
            hint = args[0]
            origin = typing.get_origin(hint)
            args = list(typing.get_args(hint))
        if f.metadata.get("partial"):
            out.append(path)
        elif dataclasses.is_dataclass(hint):
            out.extend(schema_paths(hint, path))
        elif origin is dict and dataclasses.is_dataclass(args[1]):
            out.extend(schema_paths(args[1], path + ".*"))
        elif origin is list and dataclasses.is_dataclass(args[0]):
            out.extend(schema_paths(args[0], path + "[]"))
        else:
            out.append(path)
    return out
