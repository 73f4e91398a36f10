"""Which target a command watches: the target-selection options, resolved against the run's
config (or, with --demo, the simulated backend's own), the warnings said once."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sbtop.commands.loading import ConfigFile
from sbtop.commands.usage import UsageError

if TYPE_CHECKING:
    from sbtop.config import Config, UiConfig
    from sbtop.wiring import Wiring


@dataclass(frozen=True)
class TargetOptions:
    """--target, --url, --dsn, --prometheus-url and --selector: each over the config's."""

    target: str | None = None
    url: str | None = None
    dsn: str | None = None
    prometheus_url: str | None = None
    selector: str | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> TargetOptions:
        # The top-level parser gives every one a default, so each is there whatever the
        # subcommand (which only adds its own, defaults suppressed).
        return cls(args.target, args.url, args.dsn, args.prometheus_url, args.selector)

    @property
    def given(self) -> bool:
        """Whether a target was named on the command line (by name or by URL)."""
        return bool(self.target or self.url or self.prometheus_url)


def resolve_target(cfg: Config, opts: TargetOptions, *, selector: bool = True) -> Wiring:
    """The target, or one line and exit 3; its warnings (a credential's variable not set)
    said on stderr."""
    from sbtop import config

    try:
        target = config.resolve(cfg, opts.target, url=opts.url, dsn=opts.dsn,
                                prometheus_url=opts.prometheus_url,
                                selector=opts.selector if selector else None)
    except config.ConfigError as e:
        raise UsageError(f"config error: {e}") from None
    for w in target.warnings:
        print(f"sbtop: {w}", file=sys.stderr)
    return target


@contextlib.contextmanager
def target_for(config_file: ConfigFile, opts: TargetOptions,
               demo: bool) -> Iterator[tuple[Wiring, bool]]:
    """The target the options name and whether it is the demo: with `demo`, a simulated
    backend started for as long as the command runs (and the config not read)."""
    if not demo:
        yield resolve_target(config_file.load(), opts), False
        return
    from sbtop.demo.backend import SimulatedBackend

    backend = SimulatedBackend(port=0).start()
    try:
        yield demo_target(backend.url, opts.dsn), True
    finally:
        backend.stop()


# The demo's soak at each step: the runbook's 30 min at 5 % and 1 h at 25 % are for real deploys.
DEMO_SOAK = {"5": "1m", "25": "1m"}
# The simulated backend labels every request with the flag's draw, as the README's snippet does.
DEMO_COHORTS = {"label": "variant", "canary": "optimized", "stable": "baseline"}
DEMO_SOAK_NOTE = ("demo: each canary step soaks 1 minute here (the runbook's plan: 30 min at "
                  "5 %, 1 h at 25 %)")


def demo_target(url: str, dsn: str | None = None, metrics_urls: list[str] | None = None,
                ui: UiConfig | None = None, *, status_pages: bool = True) -> Wiring:
    """The simulated backend with the runbook's defaults, whatever the user's config says
    (bar its `ui`, when given). Its database is only the one given with --dsn: never
    $DATABASE_URL from the shell, which may well be production's. Its deploy actions go to
    the backend's own Render-shaped API; its status pages (`status_pages`) are the backend's
    own Render and Vercel, polled as often as a config may ask."""
    import os

    import msgspec

    from sbtop import config
    from sbtop.checklist import STUDYBUDDY
    from sbtop.config.status_pages import MIN_INTERVAL_S
    from sbtop.demo.app_api import DEMO_EMAIL, DEMO_PASSWORD, DEMO_SESSION
    from sbtop.demo.render_api import API_KEY, SERVICE_ID
    from sbtop.demo.status_pages import PAGES, page_url
    from sbtop.deploy_plan import CONTACTS, demo_plan

    # Loopback: compressing the page would cost both ends CPU and save nothing.
    demo = config.TargetConfig(
        base_url=url, gzip=False, dsn_env="", metrics_urls=metrics_urls or [],
        render=config.RenderConfig(service_id=SERVICE_ID, api_key_env="SBTOP_DEMO_RENDER_KEY",
                                   api_url=url + "/v1"))
    env = {**os.environ, "SBTOP_DEMO_RENDER_KEY": API_KEY}
    # StudyBuddy's checklist, logged in as the simulation's test account; a short soak, so the
    # whole canary story (5 %, 25 %, the gate, a rollback) plays in minutes, not 1.5 hours.
    pages = [{"name": name, "url": page_url(url, page), "interval_s": MIN_INTERVAL_S}
             for page, (name, _components) in PAGES.items()] if status_pages else []
    cfg = msgspec.structs.replace(
        config.parse({"verify": STUDYBUDDY, "canary": {"soak": DEMO_SOAK,
                                                        "cohorts": DEMO_COHORTS},
                      "status_pages": pages, "plan": demo_plan(), "contacts": CONTACTS}),
        targets={"demo": demo})
    if ui is not None:
        cfg = msgspec.structs.replace(cfg, ui=ui)
    return config.resolve(cfg, dsn=dsn, env=env, probe_env={
        "STUDYBUDDY_VERIFY_EMAIL": DEMO_EMAIL, "STUDYBUDDY_VERIFY_PASSWORD": DEMO_PASSWORD,
        "STUDYBUDDY_SESSION_COOKIE": DEMO_SESSION})
