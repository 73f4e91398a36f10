"""How the console shows what its session publishes: each Snapshot to the header and the
panels (or only to the header while paused), the data's freshness as STALE or DOWN, the canary,
a replay's position; each Notice as a notification."""

from __future__ import annotations

import contextlib

from textual.css.query import NoMatches

from sbtop import format
from sbtop.console.base import ConsoleBase
from sbtop.console.freshness import METRIC_PANELS, age_markup, panel_state
from sbtop.console.screens.chart import ChartScreen
from sbtop.console.screens.plan import PlanScreen
from sbtop.console.screens.sessions import SessionsScreen
from sbtop.console.screens.statements import StatementsScreen
from sbtop.console.them import them_markup
from sbtop.console.widgets.canary import CanaryPanel
from sbtop.console.widgets.header import HeaderBar
from sbtop.console.widgets.panel import Panel
from sbtop.engine.assessment import iso
from sbtop.session.snapshot import Cause, Fresh, Notice, Position, SessionInfo, Snapshot, Update


class SnapshotView(ConsoleBase):
    paused = False
    snapshot: Snapshot | None = None  # the latest
    _shown: Snapshot | None = None  # what the panels show (older while paused)
    _age_text = ""
    _panels_of: object = None
    _panel_list: tuple[Panel, ...] = ()

    @property
    def info(self) -> SessionInfo:
        return self.session.info  # read when the screen is composed, as the target is then

    def _on_session(self, u: Update) -> None:
        if isinstance(u, Notice):
            self.say(u)
            return
        self.snapshot = u
        if u.status_pages:
            with contextlib.suppress(NoMatches):  # the app closing: nothing to draw on
                self.query_one(HeaderBar).set_them(them_markup(u.status_pages, u.wall))
        if u.cause in (Cause.TICK, Cause.PLAN):
            self._show_plan(u)
        if u.cause is Cause.TICK:
            self._present(u)
        elif u.cause is Cause.FRESHNESS:
            self._show_freshness(u)
        elif u.cause is Cause.CANARY:
            self._show_canary(u)
        elif u.position is not None:
            # The player may step while the app closes, its widgets already gone: a frame
            # skipped then is nothing to report.
            with contextlib.suppress(NoMatches):
                self._show_position(u.position)

    def _present(self, s: Snapshot) -> None:
        """A new assessment: panels, header, open screens."""
        self._show_freshness(s)
        # The Plan view covers the whole screen (a question may sit on it): the panels behind
        # it wait (their repaints would reach the terminal through it), drawn when it closes.
        covered = any(isinstance(v, PlanScreen) for v in self.screen_stack)
        if not self.paused and not covered:
            self._show(s)
        if isinstance(self.screen, ChartScreen):
            self.screen.redraw()
        elif isinstance(self.screen, SessionsScreen | StatementsScreen):
            self.screen.refresh_rows(s.assessment)

    def _show(self, s: Snapshot) -> None:
        a = s.assessment
        if a is None:
            return
        self._shown = s
        with self.batch_update():
            header = self.query_one(HeaderBar)
            header.set_level(a.level)
            header.set_instances(sum(i.up for i in a.instances), len(a.instances))
            for panel in self._panels():
                panel.show(s)
            if self._age_text:
                self._mark_stale_panels()

    def _panels(self) -> tuple[Panel, ...]:
        """The screen's panels, looked up once per screen: walking the whole DOM for them on
        every tick cost more than drawing them."""
        if self._panels_of is not self.screen:
            self._panels_of, self._panel_list = self.screen, tuple(self.query(Panel))
        return self._panel_list

    def _show_freshness(self, s: Snapshot) -> None:
        text = age_markup(s.freshness)
        if text != self._age_text:
            self._age_text = text
            self.query_one(HeaderBar).set_age(text)
            self._mark_stale_panels()

    def _mark_stale_panels(self) -> None:
        """Old data is marked on every panel that shows metrics; when it is fresh again, the
        panels take back the state of what they show."""
        s = self.snapshot
        if s is None or s.assessment is None:
            return
        panels = [self.query_one(f"#{p}", Panel) for p in METRIC_PANELS]
        if s.freshness.state not in (Fresh.STALE, Fresh.DOWN) or not self._age_text:
            if self._shown is not None:
                for panel in panels:
                    panel.show(self._shown)
            return
        css_class, subtitle = panel_state(s.freshness)
        for panel in panels:
            panel.set_state(css_class, subtitle)

    def _show_canary(self, s: Snapshot) -> None:
        if s.canary is None or not self.info.canary:
            return
        self.query_one(HeaderBar).set_canary(s.canary.percent)
        if s.assessment is not None:
            with contextlib.suppress(Exception):
                self.query_one(CanaryPanel).show(s)

    def _show_position(self, p: Position) -> None:
        """In a replay: where in the recording, playing or paused, the speed."""
        share = 100.0 * (p.wall - p.start) / (p.end - p.start) if p.end > p.start else 100.0
        state = "▶" if p.playing else "⏸"
        self.query_one(HeaderBar).set_replay(
            f"[b reverse $accent] REPLAY [/] {iso(p.wall)} {state} {p.speed}x "
            f"[$text-muted]{format.duration(p.wall - p.start)}/"
            f"{format.duration(p.end - p.start)} ({share:.0f}%)[/]")
