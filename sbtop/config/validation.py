"""What the schema cannot say by types alone: ranges, names Prometheus accepts, URLs, which keys
go together, thresholds that do not cross, a provider with what it needs. Run once, when the
file is read, so a mistake is found before anything starts."""

from __future__ import annotations

import re

import msgspec

from sbtop.config.errors import ConfigError
from sbtop.config.plan import validate_plan
from sbtop.config.schema import Config, MetricsConfig
from sbtop.config.settings import merged_thresholds
from sbtop.config.status_pages import validate_status_pages
from sbtop.config.values import (
    BODY_VAR,
    ENV_NAME,
    check_url,
    did_you_mean,
    duration,
    kind,
    same_endpoint,
)
from sbtop.engine.cohorts import COHORT_FIGURES
from sbtop.engine.settings import FIGURE_UNITS
from sbtop.engine.slo import PAGE_FAST
from sbtop.units import CANARY_PERCENT, REFRESH_S

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _validate_verify(config: Config) -> None:
    names: set[str] = set()
    for i, v in enumerate(config.verify):
        where = f"verify[{i}]"
        if not v.name:
            raise ConfigError(f"{where}.name: every checklist item needs a name")
        if v.name in names:
            raise ConfigError(f"{where}.name: {v.name!r} is used twice")
        names.add(v.name)
        if v.method.upper() not in HTTP_METHODS:
            raise ConfigError(f"{where}.method: expected one of {', '.join(HTTP_METHODS)}, "
                              f"got {kind(v.method)}")
        if not v.path.startswith("/"):
            raise ConfigError(f"{where}.path: must start with '/', got {kind(v.path)}")
        if not 100 <= v.expect_status <= 599:
            raise ConfigError(f"{where}.expect_status: an HTTP status (100 to 599), got "
                              f"{v.expect_status}")
        if v.timeout_s <= 0:
            raise ConfigError(f"{where}.timeout_s: must be greater than 0")
        if bool(v.header) != bool(v.header_env):
            raise ConfigError(f"{where}: header and header_env go together")
        if bool(v.cookie) != bool(v.cookie_env):
            raise ConfigError(f"{where}: cookie and cookie_env go together")
        for var in BODY_VAR.findall(v.body):
            if not ENV_NAME.fullmatch(var):
                raise ConfigError(f"{where}.body: ${{{var}}} is not an environment variable "
                                  "name")
    vc = config.verification
    if vc.p95_tolerance_pct < 0 or vc.error_rate_tolerance_pts < 0:
        raise ConfigError("verification: tolerances must not be negative")


_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# The longest [trends] window: the fit over 6 h of minutes is 64,620 pairs, a few ms a minute.
TRENDS_WINDOW_MAX_S = 6 * 3600.0


def _validate_names(m: MetricsConfig, where: str) -> None:
    """Metric and label names as Prometheus allows them: they go into PromQL as they are."""
    for key in ("latency_histogram", "requests_counter", "memory_rss", "event_loop_lag",
                "process_start", "socket_gauges", "message_counters"):
        value = getattr(m, key)
        # An empty string turns a single name off; in a list it names nothing (and read as a
        # prefix it would match every line of a page), so it is refused there.
        for name in value if isinstance(value, list) else [value]:
            if (name or isinstance(value, list)) and not _METRIC_NAME.fullmatch(name):
                raise ConfigError(f"{where}.{key}: {name!r} is not a metric name "
                                  "(letters, digits, _ and :, not starting with a digit)")
    for key in ("status_labels", "route_labels", "method_labels"):
        for name in getattr(m, key):
            if not _LABEL_NAME.fullmatch(name):
                raise ConfigError(f"{where}.{key}: {name!r} is not a label name")


def _validate_slo(config: Config) -> None:
    s = config.slo
    for key in ("availability", "latency"):
        pct = getattr(s, key)
        if pct and not 0 < pct < 100:
            raise ConfigError(f"slo.{key}: expected a per cent between 0 and 100 (e.g. 99.5), "
                              f"got {pct:g}")
        # The fast page needs an error ratio of factor x budget: over 100 % it can never fire.
        factor = PAGE_FAST.factor(float(s.period))
        if pct and factor * (1 - pct / 100) >= 1:
            raise ConfigError(f"slo.{key}: {pct:g}% leaves a budget of {100 - pct:g}%, and the "
                              f"fast page's {factor:g}x burn would need over 100 % of requests "
                              "bad: it could never fire (aim higher, or shorten slo.period)")
    if s.latency_threshold_ms < 0:
        raise ConfigError("slo.latency_threshold_ms: must not be negative")
    if float(s.period) < 86400:
        raise ConfigError("slo.period: at least 1d (the burn windows reach 6h and 3d)")


