"""Drive the console deterministically: a real simulated backend advanced by hand, a manual
clock, the session's ticks taken on demand. Same data every run, so screens can be compared
byte for byte."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any

from rich.console import Console

from sbtop import config
from sbtop.clock import ManualClock
from sbtop.console.app import SbtopApp
from sbtop.demo.backend import SimulatedBackend
from sbtop.demo.render_api import API_KEY, SERVICE_ID
from sbtop.session.live import LiveSession


class Harness:
    def __init__(self, *, theme: str = "dark", production: bool = True,
                 base_url: str | None = None, history_s: float = 3600.0,
                 state_dir: Path | None = None, read_only: bool = False,
                 **target: Any) -> None:
        self.backend = SimulatedBackend(port=0, background=False).start()
        self.clock = ManualClock()
        env: dict[str, str] = {}
        if state_dir is not None:
            # Deploy actions against the backend's own Render-shaped API.
            self.backend.render.build_s, self.backend.render.update_s = 0.05, 0.05
            target["render"] = config.RenderConfig(service_id=SERVICE_ID,
                                                   api_key_env="SB_TEST_RENDER_KEY",
                                                   api_url=self.backend.render_url)
            env["SB_TEST_RENDER_KEY"] = API_KEY
        tc = config.TargetConfig(base_url=base_url or self.backend.url, production=production,
                                 gzip=False, **target)
        resolved = config.resolve(config.Config(targets={"demo": tc}), env=env)
        # The header shows the base URL: a fixed one keeps screens the same from run to run
        # (the checklist's probes still go to the backend).
        shown = dataclasses.replace(resolved, identity=dataclasses.replace(
            resolved.identity, base_url="https://studybuddy.example"))
        self.session = LiveSession(shown, clock=self.clock, history_s=history_s,
                                   read_only=read_only, deploy=True, state_dir=state_dir)
        self.app = SbtopApp(self.session, theme=theme, collecting=False)

    async def ticks(self, n: int, pilot: Any, seconds: float = 1.0) -> None:
        for _ in range(n):
            self.backend.advance(seconds)
            self.clock.advance(seconds)
            await self.session.tick()
        await pilot.pause()

    def close(self) -> None:
        self.backend.stop()


def live_app(target: Any, *, theme: str | None = None, collecting: bool = True,
             **session: Any) -> SbtopApp:
    """The console on a live session of `target`, as `sbtop` makes it (the deploy keys on)."""
    return SbtopApp(LiveSession(target, deploy=True, **session), theme=theme,
                    collecting=collecting)


def screen_text(app: SbtopApp, styles: bool = False) -> str:
    """The screen as text (with ANSI styles when asked), as Textual composes it."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text(styles=styles)
