"""What the composition root hands the rest of sbtop: one frozen `Wiring` per run, made of each
subsystem's own settings, so a subsystem is told only what it uses and nothing else reads the
config.

The types live here, apart from sbtop.config which builds them (sbtop/config/compose.py): the
faces and subsystems import these plain values without importing the config's schema, its
binder or its validation (an import-linter contract keeps it so). Each subsystem's settings
live beside it where it has a package of its own (sources, actions, recording); those of the
console and of verify, whose modules load Textual or an HTTP client, live here.

    Config + command line + environment --(sbtop.config.resolve)--> Wiring
        .identity   name, production, base URL         the header, the audit, the state file
        .collector  CollectorSettings                  Collector(wiring.collector, clock)
        .engine     EngineSettings (the collector's)   Engine(wiring.engine, name, production)
        .actions    ActionsSettings | None             build_controller(actions, identity, ...)
        .recording  RecordingSettings                  recording.meta.header(...)
        .console    ConsoleSettings                    the console's theme, cadence, switches
        .verify     VerifySettings                     verify.probe_checks / judge
        .plan       PlanSettings | None                build_plan_controller(plan, ...)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sbtop.actions.settings import ActionsSettings
from sbtop.engine.advice import RUNBOOK_ADVICE, Advice
from sbtop.engine.settings import EngineSettings
from sbtop.engine.verify import Probe, Tolerances
from sbtop.engine.window import PlanSettings
from sbtop.notify.settings import Contacts, NotifySettings
from sbtop.recording.settings import RecordingSettings
from sbtop.sources.settings import CollectorSettings, HttpSettings
from sbtop.sources.status_settings import StatusPagesSettings


@dataclass(frozen=True)
class TargetIdentity:
    """Which target this is: what every face shows and every record names."""

    name: str
    production: bool = False
    base_url: str = ""


@dataclass(frozen=True)
class ConsoleSettings:
    """The console's [ui] settings and the two [db] switches it alone acts on."""

    theme: str = "dark"
    refresh_s: float = 1.0
    history_s: float = 3600.0
    read_only: bool = False
    allow_cancel: bool = False  # cancelling a query from the sessions view ([db])
    allow_terminate: bool = False  # ending a session from the sessions view ([db])


def _no_checklist(_base_url: str) -> tuple[Probe, ...]:
    return ()


@dataclass(frozen=True)
class VerifySettings:
    """The post-deployment checklist and how its metric items are judged."""

    target: str = ""  # the name the report carries
    base_url: str = ""  # where the probes go
    http: HttpSettings = field(default_factory=HttpSettings)
    tolerances: Tolerances = field(default_factory=Tolerances)
    # The checklist as probes against a base URL. A function, not a tuple: the probes'
    # credentials are read from the environment when verify runs, not at start-up (and a
    # check, which never verifies, is not refused over a checklist's credentials).
    checklist: Callable[[str], tuple[Probe, ...]] = field(default=_no_checklist, repr=False,
                                                          compare=False)

    def probes(self) -> tuple[Probe, ...]:
        return self.checklist(self.base_url)


@dataclass(frozen=True)
class Secrets:
    """What a target's outside calls carry, as read from the environment; None where the
    variable named is not set (or the setting is not in use). Each subsystem is handed its
    own inside its settings; this is the whole, for whoever must say what is set."""

    render_api_key: str | None = None  # Render's API (the render provider)
    prometheus_header: str | None = None  # the value of targets.NAME.prometheus.header
    prometheus_password: str | None = None  # basic auth with prometheus.basic_user
    http_header: str | None = None  # the value of the webhook's actions.http.header
    http_url: str | None = None  # the webhook's URL, when kept in the environment (url_env)

    def __repr__(self) -> str:
        # Which are set, so a log or a test failure says enough; never a value.
        held = [f"{f.name}=<set>" for f in dataclasses.fields(self) if getattr(self, f.name)]
        return f"Secrets({', '.join(held)})"


@dataclass(frozen=True)
class Wiring:
    """One target, ready to run: every subsystem's settings, built once from the config."""

    identity: TargetIdentity
    collector: CollectorSettings
    recording: RecordingSettings
    verify: VerifySettings
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    actions: ActionsSettings | None = None  # None: no deploy provider configured
    warnings: tuple[str, ...] = ()  # said once, on stderr, before anything runs
    # Providers' status pages ("is it us or them"); none configured, none polled.
    status_pages: StatusPagesSettings = field(default_factory=StatusPagesSettings)
    # What to do now per breached figure; who is told, and how; who to call.
    advice: Mapping[str, Advice] = field(default_factory=lambda: dict(RUNBOOK_ADVICE))
    notify: NotifySettings = field(default_factory=NotifySettings)
    contacts: Contacts = field(default_factory=Contacts)
    plan: PlanSettings | None = None  # the deploy window's phases and pre-flight ([plan])

    @property
    def engine(self) -> EngineSettings:
        return self.collector.engine

    def with_engine(self, engine: EngineSettings) -> Wiring:
        """The same target judged by other engine settings (check's window, say): the engine's
        settings live in the collector's, whose queries and scrapes depend on them."""
        return dataclasses.replace(self, collector=dataclasses.replace(self.collector,
                                                                       engine=engine))

    @property
    def name(self) -> str:
        return self.identity.name

    @property
    def production(self) -> bool:
        return self.identity.production

    @property
    def base_url(self) -> str:
        return self.identity.base_url

