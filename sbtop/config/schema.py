"""The configuration's schema: one msgspec Struct per TOML table, the runbook's values as
defaults.

These are the file's shape only, and the types say what each key takes: sbtop.config.binding
has msgspec fill them from TOML (strictly: "5" is not a number, true is not 1, an unknown key
is refused), validation checks what types cannot say, and resolve turns one target into what
the rest of sbtop runs on. They are plain mutable Structs: `msgspec.structs.replace` copies one
with some keys changed."""

from __future__ import annotations

import sys
from typing import Annotated, Any, Literal

import msgspec
from msgspec import field

from sbtop.config.values import ENV_NAME_PATTERN, join
from sbtop.engine.settings import CohortSettings, HealthFields, MetricNames, TrendSettings
from sbtop.sources.settings import (
    DEFAULT_MAX_ANSWER_BYTES,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_SAMPLES,
)

# Defaults come from the engine's own types, so the file and the engine cannot disagree.
_NAMES = MetricNames()
_FIELDS = HealthFields()
_COHORTS = CohortSettings()
_TRENDS = TrendSettings()

# A number the file may give: finite (TOML has inf and nan; a timeout of nan would never
# fire). msgspec has no "finite" constraint, and NaN fails every comparison, so the widest
# bounds a float has say it; binding words a breach as "expected a finite number".
Number = Annotated[float, msgspec.Meta(ge=-sys.float_info.max, le=sys.float_info.max)]
# A key that names an environment variable: empty or a name, never a pasted secret (binding
# words a mismatch without echoing the value).
EnvName = Annotated[str, msgspec.Meta(pattern=rf"^(?:{ENV_NAME_PATTERN})?\Z")]


class Duration(float):
    """Seconds, which the file may also write as a Prometheus duration ("5m", "1h30m").
    msgspec hands this type to binding's hook, the one check of the schema it cannot make."""


