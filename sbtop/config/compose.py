"""The composition root: a chosen target's table (overrides applied, credentials read) mapped,
once, into each subsystem's own settings (sbtop.wiring.Wiring). The only code that turns the
file's schema into what the rest of sbtop runs on; nothing past here sees a schema type.

Why here, inside sbtop.config, with the types it builds in sbtop.wiring: the mapping needs the
schema and the config's checks and words (it is the config's last step, `config.resolve`),
while the subsystems and faces must import the settings without importing the config."""

from __future__ import annotations

import typing
from dataclasses import dataclass, field

from sbtop.actions.settings import (
    ActionsSettings,
    CommandSettings,
    ProviderSettings,
    RenderSettings,
    WebhookSettings,
)
from sbtop.config.plan import plan_settings
from sbtop.config.probes import probes
from sbtop.config.schema import CanaryConfig, Config, TargetConfig, VerifyConfig
from sbtop.config.secrets import TargetAuth
from sbtop.config.settings import engine_settings
from sbtop.config.values import duration_seconds
from sbtop.engine.gate import GateSettings
from sbtop.engine.settings import EngineSettings
from sbtop.engine.verify import Probe, Tolerances
from sbtop.recording.settings import RecordingSettings
from sbtop.sources.settings import CollectorSettings, DbSettings, HttpSettings, PromSettings
from sbtop.wiring import (
    ConsoleSettings,
    Secrets,
    TargetIdentity,
    VerifySettings,
    Wiring,
)


@dataclass(frozen=True)
class Chosen:
    """What resolving found: the target's name and table with the command line's overrides,
    its provider's kind, and what was read from the environment."""

    name: str
    table: TargetConfig
    kind: str  # the deploy provider: "", "render", "command", "http"
    auth: TargetAuth
    secrets: Secrets = field(repr=False)
    dsn: str | None = field(default=None, repr=False)
    instances: dict[str, str] = field(default_factory=dict)  # name -> metrics URL


def compose(config: Config, chosen: Chosen,
            probe_env: typing.Mapping[str, str] | None = None) -> Wiring:
    tc = chosen.table
    base = tc.base_url.rstrip("/")
    identity = TargetIdentity(chosen.name, tc.production, base)
    http = HttpSettings(
        connect_timeout_s=tc.connect_timeout_s,
        timeout_s=tc.timeout_s,
        verify_tls=tc.verify_tls,
        ca_bundle=tc.ca_bundle or None,
        max_bytes=int(tc.max_page_mb * 1024 * 1024),
        max_samples=tc.max_samples,
        gzip=tc.gzip,
        headers=chosen.auth.headers,
        cookies=chosen.auth.cookies,
    )
    engine = engine_settings(config, tc)
    gate = gate_settings(config.canary)
    plan = plan_settings(config.plan)
    return Wiring(
        identity=identity,
        collector=_collector(config, chosen, base, http, engine),
        recording=RecordingSettings(chosen.name, tc.production, engine.window_s,
                                    engine.thresholds, config.canary.flag, gate, plan),
        verify=VerifySettings(chosen.name, base, http,
                              Tolerances(config.verification.p95_tolerance_pct,
                                         config.verification.error_rate_tolerance_pts),
                              _checklist(tuple(config.verify), dict(probe_env or {}))),
        console=ConsoleSettings(config.ui.theme, config.ui.refresh_s, config.ui.history_s,
                                config.ui.read_only, config.db.allow_cancel,
                                config.db.allow_terminate),
        actions=_actions(chosen, config.canary, gate),
        warnings=chosen.auth.warnings,
        plan=plan,
    )


def gate_settings(canary: CanaryConfig) -> GateSettings:
    return GateSettings(
        steps=tuple(canary.steps),
        soak_s={int(k): duration_seconds(v) for k, v in canary.soak.items()},
        max_5xx_pct=canary.gate.max_5xx_pct,
        max_p95_regression_pct=canary.gate.max_p95_regression_pct,
        max_db_connections_pct=canary.gate.max_db_connections_pct,
    )


def _collector(config: Config, chosen: Chosen, base: str, http: HttpSettings,
               engine: EngineSettings) -> CollectorSettings:
    tc = chosen.table
    metrics_url = base + tc.metrics_path if tc.metrics_path and base else None
    if len(tc.metrics_urls) == 1:
        metrics_url = tc.metrics_urls[0]
    elif tc.metrics_urls:
        metrics_url = None
    d = config.db
    return CollectorSettings(
        engine=engine,
        http=http,
        metrics_url=metrics_url,
        instances=dict(chosen.instances),
        health_url=base + tc.health_path if tc.health_path and base else None,
        health_interval_s=tc.health_interval_s,
        prometheus=_prometheus(tc, chosen.secrets),
        db=DbSettings(connect_timeout_s=d.connect_timeout_s,
                      statement_timeout_s=d.statement_timeout_s,
                      only_database=d.only_database, pool_user=d.pool_user),
        dsn=chosen.dsn,
    )


def _prometheus(tc: TargetConfig, secrets: Secrets) -> PromSettings | None:
    """How to read the target's Prometheus, with its credentials as read; None when the
    figures come from scraping."""
    p = tc.prometheus
    if not p.url:
        return None
    headers = {}
    if p.header and secrets.prometheus_header:
        headers[p.header] = secrets.prometheus_header
    basic = (p.basic_user, secrets.prometheus_password or "") if p.basic_user else None
    return PromSettings(p.url, p.selector, p.timeout_s, headers, basic,
                        max_answer_bytes=int(p.max_answer_mb * 1024 * 1024))


def _actions(chosen: Chosen, canary: CanaryConfig,
             gate: GateSettings) -> ActionsSettings | None:
    """The deploy actions, or None without a provider. A provider whose credential is not set
    is kept with the reason, so the console can say why its keys do nothing."""
    if not chosen.kind:
        return None
    provider, unavailable = _provider(chosen, canary.flag)
    return ActionsSettings(provider, gate, canary.flag, unavailable)


def _provider(chosen: Chosen, flag: str) -> tuple[ProviderSettings | None, str]:
    tc, secrets = chosen.table, chosen.secrets
    service = tc.render.service_id or chosen.name
    if chosen.kind == "render":
        key = secrets.render_api_key
        if not key:
            return None, (f"${tc.render.api_key_env} is not set: the Render actions need "
                          "the API key in the environment")
        return RenderSettings(tc.render.api_url, tc.render.service_id, key), ""
    if chosen.kind == "command":
        cmd = tc.actions.command
        commands = {k: tuple(v) for k, v in (("canary", cmd.canary), ("restart", cmd.restart),
                                             ("rollback", cmd.rollback)) if v}
        return CommandSettings(commands, service, flag, cmd.timeout_s, tuple(cmd.read_flag)), ""
    http = tc.actions.http
    headers = {}
    if http.header:
        if not secrets.http_header:
            return None, (f"${http.header_env} is not set: the webhook needs its "
                          f"{http.header} header")
        headers[http.header] = secrets.http_header
    url = http.url
    if http.url_env:
        url = secrets.http_url or ""
        if not url:
            return None, f"${http.url_env} is not set: the webhook's URL is kept there"
    return WebhookSettings(url, http.method, http.body, headers, service, http.timeout_s), ""


def _checklist(items: tuple[VerifyConfig, ...], probe_env: dict[str, str]
               ) -> typing.Callable[[str], tuple[Probe, ...]]:
    def checklist(base_url: str) -> tuple[Probe, ...]:
        return probes(items, base_url, probe_env)
    return checklist
