"""A target's controller, built from its actions settings (or the reason there is none)."""

from __future__ import annotations

from pathlib import Path

from sbtop.actions.audit import AuditLog
from sbtop.actions.controller import Controller
from sbtop.actions.providers import CommandProvider, HttpProvider, Provider, RenderProvider
from sbtop.actions.settings import (
    ActionsSettings,
    CommandSettings,
    ProviderSettings,
    RenderSettings,
)
from sbtop.actions.state import StateDirError, StateStore
from sbtop.clock import SYSTEM, Clock
from sbtop.wiring import TargetIdentity


def make_provider(settings: ProviderSettings) -> Provider:
    if isinstance(settings, RenderSettings):
        return RenderProvider(settings)
    if isinstance(settings, CommandSettings):
        return CommandProvider(settings.commands, service=settings.service, flag=settings.flag,
                               timeout_s=settings.timeout_s, read_flag=settings.read_flag)
    return HttpProvider(settings.url, settings.method, settings.body, dict(settings.headers),
                        service=settings.service, timeout_s=settings.timeout_s)


def build_controller(actions: ActionsSettings | None, identity: TargetIdentity,
                     state_dir: Path, clock: Clock = SYSTEM) -> tuple[Controller | None, str]:
    if actions is None:
        return None, (f"no deploy provider for target {identity.name!r} (set "
                      "targets.NAME.actions.provider, or render.service_id)")
    if actions.provider is None:
        return None, actions.unavailable
    store, audit = StateStore(state_dir, identity.name), AuditLog(state_dir / "audit.jsonl")
    try:
        # Before anything is read or planned: a state directory others can write in, or a
        # link where the state, the lock or the audit log goes, means no actions at all.
        store.check()
        audit.check()
    except StateDirError as e:
        return None, str(e)
    return Controller(identity.name, identity.production, make_provider(actions.provider),
                      store, audit, actions.gate, actions.flag, clock), ""

