"""The console: one screen an on-call engineer keeps open through a deploy window.

The app shows a Session (live, or a replay) and routes keys; it collects nothing itself. The
session's tick loop runs in a worker (each tick off the screen's way, parsing off the event
loop); every tick, and every change of the data's freshness or the canary between ticks, comes
as a Snapshot the app hands to its panels. Nothing a tick raises ends the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver
from textual.markup import escape
from textual.widgets import Footer, Input

from sbtop import format
from sbtop.clock import SYSTEM
from sbtop.console import terminal
from sbtop.console.deploy import DeployKeys
from sbtop.console.layout import LAYOUT_CSS, LayoutView
from sbtop.console.messages import ChartRequested, SessionsRequested
from sbtop.console.screens.actions_log import ActionLogScreen
from sbtop.console.screens.chart import ChartScreen
from sbtop.console.screens.help import HelpScreen
from sbtop.console.screens.sessions import SessionsScreen
from sbtop.console.screens.verify import VerifyScreen
from sbtop.console.signals import SignalHandling
from sbtop.console.themes import DEFAULT_THEME, load_themes
from sbtop.console.widgets.alerts import AlertsPanel
from sbtop.console.widgets.canary import CanaryPanel
from sbtop.console.widgets.database import DatabasePanel
from sbtop.console.widgets.header import HeaderBar
from sbtop.console.widgets.instances import InstancesPanel
from sbtop.console.widgets.latency import LatencyPanel
from sbtop.console.widgets.panel import Panel
from sbtop.console.widgets.routes import RoutesPanel
from sbtop.console.widgets.sockets import SocketsPanel
from sbtop.console.widgets.traffic import TrafficPanel
from sbtop.session.actions import Refused
from sbtop.session.live import LiveSession
from sbtop.session.protocol import Session
from sbtop.wiring import Wiring

REFRESH_STEPS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
_DEPLOY_ACTIONS = {"canary", "abort", "restart", "rollback", "baseline"}
_MAIN_SCREEN_ACTIONS = {"pause", "faster", "slower", "sort", "filter", "escape", "canary",
                        "abort", "restart", "rollback", "baseline", "log", "verify"}
_LETTER_ACTIONS = {"sort", "filter", "next_theme", "canary", "abort", "restart", "rollback",
                   "baseline", "log", "pause", "quit", "verify"}


class SbtopApp(LayoutView, DeployKeys, SignalHandling):
    TITLE = "sbtop"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    Screen { layout: vertical; }
    #panels { grid-size: 2; grid-columns: 1fr 1fr; grid-rows: auto; height: auto; }
    #alerts { height: auto; }
    """ + LAYOUT_CSS
    BINDINGS = [
        Binding("q", "quit", "Quit", tooltip="quit sbtop"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="this help"),
        Binding("space", "pause", "Pause", tooltip="pause / resume the display (collection "
                "goes on)"),
        Binding("plus,equals", "faster", "Refresh", key_display="+/-",
                tooltip="refresh more often (+) or less often (-)"),
        Binding("minus", "slower", "Slower", show=False),
        Binding("s", "sort", "Sort", tooltip="sort routes: slowest p95, most 5xx, busiest, name"),
        Binding("slash", "filter", "Filter", key_display="/",
                tooltip="filter routes by name (enter keeps it, escape clears it)"),
        Binding("t", "next_theme", "Theme", tooltip="next theme (files in themes/)"),
        Binding("c", "canary", "Canary", show=False,
                tooltip="canary: the next step (plan shown first; the gate decides)"),
        Binding("0", "abort", "Abort", show=False,
                tooltip="canary abort: the flag back to 0 and a deploy"),
        Binding("r", "restart", "Restart", show=False, tooltip="restart the service"),
        Binding("b", "rollback", "Rollback", show=False,
                tooltip="roll back to the last deploy that was live"),
        Binding("B", "baseline", "Baseline", show=False,
                tooltip="capture the canary baseline (p95) again, now"),
        Binding("a", "log", "Actions", show=False, tooltip="the action log"),
        Binding("v", "verify", "Verify", show=False,
                tooltip="the post-deployment checklist (probes and metric items), re-runnable"),
        Binding("escape", "escape", "Clear", show=False, tooltip="clear the route filter"),
    ]

    def __init__(self, session: Session, *, theme: str | None = None,
                 collecting: bool = True) -> None:
        """`collecting`: the app runs the session's loop (tests tick it by hand instead)."""
        super().__init__()
        self.session = session
        # Read-only: the deploy keys do not exist at all, not even greyed out.
        self.read_only = session.read_only
        self.collecting = collecting
        self._themes, self._theme_problems = load_themes()
        for t in self._themes.values():
            self.register_theme(t)
        self._wanted_theme = theme
        session.subscribe(self._on_session)

    # --- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        i = self.info
        yield HeaderBar(i.name, i.production, i.base_url, i.read_only)
        with Grid(id="panels"):
            yield LatencyPanel(id="latency")
            yield TrafficPanel(id="traffic")
            yield SocketsPanel(id="sockets")
            yield DatabasePanel(dsn_given=i.database, id="database")
        if i.canary:
            yield CanaryPanel(id="canary")
        yield AlertsPanel(id="alerts")
        yield InstancesPanel(id="instances")
        yield RoutesPanel(id="routes")
        yield Footer()

    def get_driver_class(self) -> type[Driver]:
        driver = super().get_driver_class()
        return terminal.Driver if driver is LinuxDriver else driver

    async def on_mount(self) -> None:
        self._loop = asyncio.get_running_loop()
        if not self.is_headless:
            self._handle_signals()
        self._apply_theme(self._wanted_theme)
        for problem in self._theme_problems:
            self.notify(problem, severity="warning", timeout=10)
        self.query_one(HeaderBar).set_refresh(self.session.refresh_s)
        self.query_one("#latency", Panel).focus()
        await self.session.start()
        if self.session.actions is not None and not self.read_only:
            self._read_flag()
        if self.collecting:
            self.run_worker(self.session.run(), group="collect")

    async def on_unmount(self) -> None:
        self.session.stop()
        self._release_signals()
        await self.session.close()

    def _apply_theme(self, wanted: str | None) -> None:
        name = wanted or DEFAULT_THEME
        if name not in self._themes:
            known = ", ".join(self._themes) or "none"
            self.notify(f"no theme named {name!r} (themes: {known})", severity="warning")
            name = DEFAULT_THEME if DEFAULT_THEME in self._themes else "textual-dark"
        self.theme = name

    # --- keys -------------------------------------------------------------------------------

    def action_help(self) -> None:
        bindings = [b for b in self.BINDINGS if isinstance(b, Binding) and b.tooltip
                    and not (self.read_only and b.action in _DEPLOY_ACTIONS)]
        bindings.insert(5, Binding("enter", "", "Chart", tooltip="the focused panel full "
                                   "screen: history chart; on Database, the sessions"))
        if not self.read_only:
            bindings.insert(6, Binding("x", "", "Cancel", tooltip="in the sessions view: "
                                       "cancel the selected query (needs db.allow_cancel)"))
        self.push_screen(HelpScreen(bindings, [
            "Levels are words: OK WARN CRIT UNKN; STALE and DOWN mark old data.",
        ]))

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.query_one(HeaderBar).set_paused(self.paused)
        if not self.paused and self.snapshot is not None:
            self._show(self.snapshot)

    def _step_refresh(self, direction: int) -> None:
        steps = REFRESH_STEPS
        i = min(range(len(steps)), key=lambda j: abs(steps[j] - self.session.refresh_s))
        i = max(0, min(len(steps) - 1, i + direction))
        self.session.set_refresh(steps[i])  # at once: the loop's wait is cut short
        self.query_one(HeaderBar).set_refresh(steps[i])

    def action_faster(self) -> None:
        self._step_refresh(-1)

    def action_slower(self) -> None:
        self._step_refresh(+1)

    def action_sort(self) -> None:
        label = self.query_one(RoutesPanel).cycle_sort()
        self.notify(f"routes sorted by {label}", timeout=2)

    def action_filter(self) -> None:
        self.query_one(RoutesPanel).start_filter()

    def action_escape(self) -> None:
        routes = self.query_one(RoutesPanel)
        if routes.filter_text or routes.has_class("-filtering"):
            routes.clear_filter()

    def action_next_theme(self) -> None:
        names = list(self._themes)
        if not names:
            return
        i = names.index(self.theme) + 1 if self.theme in names else 0
        wanted = names[i % len(names)]
        try:
            self.theme = wanted
        except Exception as e:  # a theme file Textual cannot apply: skip it, keep running
            self._themes.pop(wanted, None)
            self.notify(f"theme {wanted}: cannot be applied ({e}); skipped", severity="warning")
            return
        self.notify(f"theme: {self.theme}", timeout=2)

    def on_chart_requested(self, m: ChartRequested) -> None:
        self.push_screen(ChartScreen(m.title, m.keys, self.session.history,
                                     self.info.thresholds))

    def on_sessions_requested(self, _m: SessionsRequested) -> None:
        self.push_screen(SessionsScreen(self.snapshot.assessment if self.snapshot else None))

    def action_help_quit(self) -> None:
        """Ctrl-C: Textual's own answer names the quit key in markup, which this app's notify
        (plain text by default) would show as it is: `[b]ctrl+q[/b]`."""
        for key, active in self.active_bindings.items():
            if active.binding.action in ("quit", "app.quit"):
                self.notify(f"Press [b]{escape(key)}[/b] to quit the app",
                            title="Do you want to quit?", markup=True)
                return

    def action_verify(self) -> None:
        actions = self.session.actions
        if actions is not None:
            self.push_screen(VerifyScreen(actions.verify_report, self.info.name))

    def action_log(self) -> None:
        try:
            log = self.session.action_log()
        except Refused as e:
            self.say(e.notice)
            return
        self.push_screen(ActionLogScreen(log.entries, log.where))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.read_only and action in _DEPLOY_ACTIONS:
            return False
        if action in _MAIN_SCREEN_ACTIONS and len(self.screen_stack) > 1:
            return False  # a chart or the sessions view is open: these act on the main screen
        # While typing a filter, letters are text, not commands.
        return not (action in _LETTER_ACTIONS and isinstance(self.focused, Input))


