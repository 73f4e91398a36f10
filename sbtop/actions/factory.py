"""A target's controller, built from its configuration (or the reason there is none)."""

from __future__ import annotations

from pathlib import Path

from sbtop.actions.audit import AuditLog
from sbtop.actions.controller import Controller
from sbtop.actions.providers import CommandProvider, HttpProvider, Provider, RenderProvider
from sbtop.actions.render import RenderSettings
from sbtop.actions.state import StateDirError, StateStore
from sbtop.clock import SYSTEM, Clock
from sbtop.config import Target, duration_seconds
from sbtop.engine.gate import GateSettings


def gate_settings(target: Target) -> GateSettings:
    c = target.canary
    return GateSettings(
        steps=tuple(c.steps),
        soak_s={int(k): duration_seconds(v) for k, v in c.soak.items()},
        max_5xx_pct=c.gate.max_5xx_pct,
        max_p95_regression_pct=c.gate.max_p95_regression_pct,
        max_db_connections_pct=c.gate.max_db_connections_pct,
    )


def make_provider(target: Target) -> tuple[Provider | None, str]:
    kind = target.actions_kind
    if not kind:
        return None, (f"no deploy provider for target {target.name!r} (set "
                      "targets.NAME.actions.provider, or render.service_id)")
    service = target.render.service_id or target.name
    if kind == "render":
        key = target.secrets.render_api_key
        if not key:
            return None, (f"${target.render.api_key_env} is not set: the Render actions need "
                          "the API key in the environment")
        return RenderProvider(RenderSettings(target.render.api_url, target.render.service_id,
                                             key)), ""
    if kind == "command":
        cmd = target.actions.command
        commands = {k: v for k, v in (("canary", cmd.canary), ("restart", cmd.restart),
                                      ("rollback", cmd.rollback)) if v}
        return CommandProvider(commands, service=service, flag=target.canary.flag,
                               timeout_s=cmd.timeout_s, read_flag=cmd.read_flag), ""
    http = target.actions.http
    headers = {}
    if http.header:
        value = target.secrets.http_header
        if not value:
            return None, (f"${http.header_env} is not set: the webhook needs its "
                          f"{http.header} header")
        headers[http.header] = value
    url = http.url
    if http.url_env:
        url = target.secrets.http_url or ""
        if not url:
            return None, f"${http.url_env} is not set: the webhook's URL is kept there"
    return HttpProvider(url, http.method, http.body, headers, service=service,
                        timeout_s=http.timeout_s), ""


def make_controller(target: Target, state_dir: Path, clock: Clock = SYSTEM
                    ) -> tuple[Controller | None, str]:
    provider, reason = make_provider(target)
    if provider is None:
        return None, reason
    store, audit = StateStore(state_dir, target.name), AuditLog(state_dir / "audit.jsonl")
    try:
        # Before anything is read or planned: a state directory others can write in, or a
        # link where the state, the lock or the audit log goes, means no actions at all.
        store.check()
        audit.check()
    except StateDirError as e:
        return None, str(e)
    return Controller(target.name, target.production, provider, store, audit,
                      gate_settings(target), target.canary.flag, clock), ""
