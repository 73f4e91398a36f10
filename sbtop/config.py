"""The configuration: TOML in, typed and validated objects out, the runbook's values as defaults.

Every mistake is reported as one line naming the key path ("targets.prod.timeout_s: expected a
number, got the string '5'"), never a traceback. Secrets never live in the file: it names the
environment variables that hold them, and they are read only when a target is resolved.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import ssl
import stat
import tomllib
import types
import typing
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sbtop import credentials
from sbtop.engine.levels import Level, Threshold
from sbtop.engine.promql import SelectorError, selector_matchers
from sbtop.engine.settings import (
    FIGURE_UNITS,
    RUNBOOK_ALERTS,
    RUNBOOK_THRESHOLDS,
    AlertRule,
    EngineSettings,
    HealthFields,
    MetricNames,
)
from sbtop.engine.verify import Probe, Tolerances
from sbtop.sources.settings import (
    DEFAULT_MAX_ANSWER_BYTES,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_SAMPLES,
    HttpSettings,
)

# Defaults come from the engine's own types, so the file and the engine cannot disagree.
_NAMES = MetricNames()
_FIELDS = HealthFields()


class ConfigError(Exception):
    """A configuration mistake, already phrased for the person who made it."""


# --- the schema: one dataclass per table ----------------------------------------------------

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


# --- reading -------------------------------------------------------------------------------

def default_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sbtop" / "config.toml"


def find_config(explicit: str | None) -> Path | None:
    """--config, else $SBTOP_CONFIG, else the XDG path if it exists; None when there is none."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("SBTOP_CONFIG")
    if env:
        return Path(env)
    path = default_path()
    return path if path.exists() else None


def load(path: Path | None) -> Config:
    if path is None:
        return Config()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    try:
        config = parse(data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    config.source = str(path)
    return config


def parse(data: dict[str, Any]) -> Config:
    config: Config = _build(Config, data, "")
    _validate(config)
    return config


def permission_warning(path: Path, config: Config) -> str | None:
    """A config that names secrets should not be readable by others."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return None
    if any(credentials.carries_secret(t.actions.http.url) for t in config.targets.values()):
        return (f"warning: {path} is readable by other users and holds a webhook URL with a "
                f"key in it: chmod 600 {path}, or keep the URL in the environment (url_env)")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if _names_secrets(raw):
        return (f"warning: {path} is readable by other users; it names secret environment "
                f"variables (chmod 600 {path})")
    return None


def _names_secrets(table: Any) -> bool:
    """Whether the file names a secret's variable: any `*_env` key it sets (the Render key,
    a header, a cookie, a password, a DSN, a webhook URL), or `${VAR}` in a probe's body."""
    if isinstance(table, dict):
        return any((k.endswith("_env") and isinstance(v, str) and v)
                   or (k == "body" and isinstance(v, str) and "${" in v)
                   or _names_secrets(v) for k, v in table.items())
    if isinstance(table, list):
        return any(_names_secrets(v) for v in table)
    return False


_MISSING = object()


def _build(cls: type, table: Any, path: str) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"{path or 'top level'}: expected a table, got {_kind(table)}")
    hints = typing.get_type_hints(cls)
    fields = {f.metadata.get("toml", f.name): f for f in dataclasses.fields(cls)
              if not f.metadata.get("internal")}
    for key in table:
        if key not in fields:
            raise ConfigError(f"{_join(path, key)}: unknown key{_did_you_mean(key, fields)}")
    values: dict[str, Any] = {}
    for key, f in fields.items():
        if key in table:
            values[f.name] = _convert(hints[f.name], table[key], _join(path, key), f)
    return cls(**values)


