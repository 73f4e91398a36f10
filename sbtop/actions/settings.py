"""What the deploy actions are told: the provider's settings (its secrets already read from the
environment), the canary plan and its gate. Plain frozen values, no I/O: the composition root
(sbtop.config) builds them without loading an HTTP client."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sbtop.engine.gate import GateSettings


@dataclass(frozen=True)
class RenderSettings:
    api_url: str
    service_id: str
    api_key: str = field(repr=False)  # from the environment; never in a repr
    timeout_s: float = 15.0  # each call's whole answer, connect to last byte
    deploy_timeout_s: float = 900.0
    # Render's answers are a deploy, an env var, or a list of 50 deploys: a few tens of KB.
    max_answer_bytes: int = 4 * 1024 * 1024
    poll_every_s: float = 5.0
    max_429_retries: int = 3


@dataclass(frozen=True)
class CommandSettings:
    """argv lists (no shell) per action, with {percent}, {service} and {flag} filled in."""

    commands: Mapping[str, tuple[str, ...]]  # "canary", "restart", "rollback": those given
    service: str
    flag: str
    timeout_s: float = 300.0
    read_flag: tuple[str, ...] = ()  # prints the flag's value


@dataclass(frozen=True)
class WebhookSettings:
    """One request per action; the URL is a credential as often as not (a key in it)."""

    url: str = field(repr=False)
    method: str = "POST"
    body: str = '{"action": "{action}", "percent": "{percent}", "service": "{service}"}'
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    service: str = ""
    timeout_s: float = 30.0


ProviderSettings = RenderSettings | CommandSettings | WebhookSettings


@dataclass(frozen=True)
class ActionsSettings:
    """A target's deploy actions. `provider` is None when a credential it needs is not set,
    and `unavailable` then says which (the console shows it instead of the actions)."""

    provider: ProviderSettings | None
    gate: GateSettings = field(default_factory=GateSettings)
    flag: str = "PERF_OPTIMIZATIONS_ENABLED"  # the canary's feature flag
    unavailable: str = ""