class Table(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A TOML table: every key optional (the defaults are the runbook's), none unknown."""


class AuthConfig(Table):
    """How to get past a protected /metrics (and health path)."""

    header: str = ""
    header_env: EnvName = ""
    cookie: str = ""
    cookie_env: EnvName = ""


class RenderConfig(Table):
    service_id: str = ""
    api_key_env: EnvName = "RENDER_API_KEY"
    api_url: str = "https://api.render.com/v1"


class CommandActionsConfig(Table):
    """argv lists (no shell) with {percent}, {service} and {flag} filled in."""

    canary: list[str] = field(default_factory=list)
    restart: list[str] = field(default_factory=list)
    rollback: list[str] = field(default_factory=list)
    read_flag: list[str] = field(default_factory=list)  # prints the flag's value
    timeout_s: Number = 300.0


class HttpActionsConfig(Table):
    url: str = ""  # may hold a key: never in a repr (below)
    # Or the URL from the environment: a deploy hook's URL is itself the credential.
    url_env: EnvName = ""
    method: str = "POST"
    body: str = '{"action": "{action}", "percent": "{percent}", "service": "{service}"}'
    header: str = ""
    header_env: EnvName = ""
    timeout_s: Number = 30.0

    def __repr__(self) -> str:
        # A Struct has no per-field repr switch; the URL is shown only as set or not.
        shown = ", ".join(f"{k}={'<set>' if k == 'url' and v else repr(v)}"
                          for k, v in msgspec.structs.asdict(self).items())
        return f"HttpActionsConfig({shown})"


class ActionsConfig(Table):
    # "render", "command", "http"; "" means: render when render.service_id is set, else none.
    provider: str = ""
    command: CommandActionsConfig = field(default_factory=CommandActionsConfig)
    http: HttpActionsConfig = field(default_factory=HttpActionsConfig)


class PrometheusConfig(Table):
    """Read the figures from Prometheus (all instances) instead of scraping one /metrics."""

    url: str = ""
    selector: str = ""  # label matchers added to every metric, e.g. job="studybuddy"
    timeout_s: Number = 5.0
    max_answer_mb: Number = DEFAULT_MAX_ANSWER_BYTES / 1024 / 1024
    header: str = ""
    header_env: EnvName = ""
    basic_user: str = ""
    basic_password_env: EnvName = ""


class MetricsConfig(Table):
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


class HealthFieldsConfig(Table):
    rss: str = _FIELDS.rss
    memory_limit: str = _FIELDS.memory_limit


class TargetConfig(Table):
    base_url: str = ""
    metrics_path: str = "/metrics"
    # Several instances without Prometheus: each one's metrics URL, scraped concurrently and
    # summed (base_url then serves health only).
    metrics_urls: list[str] = field(default_factory=list)
    health_path: str = "/api/health"
    health_interval_s: Number = 5.0
    production: bool = False
    dsn_env: EnvName = "DATABASE_URL"
    memory_limit_mb: Number = 0.0
    timeout_s: Number = 5.0
    connect_timeout_s: Number = 3.0
    verify_tls: bool = True
    ca_bundle: str = ""
    max_page_mb: Number = DEFAULT_MAX_BYTES / 1024 / 1024
    max_samples: int = DEFAULT_MAX_SAMPLES
    gzip: bool = True
    auth: AuthConfig = field(default_factory=AuthConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    actions: ActionsConfig = field(default_factory=ActionsConfig)
    prometheus: PrometheusConfig = field(default_factory=PrometheusConfig)

    # Per-target overrides of [metrics]; only the keys given here change (binding checks them
    # as keys of MetricsConfig, under this path).
    metrics: dict[str, Any] = field(default_factory=dict)


class UiConfig(Table):
    theme: str = "dark"
    refresh_s: Number = 1.0
    read_only: bool = False
    history_s: Number = 3600.0


class EngineConfig(Table):
    window_s: Number = 60.0
    min_requests: int = 10
    min_route_requests: int = 5
    top_routes: int = 5


class TrendsConfig(Table):
    """The trend figures: how much history the slope is fitted over, the least before it is
    said, and how long after a restart its effects (reconnects, pool) are watched."""

    window: Duration = Duration(_TRENDS.window_s)
    min_span: Duration = Duration(_TRENDS.min_span_s)
    after_restart: Duration = Duration(_TRENDS.after_restart_s)


class ThresholdConfig(Table):
    warning: Number | None = None
    critical: Number | None = None
    below: bool = False
    # What to do now (the runbook's Action column): words beside the breach, the console
    # action offered with them, and from which level. Unset: the runbook's (engine/advice.py).
    action: str | None = None
    console_action: Literal["none", "sessions", "rollback", "restart"] | None = None
    action_at: Literal["warning", "critical"] | None = None


class AlertConfig(Table):
    name: str = ""
    figure: str = ""
    op: str = ">"
    value: Number = 0.0
    for_s: Duration = field(default=Duration(0.0), name="for")
    severity: str = "warning"
    summary: str = ""


class DbConfig(Table):
    connect_timeout_s: Number = 3.0
    statement_timeout_s: Number = 2.0
    only_database: bool = False
    pool_size: int = 0
    pool_user: str = ""
    allow_cancel: bool = False
    allow_terminate: bool = False
    statements: bool = True
    statements_every_s: Number = 10.0
    n_plus_one_calls_per_request: Number = 5.0


class CanaryGateConfig(Table):
    max_5xx_pct: Number = 1.0
    max_p95_regression_pct: Number = 10.0
    max_db_connections_pct: Number = 80.0


class CanaryCohortsConfig(Table):
    """The cohort label on the latency histogram and the request counter: off while `label`
    is empty."""

    label: str = ""
    canary: str = _COHORTS.canary
    stable: str = _COHORTS.stable
    min_canary_requests: int = _COHORTS.min_canary_requests
    alpha: Number = _COHORTS.alpha
    max_p95_over_stable_pct: Number = _COHORTS.max_p95_over_stable_pct
    max_5xx_over_stable_pts: Number = _COHORTS.max_5xx_over_stable_pts


class CanaryConfig(Table):
    flag: str = "PERF_OPTIMIZATIONS_ENABLED"
    steps: list[int] = field(default_factory=lambda: [0, 5, 25, 100])
    # Soak per step, as durations keyed by the step's percent (the runbook's 30 min and 1 h).
    soak: dict[str, Any] = field(default_factory=lambda: {"5": "30m", "25": "1h"})
    gate: CanaryGateConfig = field(default_factory=CanaryGateConfig)
    cohorts: CanaryCohortsConfig = field(default_factory=CanaryCohortsConfig)


class VerifyConfig(Table):
    """One item of the post-deployment checklist, as an HTTP probe (`sbtop verify`)."""

    name: str = ""
    method: str = "GET"
    path: str = "/"
    # Sent as is; ${NAME} is replaced by that environment variable (credentials stay out of
    # the file). JSON unless content_type says otherwise.
    body: str = ""
    content_type: str = ""
    header: str = ""  # a header whose value is in header_env
    header_env: EnvName = ""
    cookie: str = ""  # a cookie whose value is in cookie_env
    cookie_env: EnvName = ""
    expect_status: int = 200
    # Dotted paths into the JSON answer and the value each must have ("*": present, not null).
    expect_json: dict[str, Any] = field(default_factory=dict)
    timeout_s: Number = 10.0


class VerificationConfig(Table):
    """The checklist's two metric items: how much worse than the canary's baseline still
    counts as 'no increase in error rate' and 'latency improved or stable'."""

    p95_tolerance_pct: Number = 10.0
    error_rate_tolerance_pts: Number = 0.1


class StatusPageConfig(Table):
    """A provider's public status page ("is it us or them"): polled beside the figures."""

    name: str = ""
    url: str = ""  # the page, e.g. https://status.render.com (or its JSON's URL)
    kind: str = "statuspage"  # Atlassian Statuspage: /api/v2/summary.json
    interval_s: Number = 120.0
    timeout_s: Number = 5.0
    max_kb: Number = 512.0


class NotifyConfig(Table):
    """Who knows: the terminal's bell, its desktop notification, a Slack-shaped webhook."""

    bell: bool = True
    desktop: bool = True  # OSC 777 and OSC 9 (over SSH too; tmux: allow-passthrough on)
    desktop_sequences: list[Literal["777", "9"]] = field(default_factory=lambda: ["777", "9"])
    webhook_url_env: EnvName = ""  # the variable holding the incoming webhook's URL
    webhook_timeout_s: Number = 5.0
    webhook_every_s: Number = 60.0  # at most one message per kind of event in this time


class ContactsConfig(Table):
    """The runbook's contact and escalation list, shown in the console's help."""

    primary: str = ""
    secondary: str = ""
    escalation: str = ""
    slack_channel: str = ""
    status_page: str = ""


class SloConfig(Table):
    """Error-budget SLOs, in per cent (0: not watched): availability from the 5xx ratio,
    latency from the share of requests slower than latency_threshold_ms (0: the p95 warning
    threshold), each budget spent over `period`."""

    availability: Number = 0.0
    latency: Number = 0.0
    latency_threshold_ms: Number = 0.0
    period: Duration = Duration(30 * 86400.0)


class PlanCriterionConfig(Table):
    """A phase's extra criterion: `figure op value`, judged during the watch or at its end."""

    figure: str = ""
    op: str = "<"
    value: Number = 0.0
    judged: str = "end"  # "during": at every look of the watch; "end": when it is over


class PlanPhaseConfig(Table):
    """One phase of the deploy window (the runbook's section 2)."""

    name: str = ""
    risk: str = "low"  # low, medium, high
    # The expected duration: one duration ("2m") or [min, max] (["5m", "10m"]).
    duration: Any = None
    watch: Duration = Duration(0.0)  # "monitor for 10 minutes"
    figures: list[str] = field(default_factory=list)  # watched: never critical
    criteria: list[PlanCriterionConfig] = field(default_factory=list)
    run: list[str] = field(default_factory=list)  # argv, no shell
    rollback: list[str] = field(default_factory=list)  # argv, no shell
    rollback_note: str = ""
    canary: bool = False  # its sub-plan is the canary ladder
    note: str = ""


class PlanPreflightConfig(Table):
    """One pre-deployment checklist item: checked live, or confirmed by a person."""

    name: str = ""
    # confirm (a person), target, figures, baseline, database, sql, command
    check: str = "confirm"
    sql: str = ""  # with check = "sql": the first column of its first row must be true
    command: list[str] = field(default_factory=list)  # with check = "command": exits 0
    timeout_s: Number = 30.0
    note: str = ""


class PlanConfig(Table):
    timeout_s: Number = 600.0  # a phase's run or rollback command
    phases: list[PlanPhaseConfig] = field(default_factory=list)
    preflight: list[PlanPreflightConfig] = field(default_factory=list)


class Config(Table):
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
    # Empty polls nothing: a jump box may have no way out; a page is asked only when named.
    status_pages: list[StatusPageConfig] = field(default_factory=list)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    contacts: ContactsConfig = field(default_factory=ContactsConfig)
    slo: SloConfig = field(default_factory=SloConfig)
    plan: PlanConfig = field(default_factory=PlanConfig)
    trends: TrendsConfig = field(default_factory=TrendsConfig)



def schema_paths(cls: type[Table] = Config, prefix: str = "") -> list[str]:
    """Every key path the schema accepts ('targets.*.auth.header'), for documentation tests."""
    from msgspec import inspect  # only the tests ask: not loaded by every run

    def walk(info: inspect.Type, path: str) -> list[str]:
        if isinstance(info, inspect.UnionType):  # `X | None`: the X
            info = next(t for t in info.types if not isinstance(t, inspect.NoneType))
        if isinstance(info, inspect.StructType):
            return [p for f in info.fields for p in walk(f.type, join(path, f.encode_name))]
        if isinstance(info, inspect.DictType) and isinstance(info.value_type, inspect.StructType):
            return walk(info.value_type, path + ".*")
        if isinstance(info, inspect.ListType) and isinstance(info.item_type, inspect.StructType):
            return walk(info.item_type, path + "[]")
        return [path]

    return walk(inspect.type_info(cls), prefix)
