"""Drive the console deterministically: a real simulated backend advanced by hand, a manual
clock, the session's ticks taken on demand. Same data every run, so screens can be compared
byte for byte."""

from __future__ import annotations

import dataclasses
import html
import re
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from rich.cells import cell_len
from textual.app import App

from sbtop import config
from sbtop.clock import ManualClock
from sbtop.config.schema import SloConfig
from sbtop.console.app import SbtopApp
from sbtop.demo.backend import SimulatedBackend
from sbtop.demo.render_api import API_KEY, SERVICE_ID
from sbtop.session.live import LiveSession


class Harness:
    def __init__(self, *, theme: str = "dark", production: bool = True,
                 base_url: str | None = None, history_s: float = 3600.0,
                 state_dir: Path | None = None, read_only: bool = False,
                 slo: SloConfig | None = None, canary: config.CanaryConfig | None = None,
                 plan: dict[str, Any] | None = None, **target: Any) -> None:
        """`plan`: a [plan] table (sbtop.deploy_plan's), the deploy window in the console."""
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
        planned = config.parse({"plan": plan}).plan if plan is not None else None
        cfg = config.Config(targets={"demo": tc}, slo=slo or SloConfig(),
                            **({"canary": canary} if canary is not None else {}),
                            **({"plan": planned} if planned else {}))
        resolved = config.resolve(cfg, env=env)
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


_TEXT = re.compile(r'<text class="[^"]*" x="([\d.]+)" y="[\d.]+" textLength="([\d.]+)" '
                   r'clip-path="url\(#[^)]*-line-(\d+)\)">([^<]*)</text>')


def screen_text(app: App[Any]) -> str:
    """The screen as text, as Textual's own screenshot (its public export) shows it."""
    width, height = app.size
    return svg_text(app.export_screenshot(), width, height)


def svg_text(svg: str, width: int, height: int) -> str:
    """The text of a screenshot: each run of text sits in it at its column (its x over the
    width of a cell), and a wide character takes two cells."""
    rows: list[list[str]] = [[" "] * width for _ in range(height)]
    for x, length, line, body in _TEXT.findall(svg):
        text = html.unescape(body).replace("\xa0", " ")
        cells = cell_len(text)
        if not cells or int(line) >= height:
            continue
        row, col = rows[int(line)], round(float(x) / (float(length) / cells))
        for ch in text:
            if col >= width:
                break
            row[col] = ch
            if cell_len(ch) == 2 and col + 1 < width:
                row[col + 1] = ""
            col += cell_len(ch)
    return "\n".join("".join(row) for row in rows)


# Every notification each app was given, as Textual was handed it (after sbtop's own escaping):
# recorded by wrapping Textual's public App.notify, for every app of this process.
_said: WeakKeyDictionary[App[Any], list[str]] = WeakKeyDictionary()
_textual_notify = App.notify


def _notify(self: App[Any], message: str, *args: Any, **kwargs: Any) -> None:
    _said.setdefault(self, []).append(str(message))
    _textual_notify(self, message, *args, **kwargs)


App.notify = _notify  # type: ignore[method-assign]


def notifications(app: App[Any]) -> list[str]:
    """What app has notified so far."""
    return list(_said.get(app, []))