def run(wiring: Wiring, *, theme: str | None, refresh_s: float, history_s: float,
        read_only: bool = False, state_dir: Path | None = None,
        record: str | None = None) -> int:
    recorder = None
    if record:
        from sbtop.recording.meta import header
        from sbtop.recording.writer import Recorder, RecordingError

        try:
            recorder = Recorder(Path(record), header(wiring.recording, refresh_s, SYSTEM.now()[1]))
        except RecordingError as e:
            print(f"sbtop: {e}", file=sys.stderr)
            return 3
    session = LiveSession(wiring, refresh_s=refresh_s, history_s=history_s,
                          read_only=read_only, deploy=True, state_dir=state_dir,
                          recorder=recorder)
    app = SbtopApp(session, theme=theme)
    try:
        app.run()
    finally:
        session.close_recorder()
    if recorder is not None:
        with contextlib.suppress(OSError):  # the terminal may be gone (a hang-up)
            print(f"sbtop: recorded {recorder.ticks} ticks to {record} "
                  f"({format.size(recorder.bytes_written)})", file=sys.stderr)
    # Ended by a signal: 128 + its number (129 on a hang-up, 143 on SIGTERM), as a shell
    # reports a process the signal ended; the user quitting is 0.
    return 128 + app.signalled if app.signalled is not None else 0
