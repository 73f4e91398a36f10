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
from textual.widgets import Input

from sbtop import format, gc_hold
from sbtop.cadence import ROUTES_REDRAW_S
from sbtop.clock import SYSTEM
from sbtop.console import terminal
from sbtop.console.deploy import DeployKeys
from sbtop.console.layout import LAYOUT_CSS, LayoutView
from sbtop.console.messages import ChartRequested, RouteChartRequested, SessionsRequested
from sbtop.console.notify import NotifyKeys
from sbtop.console.plan_keys import PlanKeys
from sbtop.console.screens.actions_log import ActionLogScreen
from sbtop.console.screens.chart import ChartScreen, RouteChartScreen
from sbtop.console.screens.help import HelpScreen
from sbtop.console.screens.sessions import SessionsScreen
from sbtop.console.screens.statements import StatementsScreen
from sbtop.console.screens.verify import VerifyScreen
from sbtop.console.signals import SignalHandling
from sbtop.console.themes import DEFAULT_THEME, load_themes, match_no_color
from sbtop.console.widgets.alerts import AlertsPanel
from sbtop.console.widgets.canary import CanaryPanel
from sbtop.console.widgets.database import DatabasePanel
from sbtop.console.widgets.header import HeaderBar
from sbtop.console.widgets.instances import InstancesPanel
from sbtop.console.widgets.keys import KeysFooter
from sbtop.console.widgets.latency import LatencyPanel
from sbtop.console.widgets.panel import Panel
from sbtop.console.widgets.routes import RoutesPanel
from sbtop.console.widgets.sockets import SocketsPanel
from sbtop.console.widgets.traffic import TrafficPanel
from sbtop.session.actions import Refused
from sbtop.session.live import LiveSession
from sbtop.session.protocol import Session
from sbtop.session.snapshot import Notice
from sbtop.wiring import Wiring

REFRESH_STEPS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
_DEPLOY_ACTIONS = {"canary", "abort", "restart", "rollback", "baseline"}
_MAIN_SCREEN_ACTIONS = {"pause", "faster", "slower", "sort", "filter", "escape", "canary",
                        "abort", "restart", "rollback", "baseline", "deploy_off", "log",
                        "verify", "sessions", "mute", "statements", "plan", "plan_off"}
_LETTER_ACTIONS = {"sort", "filter", "next_theme", "canary", "abort", "restart", "rollback",
                   "baseline", "deploy_off", "log", "pause", "quit", "verify", "sessions",
                   "mute", "statements", "plan", "plan_off"}