def validate(config: Config) -> None:
    thresholds = merged_thresholds(config)
    for key, th in config.thresholds.items():
        if key not in FIGURE_UNITS:
            raise ConfigError(f"thresholds.{key}: unknown figure"
                              f"{did_you_mean(key, FIGURE_UNITS)}; figures are "
                              f"{', '.join(FIGURE_UNITS)}")
        if key in COHORT_FIGURES:
            # Made from the cohort test's verdict, never judged against a threshold: a table
            # here would be read and silently do nothing.
            raise ConfigError(f"thresholds.{key}: judged by the cohort test, not a threshold "
                              "(canary.cohorts max_p95_over_stable_pct, "
                              "max_5xx_over_stable_pts, alpha)")
        merged = thresholds[key]
        if merged.warning is not None and merged.critical is not None:
            wrong = (merged.warning < merged.critical if th.below
                     else merged.warning > merged.critical)
            if wrong:
                raise ConfigError(f"thresholds.{key}: warning {merged.warning:g} is beyond "
                                  f"critical {merged.critical:g}")
    for i, alert in enumerate(config.alerts or []):
        where = f"alerts[{i}]"
        if not alert.name:
            raise ConfigError(f"{where}.name: every alert needs a name")
        if alert.figure not in FIGURE_UNITS:
            raise ConfigError(f"{where}.figure: unknown figure {alert.figure!r}"
                              f"{did_you_mean(alert.figure, FIGURE_UNITS)}")
        if alert.op not in (">", ">=", "<", "<="):
            raise ConfigError(f"{where}.op: expected one of >, >=, <, <=, got {alert.op!r}")
        if alert.severity not in ("warning", "critical"):
            raise ConfigError(f"{where}.severity: expected warning or critical, "
                              f"got {alert.severity!r}")
    _validate_slo(config)
    for name, target in config.targets.items():
        where = f"targets.{name}"
        if target.base_url:
            check_url(target.base_url, f"{where}.base_url")
        if target.prometheus.url:
            check_url(target.prometheus.url, f"{where}.prometheus.url")
        for i, u in enumerate(target.metrics_urls):
            check_url(u, f"{where}.metrics_urls[{i}]")
        seen: dict[str, str] = {}
        for u in target.metrics_urls:
            same = same_endpoint(u)
            if same in seen:
                raise ConfigError(f"{where}.metrics_urls: {u} and {seen[same]} are the same "
                                  "endpoint (its counts would be added twice)")
            seen[same] = u
        if not target.metrics_path and not target.health_path:
            raise ConfigError(f"{where}: metrics_path and health_path are both empty: nothing "
                              "to watch")
        for key in ("metrics_path", "health_path"):
            value = getattr(target, key)
            if value and not value.startswith("/"):
                raise ConfigError(f"{where}.{key}: must start with '/', got {kind(value)}")
        if target.health_interval_s < 0:
            raise ConfigError(f"{where}.health_interval_s: must not be negative")
        for key in ("timeout_s", "connect_timeout_s", "max_page_mb", "max_samples"):
            if getattr(target, key) <= 0:
                raise ConfigError(f"{where}.{key}: must be greater than 0")
        # Deadlines and caps of outside calls: 0 would refuse every answer.
        for key, value in (("prometheus.timeout_s", target.prometheus.timeout_s),
                           ("prometheus.max_answer_mb", target.prometheus.max_answer_mb),
                           ("actions.http.timeout_s", target.actions.http.timeout_s)):
            if value <= 0:
                raise ConfigError(f"{where}.{key}: must be greater than 0")
        if target.memory_limit_mb < 0:
            raise ConfigError(f"{where}.memory_limit_mb: must not be negative")
        if bool(target.auth.header) != bool(target.auth.header_env):
            raise ConfigError(f"{where}.auth: header and header_env go together")
        if bool(target.auth.cookie) != bool(target.auth.cookie_env):
            raise ConfigError(f"{where}.auth: cookie and cookie_env go together")
    _validate_names(config.metrics, "metrics")
    for name, target in config.targets.items():
        _validate_names(msgspec.structs.replace(config.metrics, **target.metrics),
                        f"targets.{name}.metrics")
    _validate_verify(config)
    if config.default_target and config.default_target not in config.targets:
        raise ConfigError(f"default_target: no target named {config.default_target!r}"
                          f"{did_you_mean(config.default_target, config.targets)}")
    refresh = REFRESH_S.problem(config.ui.refresh_s)
    if refresh:
        raise ConfigError(f"ui.refresh_s: {refresh}")
    if config.ui.history_s < 60:
        raise ConfigError("ui.history_s: must be at least 60")
    if config.engine.window_s <= 0:
        raise ConfigError("engine.window_s: must be greater than 0")
    for key in ("min_requests", "min_route_requests", "top_routes"):
        if getattr(config.engine, key) < 1:
            raise ConfigError(f"engine.{key}: must be at least 1")
    tr = config.trends
    if tr.min_span < 180 or tr.window < tr.min_span:
        # Three one-minute medians at least; a window shorter than the span asked never fits.
        raise ConfigError("trends: min_span must be at least 3m and window at least min_span")
    if tr.window > TRENDS_WINDOW_MAX_S:
        # The fit is the median of every pair of minutes, made once a minute: the pairs grow
        # as the square of the window (a week: 50 million, gigabytes and seconds a minute).
        raise ConfigError("trends.window: at most 6h (the slope is fitted over every pair "
                          "of its minutes, once a minute)")
    if tr.after_restart <= 0:
        raise ConfigError("trends.after_restart: must be greater than 0")
    for key in ("connect_timeout_s", "statement_timeout_s", "statements_every_s",
                "n_plus_one_calls_per_request"):
        if getattr(config.db, key) <= 0:
            raise ConfigError(f"db.{key}: must be greater than 0")
    if config.db.pool_size < 0:
        raise ConfigError("db.pool_size: must not be negative")
    for key, value in config.canary.soak.items():
        if not key.isdigit() or int(key) not in config.canary.steps:
            raise ConfigError(f"canary.soak.{key}: not one of canary.steps "
                              f"({', '.join(map(str, config.canary.steps))})")
        duration(value, f"canary.soak.{key}")
    for name, target in config.targets.items():
        provider = target.actions.provider
        where = f"targets.{name}.actions"
        if provider not in ("", "render", "command", "http"):
            raise ConfigError(f"{where}.provider: expected render, command or http, got "
                              f"{provider!r}")
        if provider == "render" and not target.render.service_id:
            raise ConfigError(f"targets.{name}.render.service_id: the render provider needs it")
        if target.render.api_url:
            check_url(target.render.api_url, f"targets.{name}.render.api_url")
        if provider == "http":
            http = target.actions.http
            if bool(http.url) == bool(http.url_env):
                raise ConfigError(f"{where}.http: give url or url_env (one of them)")
            if http.url:
                check_url(http.url, f"{where}.http.url")
        if provider == "command" and not any((target.actions.command.canary,
                                              target.actions.command.restart,
                                              target.actions.command.rollback)):
            raise ConfigError(f"{where}.command: no command given")
    validate_status_pages(config)
    _validate_cohorts(config)
    validate_plan(config.plan)
    steps = config.canary.steps
    if steps != sorted(steps) or not all(CANARY_PERCENT.contains(s) for s in steps):
        raise ConfigError("canary.steps: expected rising percentages between 0 and 100")



def _validate_cohorts(config: Config) -> None:
    c = config.canary.cohorts
    where = "canary.cohorts"
    if c.label and not _LABEL_NAME.fullmatch(c.label):
        raise ConfigError(f"{where}.label: {c.label!r} is not a label name")
    reserved = {"le", *config.metrics.status_labels}
    if c.label in reserved:
        raise ConfigError(f"{where}.label: {c.label!r} is the bucket bound or a status label, "
                          "not a cohort")
    if c.label and (not c.canary or not c.stable or c.canary == c.stable):
        raise ConfigError(f"{where}: canary and stable must be two different label values")
    if c.min_canary_requests < 1:
        raise ConfigError(f"{where}.min_canary_requests: must be at least 1")
    if not 0 < c.alpha < 1:
        raise ConfigError(f"{where}.alpha: must be between 0 and 1 (e.g. 0.01)")
    for key in ("max_p95_over_stable_pct", "max_5xx_over_stable_pts"):
        if getattr(c, key) < 0:
            raise ConfigError(f"{where}.{key}: must not be negative")