def _convert(hint: Any, value: Any, path: str, f: dataclasses.Field[Any] | None = None) -> Any:
    meta = f.metadata if f is not None else {}
    if meta.get("duration"):
        return _duration(value, path)
    if meta.get("partial"):
        part = _build(meta["partial"], value, path)
        return {k: getattr(part, _field_name(meta["partial"], k)) for k in value}
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, path, f)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {_kind(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected a whole number, got {_kind(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: expected a number, got {_kind(value)}")
        if not math.isfinite(value):
            raise ConfigError(f"{path}: expected a finite number, got {value}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {_kind(value)}")
        if meta.get("env"):
            _check_env_name(value, path)
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {_kind(value)}")
        return [_convert(args[0], v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a table, got {_kind(value)}")
        if args[1] is Any:
            return dict(value)
        return {k: _convert(args[1], v, _join(path, k)) for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, path)  # type: ignore[arg-type]
    raise AssertionError(f"unhandled config type {hint!r} at {path}")


def _field_name(cls: type, toml_key: str) -> str:
    for f in dataclasses.fields(cls):
        if f.metadata.get("toml", f.name) == toml_key:
            return f.name
    return toml_key


_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)(ms|s|m|h|d))")


def duration_seconds(value: Any) -> float:
    """A validated duration (a number of seconds, or "30s", "5m", "1h30m") in seconds."""
    return _duration(value, "duration")


def _duration(value: Any, path: str) -> float:
    """Seconds from a number, or from a Prometheus duration such as "5m" or "1h30m"."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"{path}: must not be negative")
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        parts = _DURATION.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
            return sum(float(n) * scale[u] for n, u in parts)
    raise ConfigError(f"{path}: expected a duration such as 300, \"30s\", \"5m\" or \"1h\", "
                      f"got {_kind(value)}")


def _check_url(url: str, where: str) -> None:
    """An http(s) URL with a host and a valid port, and no credentials in it."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # raises for a port out of range
        host = parts.hostname or ""
        host.encode("idna")
    except (ValueError, UnicodeError):
        raise ConfigError(f"{where}: not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(f"{where}: expected an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        # Not echoed: the URL holds a password.
        raise ConfigError(f"{where}: credentials in the URL; name them in auth.header_env or "
                          "auth.cookie_env instead")
    del port


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _check_env_name(value: str, path: str) -> None:
    if value == "" or _ENV_NAME.match(value):
        return
    # Say it without echoing the value: it may well be the secret itself.
    raise ConfigError(f"{path}: must name an environment variable (like RENDER_API_KEY), not "
                      "hold a value; this looks like a secret written into the file: move it "
                      "to the environment")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, str):
        shown = value if len(value) <= 30 else value[:27] + "..."
        return f"the string {shown!r}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _did_you_mean(key: str, options: typing.Iterable[str]) -> str:
    candidates = list(options)
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    if not close and len(key) >= 3:
        # An abbreviation ('prod' for 'production') is as likely as a typo.
        close = [c for c in candidates if c.startswith(key)][:1]
    return f" (did you mean {close[0]!r}?)" if close else ""


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
                              f"got {_kind(v.method)}")
        if not v.path.startswith("/"):
            raise ConfigError(f"{where}.path: must start with '/', got {_kind(v.path)}")
        if not 100 <= v.expect_status <= 599:
            raise ConfigError(f"{where}.expect_status: an HTTP status (100 to 599), got "
                              f"{v.expect_status}")
        if v.timeout_s <= 0:
            raise ConfigError(f"{where}.timeout_s: must be greater than 0")
        if bool(v.header) != bool(v.header_env):
            raise ConfigError(f"{where}: header and header_env go together")
        if bool(v.cookie) != bool(v.cookie_env):
            raise ConfigError(f"{where}: cookie and cookie_env go together")
        for var in _BODY_VAR.findall(v.body):
            if not _ENV_NAME.fullmatch(var):
                raise ConfigError(f"{where}.body: ${{{var}}} is not an environment variable "
                                  "name")
    vc = config.verification
    if vc.p95_tolerance_pct < 0 or vc.error_rate_tolerance_pts < 0:
        raise ConfigError("verification: tolerances must not be negative")


def probes(target: Target, env: typing.Mapping[str, str] | None = None) -> tuple[Probe, ...]:
    """The target's checklist as probes against its base_url, credentials from the environment
    (read now, not at start-up). A variable that is not set makes its probe fail as 'not sent',
    naming the variable; one holding a line break is a ConfigError."""
    env = {**(os.environ if env is None else env), **target.probe_env}
    for v in target.verify:
        if v.header or v.cookie or _BODY_VAR.search(v.body or ""):
            why = credentials.refuse_plain_http(target.base_url,
                                                f"verify probe {v.name!r}'s credentials")
            if why:
                raise ConfigError(why)
    return tuple(_probe(v, target.base_url, env) for v in target.verify)


def _probe(v: VerifyConfig, base_url: str, env: typing.Mapping[str, str]) -> Probe:
    missing: list[str] = []

    def value(var: str) -> str:
        got = env.get(var)
        if not got:
            missing.append(var)
            return ""
        return _header_safe(got, f"${var}")

    def sub(m: re.Match[str]) -> str:
        got = env.get(m.group(1))
        if got is None:
            missing.append(m.group(1))
            return ""
        return got

    headers: dict[str, str] = {}
    if v.header:
        headers[v.header] = value(v.header_env)
    if v.cookie:
        headers["Cookie"] = f"{v.cookie}={value(v.cookie_env)}"
    body = None
    if v.body:
        body = _BODY_VAR_SUB.sub(sub, v.body).encode()
        json_like = v.body.lstrip()[:1] in ("{", "[")
        headers["Content-Type"] = v.content_type or ("application/json" if json_like
                                                     else "text/plain")
    return Probe(v.name, v.method.upper(), base_url + v.path, v.path, v.expect_status,
                 dict(v.expect_json), v.timeout_s, body, headers, tuple(dict.fromkeys(missing)))


_BODY_VAR = re.compile(r"\$\{([^}]*)\}")
_BODY_VAR_SUB = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _validate_names(m: MetricsConfig, where: str) -> None:
    """Metric and label names as Prometheus allows them: they go into PromQL as they are."""
    for key in ("latency_histogram", "requests_counter", "memory_rss", "event_loop_lag",
                "process_start", "socket_gauges", "message_counters"):
        value = getattr(m, key)
        for name in value if isinstance(value, list) else [value]:
            if name and not _METRIC_NAME.fullmatch(name):
                raise ConfigError(f"{where}.{key}: {name!r} is not a metric name "
                                  "(letters, digits, _ and :, not starting with a digit)")
    for key in ("status_labels", "route_labels", "method_labels"):
        for name in getattr(m, key):
            if not _LABEL_NAME.fullmatch(name):
                raise ConfigError(f"{where}.{key}: {name!r} is not a label name")


def _validate(config: Config) -> None:
    for key, th in config.thresholds.items():
        if key not in FIGURE_UNITS:
            raise ConfigError(f"thresholds.{key}: unknown figure"
                              f"{_did_you_mean(key, FIGURE_UNITS)}; figures are "
                              f"{', '.join(FIGURE_UNITS)}")
        merged = merged_thresholds(config)[key]
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
                              f"{_did_you_mean(alert.figure, FIGURE_UNITS)}")
        if alert.op not in (">", ">=", "<", "<="):
            raise ConfigError(f"{where}.op: expected one of >, >=, <, <=, got {alert.op!r}")
        if alert.severity not in ("warning", "critical"):
            raise ConfigError(f"{where}.severity: expected warning or critical, "
                              f"got {alert.severity!r}")
    for name, target in config.targets.items():
        where = f"targets.{name}"
        if target.base_url:
            _check_url(target.base_url, f"{where}.base_url")
        if target.prometheus.url:
            _check_url(target.prometheus.url, f"{where}.prometheus.url")
        for i, u in enumerate(target.metrics_urls):
            _check_url(u, f"{where}.metrics_urls[{i}]")
        seen: dict[str, str] = {}
        for u in target.metrics_urls:
            same = _same_endpoint(u)
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
                raise ConfigError(f"{where}.{key}: must start with '/', got {_kind(value)}")
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
        _validate_names(dataclasses.replace(config.metrics, **target.metrics),
                        f"targets.{name}.metrics")
    _validate_verify(config)
    if config.default_target and config.default_target not in config.targets:
        raise ConfigError(f"default_target: no target named {config.default_target!r}"
                          f"{_did_you_mean(config.default_target, config.targets)}")
    if config.ui.refresh_s < 0.5:
        raise ConfigError("ui.refresh_s: must be at least 0.5")
    if config.ui.history_s < 60:
        raise ConfigError("ui.history_s: must be at least 60")
    if config.engine.window_s <= 0:
        raise ConfigError("engine.window_s: must be greater than 0")
    for key in ("min_requests", "min_route_requests", "top_routes"):
        if getattr(config.engine, key) < 1:
            raise ConfigError(f"engine.{key}: must be at least 1")
    for key in ("connect_timeout_s", "statement_timeout_s"):
        if getattr(config.db, key) <= 0:
            raise ConfigError(f"db.{key}: must be greater than 0")
    if config.db.pool_size < 0:
        raise ConfigError("db.pool_size: must not be negative")
    for key, value in config.canary.soak.items():
        if not key.isdigit() or int(key) not in config.canary.steps:
            raise ConfigError(f"canary.soak.{key}: not one of canary.steps "
                              f"({', '.join(map(str, config.canary.steps))})")
        _duration(value, f"canary.soak.{key}")
    for name, target in config.targets.items():
        kind = target.actions.provider
        where = f"targets.{name}.actions"
        if kind not in ("", "render", "command", "http"):
            raise ConfigError(f"{where}.provider: expected render, command or http, got "
                              f"{kind!r}")
        if kind == "render" and not target.render.service_id:
            raise ConfigError(f"targets.{name}.render.service_id: the render provider needs it")
        if target.render.api_url:
            _check_url(target.render.api_url, f"targets.{name}.render.api_url")
        if kind == "http":
            http = target.actions.http
            if bool(http.url) == bool(http.url_env):
                raise ConfigError(f"{where}.http: give url or url_env (one of them)")
            if http.url:
                _check_url(http.url, f"{where}.http.url")
        if kind == "command" and not any((target.actions.command.canary,
                                          target.actions.command.restart,
                                          target.actions.command.rollback)):
            raise ConfigError(f"{where}.command: no command given")
    steps = config.canary.steps
    if steps != sorted(steps) or any(not 0 <= s <= 100 for s in steps):
        raise ConfigError("canary.steps: expected rising percentages between 0 and 100")


# --- resolving a target ----------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """One target ready to watch: URLs, HTTP settings with secrets, engine settings."""

    name: str
    base_url: str
    metrics_url: str | None  # one instance's metrics (None when several are listed)
    health_url: str | None
    production: bool
    http: HttpSettings
    engine: EngineSettings
    dsn: str | None = field(default=None, repr=False)
    warnings: tuple[str, ...] = ()
    health_interval_s: float = 5.0
    db: DbConfig = field(default_factory=DbConfig)
    # The deploy actions: which provider, its settings, and the canary plan.
    actions_kind: str = ""  # "", "render", "command", "http"
    render: RenderConfig = field(default_factory=RenderConfig)
    actions: ActionsConfig = field(default_factory=ActionsConfig)
    canary: CanaryConfig = field(default_factory=CanaryConfig)
    # API key and webhook header, read from the environment; None when the variable is unset.
    secrets: dict[str, str | None] = field(default_factory=dict, repr=False)
    prometheus: PrometheusConfig | None = None  # set: figures come from Prometheus
    # Several instances scraped directly: instance name -> metrics URL.
    instances: dict[str, str] = field(default_factory=dict)
    # The post-deployment checklist (probes are made from it when `verify` runs).
    verify: tuple[VerifyConfig, ...] = ()
    tolerances: Tolerances = field(default_factory=Tolerances)
    # Variables the checklist reads, over the environment's (the demo's test account).
    probe_env: dict[str, str] = field(default_factory=dict, repr=False)


def resolve(config: Config, target: str | None = None, *, url: str | None = None,
            dsn: str | None = None, env: typing.Mapping[str, str] | None = None,
            prometheus_url: str | None = None, selector: str | None = None) -> Target:
    """The target to watch, with CLI overrides applied and secrets read from the environment."""
    env = os.environ if env is None else env
    name = target or config.default_target
    if name:
        if name not in config.targets:
            known = ", ".join(config.targets) or "none defined"
            raise ConfigError(f"no target named {name!r}{_did_you_mean(name, config.targets)} "
                              f"(targets: {known})")
        tc = config.targets[name]
    elif len(config.targets) == 1 and not url and not prometheus_url:
        name, tc = next(iter(config.targets.items()))
    elif url or prometheus_url:
        name, tc = _host_of(url or prometheus_url or ""), TargetConfig()
    elif config.targets:
        raise ConfigError(f"several targets ({', '.join(config.targets)}): choose one with "
                          "--target NAME or set default_target")
    else:
        raise ConfigError("no target: give --url BASE_URL, or define [targets.NAME] in a config "
                          "file (sbtop init writes one)")
    if url:
        _check_url(url, "--url")
        # The URL given is the one to watch: metrics from it, not from the listed instances.
        tc = dataclasses.replace(tc, base_url=url, metrics_urls=[])
    if prometheus_url:
        _check_url(prometheus_url, "--prometheus-url")
        tc = dataclasses.replace(tc, prometheus=dataclasses.replace(tc.prometheus,
                                                                     url=prometheus_url))
    if selector:
        if not tc.prometheus.url:
            raise ConfigError("--selector picks series in Prometheus: give --prometheus-url "
                              f"too (or set targets.{name}.prometheus.url)")
        tc = dataclasses.replace(tc, prometheus=dataclasses.replace(tc.prometheus,
                                                                     selector=selector))
    try:
        selector_matchers(tc.prometheus.selector)
    except SelectorError as e:
        where = "--selector" if selector else f"targets.{name}.prometheus.selector"
        raise ConfigError(f"{where}: {e}") from None
    if not tc.base_url and not tc.prometheus.url and not tc.metrics_urls:
        raise ConfigError(f"targets.{name}.base_url: not set (or give --url)")
    base = tc.base_url.rstrip("/")
    warnings: list[str] = []
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    auth = tc.auth
    if auth.header:
        value = env.get(auth.header_env)
        if value:
            headers[auth.header] = _header_safe(value, f"${auth.header_env}")
        else:
            warnings.append(f"warning: ${auth.header_env} (targets.{name}.auth.header_env) is "
                            f"not set: requests go without the {auth.header} header")
    if auth.cookie:
        value = env.get(auth.cookie_env)
        if value:
            cookies[auth.cookie] = _header_safe(value, f"${auth.cookie_env}")
        else:
            warnings.append(f"warning: ${auth.cookie_env} (targets.{name}.auth.cookie_env) is "
                            f"not set: requests go without the {auth.cookie} cookie")
    prom = tc.prometheus if tc.prometheus.url else None
    if prom is not None:
        if prom.header:
            raw = env.get(prom.header_env)
            secrets_prom_header = _header_safe(raw, f"${prom.header_env}") if raw else None
        else:
            secrets_prom_header = None
    kind = tc.actions.provider or ("render" if tc.render.service_id else "")
    secrets: dict[str, str | None] = {}
    if kind == "render":
        raw_key = env.get(tc.render.api_key_env)
        secrets["render_api_key"] = (_header_safe(raw_key, f"${tc.render.api_key_env}")
                                     if raw_key else None)
    if prom is not None:
        secrets["prometheus_header"] = secrets_prom_header
        if prom.basic_user:
            secrets["prometheus_password"] = env.get(prom.basic_password_env) or ""
    if kind == "http" and tc.actions.http.header:
        raw = env.get(tc.actions.http.header_env)
        secrets["http_header"] = (_header_safe(raw, f"${tc.actions.http.header_env}")
                                  if raw else None)
    if kind == "http" and tc.actions.http.url_env:
        raw = env.get(tc.actions.http.url_env)
        if raw:
            _check_url(raw, f"${tc.actions.http.url_env}")
        secrets["http_url"] = raw or None
    _refuse_plain_http(name, tc, kind, secrets, bool(headers or cookies))
    if tc.ca_bundle:
        try:
            ssl.create_default_context(cafile=tc.ca_bundle)
        except (OSError, ssl.SSLError) as e:
            reason = getattr(e, "strerror", None) or "not a PEM bundle of certificates"
            raise ConfigError(f"targets.{name}.ca_bundle: cannot load {tc.ca_bundle}: "
                              f"{reason}") from None
    metrics_url = base + tc.metrics_path if tc.metrics_path and base else None
    instances: dict[str, str] = {}
    if len(tc.metrics_urls) == 1:
        metrics_url = tc.metrics_urls[0]
    elif tc.metrics_urls:
        metrics_url = None
        instances = instance_names(tc.metrics_urls)
    http = HttpSettings(
        connect_timeout_s=tc.connect_timeout_s,
        timeout_s=tc.timeout_s,
        verify_tls=tc.verify_tls,
        ca_bundle=tc.ca_bundle or None,
        max_bytes=int(tc.max_page_mb * 1024 * 1024),
        max_samples=tc.max_samples,
        gzip=tc.gzip,
        headers=headers,
        cookies=cookies,
    )
    return Target(
        name=name,
        base_url=base,
        metrics_url=metrics_url,
        health_url=base + tc.health_path if tc.health_path and base else None,
        production=tc.production,
        http=http,
        engine=engine_settings(config, tc),
        dsn=dsn or (env.get(tc.dsn_env) if tc.dsn_env else None),
        warnings=tuple(warnings),
        health_interval_s=tc.health_interval_s,
        db=config.db,
        actions_kind=kind,
        render=tc.render,
        actions=tc.actions,
        canary=config.canary,
        secrets=secrets,
        prometheus=prom,
        instances=instances,
        verify=tuple(config.verify),
        tolerances=Tolerances(config.verification.p95_tolerance_pct,
                              config.verification.error_rate_tolerance_pts),
    )


def _refuse_plain_http(name: str, tc: TargetConfig, kind: str,
                       secrets: typing.Mapping[str, str | None], target_auth: bool) -> None:
    """Credentials never travel over plain http to another host (loopback is allowed, for the
    demo and the tests): refused before anything is sent, saying which and where."""
    where = f"targets.{name}"
    sends: list[tuple[str, str]] = []
    if target_auth:
        sends += [(u, f"{where}.auth (a header or cookie)")
                  for u in (tc.base_url, *tc.metrics_urls) if u]
    if tc.prometheus.url and (secrets.get("prometheus_header")
                              or secrets.get("prometheus_password")):
        sends.append((tc.prometheus.url, f"{where}.prometheus's credentials"))
    if kind == "render" and secrets.get("render_api_key"):
        sends.append((tc.render.api_url, f"the Render API key (${tc.render.api_key_env})"))
    if kind == "http":
        # A webhook's URL is its credential as often as not (a key in the path or the
        # query): to another host, only https.
        url = secrets.get("http_url") or tc.actions.http.url
        if url:
            sends.append((url, f"{where}.actions.http (a webhook: its URL is a credential)"))
    for url, what in sends:
        why = credentials.refuse_plain_http(url, what)
        if why:
            raise ConfigError(why)


def _same_endpoint(url: str) -> str:
    """A URL as the endpoint it reaches: host case, default ports, localhost spelled as
    127.0.0.1 (a name another DNS name points at cannot be told apart here)."""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in ("localhost", "localhost.localdomain"):
        host = "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{host}:{port}{parts.path or '/'}?{parts.query}"


def instance_names(urls: typing.Sequence[str]) -> dict[str, str]:
    """Each URL named as Prometheus names an instance (host:port, [v6]:port); the whole URL
    where two share a host and port."""
    def host_port(u: str) -> str:
        parts = urllib.parse.urlsplit(u)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = parts.hostname or "?"
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    short = [host_port(u) for u in urls]
    return {(s if short.count(s) == 1 else u): u for s, u in zip(short, urls, strict=True)}


def _header_safe(value: str, where: str) -> str:
    """Header values travel as latin-1 without line breaks; say which variable is wrong,
    never what it holds."""
    if any(c in value for c in "\r\n\x00") or not value.isprintable() or not value.isascii():
        raise ConfigError(f"{where} holds characters an HTTP header cannot carry (a line break "
                          "or non-ASCII text?)")
    return value.strip()


def _host_of(url: str) -> str:
    return url.split("//", 1)[-1].split("/", 1)[0] or "cli"


def merged_thresholds(config: Config) -> dict[str, Threshold]:
    """The runbook's thresholds with the file's bounds on top: a table replaces only the
    bounds it names (`warning = 800` keeps the runbook's critical 1000)."""
    out = dict(RUNBOOK_THRESHOLDS)
    for key, th in config.thresholds.items():
        base = out.get(key, Threshold())
        same_way = base.above == (not th.below)
        out[key] = Threshold(
            th.warning if th.warning is not None else (base.warning if same_way else None),
            th.critical if th.critical is not None else (base.critical if same_way else None),
            above=not th.below,
        )
    return out


def engine_settings(config: Config, tc: TargetConfig | None = None) -> EngineSettings:
    m = dataclasses.replace(config.metrics, **(tc.metrics if tc else {}))
    names = MetricNames(
        latency_histogram=m.latency_histogram,
        requests_counter=m.requests_counter,
        status_labels=tuple(m.status_labels),
        route_labels=tuple(m.route_labels),
        method_labels=tuple(m.method_labels),
        socket_gauges=tuple(m.socket_gauges),
        message_counters=tuple(m.message_counters),
        memory_rss=m.memory_rss,
        event_loop_lag=m.event_loop_lag,
        process_start=m.process_start,
    )
    thresholds = merged_thresholds(config)
    alerts = RUNBOOK_ALERTS
    if config.alerts is not None:
        alerts = tuple(
            AlertRule(a.name, a.figure, a.op, a.value, a.for_s, Level(a.severity), a.summary)
            for a in config.alerts
        )
    e = config.engine
    limit = tc.memory_limit_mb if tc else 0.0
    return EngineSettings(
        window_s=e.window_s,
        min_requests=e.min_requests,
        min_route_requests=e.min_route_requests,
        top_routes=e.top_routes,
        memory_limit_bytes=limit * 1024 * 1024 if limit else None,
        db_pool_size=config.db.pool_size or None,
        names=names,
        health_fields=HealthFields(config.health_fields.rss, config.health_fields.memory_limit),
        thresholds=thresholds,
        alerts=alerts,
    )


def schema_paths(cls: Any = Config, prefix: str = "") -> list[str]:
    """Every key path the schema accepts ('targets.*.auth.header'), for documentation tests."""
    out: list[str] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        key = f.metadata.get("toml", f.name)
        path = _join(prefix, key)
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