class SbtopApp(LayoutView, DeployKeys, NotifyKeys, PlanKeys, SignalHandling):
    TITLE = "sbtop"
    READ_ONLY_WORDS = "read-only: actions are off"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    Screen { layout: vertical; }
    #panels { grid-size: 2; grid-columns: 1fr 1fr; grid-rows: auto; height: auto; }
    #alerts { height: auto; }
    """ + LAYOUT_CSS
    # In the order of the footer (which shows those that can act now) and of the help: what
    # a night on call needs first. The tooltips are the help's lines (one line each at 80
    # columns: 67 characters at most).
    BINDINGS = [
        Binding("q", "quit", "Quit", tooltip="quit (asks first only while an action runs); "
                "ctrl+c too"),
        # Ctrl-C and Ctrl-Q quit too, as in htop and k9s, from any screen or dialog, and
        # while typing (where q is a letter).
        Binding("ctrl+c,ctrl+q", "quit_key", "Quit", show=False, priority=True),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="this help"),
        # The deploy keys are in the footer only where they can act (a provider, not
        # read-only); elsewhere the twin below answers the key with the reason.
        Binding("c", "canary", "Canary",
                tooltip="canary: the next step (the plan first; the gate decides)"),
        Binding("0", "abort", "Abort", tooltip="canary abort: the flag back to 0, and a deploy"),
        Binding("r", "restart", "Restart", tooltip="restart the service"),
        Binding("b", "rollback", "Rollback",
                tooltip="roll back to the last deploy that was live"),
        Binding("B", "baseline", "Baseline",
                tooltip="capture the canary baseline (p95) again, now"),
        Binding("c,0,r,b,B", "deploy_off", show=False),
        # A view: in the help, not the footer (the header has the window's line); where no
        # plan is configured, the twin says why.
        Binding("p", "plan", "Plan", show=False,
                tooltip="the deploy window: pre-flight, phases, watch, rollback"),
        Binding("p", "plan_off", show=False),
        # The footer holds what fits 80 columns: quit, help and the keys that act; the views
        # and the routes' own keys are in the help (the routes panel names its filter key).
        Binding("a", "log", "Log", show=False,
                tooltip="the action log: one row per action, its result"),
        Binding("v", "verify", "Verify",
                tooltip="the post-deployment checklist (in it, v runs it again)"),
        # Keys not in the footer share a line of the help two by two (key_display names both,
        # the second has no tooltip): the whole help fits 80x24 with the contacts under it.
        Binding("d", "sessions", "Sessions", show=False, key_display="d / S",
                tooltip="database: its sessions, longest first / its statements"),
        Binding("S", "statements", "Statements", show=False),
        Binding("space", "pause", "Pause", show=False, key_display="space +/-",
                tooltip="pause / resume the display; refresh more (+) or less (-) often"),
        Binding("s", "sort", "Sort", show=False, key_display="s / /",
                tooltip="routes: sort (slowest p95, most 5xx, busiest) / filter by name"),
        Binding("slash", "filter", "Filter", key_display="/", show=False),
        # Rarely needed in a night: in the help, not the footer (which has room for the rest
        # at 120 columns).
        Binding("plus,equals", "faster", "Refresh", key_display="+/-", show=False),
        Binding("minus", "slower", "Slower", show=False),
        Binding("t", "next_theme", "Theme", show=False, key_display="t / m",
                tooltip="next theme (themes/) / mute the bell and desktop alerts"),
        Binding("m", "mute", "Mute", show=False),
        Binding("escape", "escape", "Clear", show=False, tooltip="clear the route filter"),
    ]

    def __init__(self, session: Session, *, theme: str | None = None,
                 collecting: bool = True, notes: tuple[str, ...] = ()) -> None:
        """`collecting`: the app runs the session's loop (tests tick it by hand instead);
        `notes`: said once at start (the demo's short soak)."""
        super().__init__()
        self._notes = notes
        self.session = session
        # Read-only: the deploy keys are not in the footer or the help; pressed, they say so.
        self.read_only = session.read_only
        self.collecting = collecting
        self._themes, self._theme_problems = load_themes()
        for t in self._themes.values():
            self.register_theme(t)
        self._wanted_theme = theme
        # The theme before the stylesheet is first read: set once the screen is up (as it
        # was), it read and applied the stylesheet again to every widget before the first
        # frame. What is wrong with the wanted theme is said once mounted (_apply_theme).
        self.theme = self._theme_to_apply(theme)
        match_no_color(self)
        session.subscribe(self._on_session)
        self._take_notify_settings()

    # --- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        i = self.info
        # The screen's size and moment classes before its widgets are styled: set after,
        # they would restyle all of them and draw the screen again (layout.py).
        self._arrange_screen(self.screen)
        yield HeaderBar(i.name, i.production, i.base_url, i.read_only)
        with Grid(id="panels"):
            yield LatencyPanel(id="latency")
            yield TrafficPanel(id="traffic")
            yield SocketsPanel(id="sockets")
            yield DatabasePanel(dsn_given=i.database, id="database")
        if i.canary:
            yield CanaryPanel(id="canary", read_only=i.read_only and self.session.player is None)
        yield AlertsPanel(id="alerts")
        yield InstancesPanel(id="instances")
        yield RoutesPanel(id="routes")
        yield KeysFooter(compact=True)

    def get_driver_class(self) -> type[Driver]:
        driver = super().get_driver_class()
        return terminal.Driver if driver is LinuxDriver else driver

    async def on_mount(self) -> None:
        self._loop = asyncio.get_running_loop()
        if not self.is_headless:
            self._handle_signals()
        self._apply_theme(self._wanted_theme)
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        for problem in self._theme_problems:
            self.notify(problem, severity="warning", timeout=10)
        for note in self._notes:
            self.notify(note, timeout=20)
        self.query_one(HeaderBar).set_refresh(self.session.refresh_s)
        self._start_notifier()
        for panel in self.query(Panel):
            panel.advise = self.advise
        self.query_one("#latency", Panel).focus()
        # The first full screen drawn, the collector may run again (held by `sbtop`'s start).
        self.call_after_refresh(gc_hold.release)
        if self.collecting and self.session.player is None:
            # Live, the screen first: the session's start (HTTP client, state file) and its
            # first tick come right after the first frame, not before it. A replay starts at
            # once: its first recorded tick, history and all, is its first frame.
            self.call_after_refresh(lambda: self.run_worker(self._collect(), group="collect"))
            return
        await self._start_session()
        if self.collecting:
            self.run_worker(self.session.run(), group="collect")

    async def _start_session(self) -> None:
        await self.session.start()
        if self.session.actions is not None and not self.read_only:
            self._read_flag()

    async def _collect(self) -> None:
        await self._start_session()
        await self.session.run()

    async def on_unmount(self) -> None:
        self.session.stop()
        self._release_signals()
        await self._close_notifier()
        await self.session.close()

    def _theme_to_apply(self, wanted: str | None) -> str:
        name = wanted or DEFAULT_THEME
        if name not in self._themes:
            name = DEFAULT_THEME if DEFAULT_THEME in self._themes else "textual-dark"
        return name

    def _theme_changed(self, _theme: object) -> None:
        if match_no_color(self):
            self.screen.refresh()  # drawn again through the filter that fits

    def _apply_theme(self, wanted: str | None) -> None:
        name = wanted or DEFAULT_THEME
        if name not in self._themes:
            known = ", ".join(self._themes) or "none"
            self.notify(f"no theme named {name!r} (themes: {known})", severity="warning")
        self.theme = self._theme_to_apply(wanted)

    # --- keys -------------------------------------------------------------------------------

    def help_rows(self) -> list[tuple[str, str]]:
        """The help's lines, (key, what it does), from the bindings themselves."""
        rows = [(b.key_display or b.key, b.tooltip) for b in self.BINDINGS
                if isinstance(b, Binding) and b.tooltip and b.action != "escape"
                and not (self.read_only and b.action in _DEPLOY_ACTIONS)]
        rows[2:2] = [("tab", "move between panels (shift+tab: back)"),
                     ("enter", "full screen: the focused panel (Routes: the cursor's route)"),
                     ("j / k", "Routes: move the route cursor (also down / up)"),
                     ("escape", "close a chart, a view or this help; clear the filter")]
        if not self.read_only:
            rows.append(("x / K", "sessions view: cancel the query / end the session"))
        # The canary's two keys on one line (both are in the footer, so their key_display
        # stays theirs): the help fits 80x24 with the runbook's contacts under it.
        keys = [k for k, _ in rows]
        if "c" in keys and "0" in keys:
            rows[keys.index("c")] = ("c / 0", "canary: the next step (the gate decides) / "
                                     "abort: the flag to 0")
            del rows[keys.index("0")]
        return rows

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.help_rows(), [
            "Levels are words: OK WARN CRIT UNKN; STALE and DOWN mark old data.",
            *self.notify_notes(),
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

    def on_route_chart_requested(self, m: RouteChartRequested) -> None:
        route = m.route
        self.push_screen(RouteChartScreen(route, lambda: self.session.route_track(route),
                                          self.session.history, self.info.thresholds,
                                          ROUTES_REDRAW_S))

    def on_sessions_requested(self, _m: SessionsRequested) -> None:
        actions = self.session.actions

        def refusal(kind: str) -> Notice | None:
            if actions is None:
                return Notice(self.READ_ONLY_WORDS, "warning")
            return actions.db_refusal(kind)

        self.push_screen(SessionsScreen(self.snapshot.assessment if self.snapshot else None,
                                        refusal))

    def action_statements(self) -> None:
        if not self.info.database:
            self.notify("no database configured: give --dsn or set dsn_env")
            return
        self.push_screen(StatementsScreen(self.snapshot.assessment if self.snapshot else None))

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

    def action_deploy_off(self) -> None:
        """A deploy key where no action can be taken: say why, rather than nothing."""
        if self.read_only:
            self.notify(self.READ_ONLY_WORDS, severity="warning", timeout=4)
            return
        actions = self.session.actions
        reason = actions.reason if actions is not None else ""
        self.notify(f"deploy actions: not configured: {reason}", severity="warning", timeout=6)

    def _can_deploy(self) -> bool:
        actions = self.session.actions
        return not self.read_only and actions is not None and actions.controller is not None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in _DEPLOY_ACTIONS and not self._can_deploy():
            return False  # not in the footer; the key goes on to deploy_off, which says why
        if action == "deploy_off" and self._can_deploy():
            return False
        if action in ("plan", "plan_off") and (action == "plan") != self.has_plan():
            return False
        if action in _MAIN_SCREEN_ACTIONS and len(self.screen_stack) > 1:
            return False  # a chart or the sessions view is open: these act on the main screen
        # While typing a filter, letters are text, not commands.
        return not (action in _LETTER_ACTIONS and isinstance(self.focused, Input))


def run(wiring: Wiring, *, theme: str | None, refresh_s: float, history_s: float,
        read_only: bool = False, state_dir: Path | None = None,
        record: str | None = None, notes: tuple[str, ...] = ()) -> int:
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
    app = SbtopApp(session, theme=theme, notes=notes)
    try:
        app.run()
    finally:
        session.close_recorder()
    if recorder is not None:
        with contextlib.suppress(OSError):  # the terminal may be gone (a hang-up)
            print(f"sbtop: recorded {recorder.ticks} ticks to {record} "
                  f"({format.size(recorder.bytes_written)})", file=sys.stderr)
    return exit_code(app)


def exit_code(app: SbtopApp) -> int:
    """Ended by a signal: 128 + its number (129 on a hang-up, 143 on SIGTERM), as a shell
    reports a process the signal ended; a crash of ours (Textual's report on the screen) is
    3, as the replay's is (it was 0, which a wrapper reads as success); the user quitting
    is 0."""
    if app.signalled is not None:
        return 128 + app.signalled
    return 3 if app.return_code else 0
