"""The live console: one screen an on-call engineer keeps open through a deploy window.

Collection never blocks the screen: each tick runs in a worker (parsing off the event loop),
ticks never overlap (the next is armed only when one ends), and a hung target is marked STALE
by a watchdog within one refresh while the request runs out its timeout. Nothing a worker
raises ends the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver
from textual.markup import escape
from textual.notifications import SeverityLevel
from textual.widgets import Footer, Input

from sbtop import format, untrusted, verify
from sbtop.actions.controller import Controller, Plan
from sbtop.actions.providers import ActionError
from sbtop.actions.requests import Request
from sbtop.actions.state import CanaryState, StateDirError, default_state_dir
from sbtop.clock import SYSTEM, Clock, next_due
from sbtop.config import Target
from sbtop.console import terminal
from sbtop.console.screens.action import ActionScreen
from sbtop.console.screens.actions_log import ActionLogScreen
from sbtop.console.screens.chart import ChartScreen
from sbtop.console.screens.confirm import ConfirmScreen
from sbtop.console.screens.help import HelpScreen
from sbtop.console.screens.sessions import SessionsScreen
from sbtop.console.screens.verify import VerifyScreen
from sbtop.console.themes import DEFAULT_THEME, load_themes
from sbtop.console.watchdog import ExitWatchdog
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
from sbtop.engine.assessment import Assessment, iso
from sbtop.engine.engine import Engine
from sbtop.engine.gate import Gate
from sbtop.engine.history import History
from sbtop.engine.observations import DbSession, Observation
from sbtop.recording.meta import canary_record
from sbtop.recording.writer import Recorder
from sbtop.sources.metrics import INLINE_BYTES
from sbtop.verify import Report

REFRESH_STEPS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
_DEPLOY_ACTIONS = {"canary", "abort", "restart", "rollback", "baseline"}
_MAIN_SCREEN_ACTIONS = {"pause", "faster", "slower", "sort", "filter", "escape", "canary",
                        "abort", "restart", "rollback", "baseline", "log", "verify"}
_LETTER_ACTIONS = {"sort", "filter", "next_theme", "canary", "abort", "restart", "rollback",
                   "baseline", "log", "pause", "quit", "verify"}
# SIGHUP (the SSH session hung up) and SIGTERM end sbtop the way q does, without asking.
STOP_SIGNALS = (signal.SIGHUP, signal.SIGTERM)
# The orderly stop after a signal takes well under a second; should something hang in it, or
# the event loop be wedged and never start it, the process ends anyway this long after the
# signal: a hang-up must never leave an sbtop behind.
STOP_DEADLINE_S = 10.0


class Source(Protocol):
    """What the console collects from: a Collector, or anything shaped like one."""

    async def __aenter__(self) -> Any: ...
    async def __aexit__(self, *exc: object) -> None: ...
    async def observe(self) -> Observation: ...


class SbtopApp(App[None]):
    TITLE = "sbtop"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    Screen { layout: vertical; }
    #panels { grid-size: 2; grid-columns: 1fr 1fr; grid-rows: auto; height: auto; }
    #alerts { height: auto; }
    """
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

    def __init__(self, target: Target, *, source: Source | None = None, clock: Clock = SYSTEM,
                 theme: str | None = None, refresh_s: float = 1.0, history_s: float = 3600.0,
                 collecting: bool = True, read_only: bool = False,
                 controller: Controller | None = None, state_dir: Path | None = None,
                 recorder: Recorder | None = None) -> None:
        super().__init__()
        from sbtop.collector import Collector

        self.target = target
        self.clock = clock
        self.source: Source = source or Collector(target, clock)
        self.engine = Engine(target.engine, target.name, target.production)
        self.history = History(capacity=math.ceil(history_s / min(refresh_s, 1.0)))
        self.refresh_s = refresh_s
        self.collecting = collecting
        # Read-only: the deploy keys do not exist at all, not even greyed out.
        self.read_only = read_only
        self.controller = controller
        self.controller_reason = ""
        if controller is None and not read_only:
            from sbtop.actions.factory import make_controller

            self.controller, self.controller_reason = make_controller(
                target, state_dir or default_state_dir(), clock)
        # Every tick and action also goes to a recording (--record), when one is open.
        self.recorder = recorder
        self.paused = False
        self.assessment: Assessment | None = None
        self.ticks = 0
        self.internal_errors: list[str] = []
        self._in_flight_since: float | None = None
        self._stale_text = ""
        self._shown: Assessment | None = None  # what the panels show (older while paused)
        self._wake = asyncio.Event()  # a new refresh interval takes effect at once
        self._stopping = False
        # The signal (SIGHUP, SIGTERM) that is ending sbtop, if one is: it exits 128 + it.
        self.signalled: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # The stop signals handled, with the handlers they had before.
        self._handled_signals: dict[int, Any] = {}
        self._watchdog: ExitWatchdog | None = None
        self._themes, self._theme_problems = load_themes()
        for t in self._themes.values():
            self.register_theme(t)
        self._wanted_theme = theme

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Notifications are plain text by default here: they quote errors, file names and
        queries, whose brackets must never be read as markup, and any control character left
        in them is shown as an escape (sbtop.untrusted: the second line of defence)."""
        super().notify(untrusted.output(message), title=untrusted.output(title),
                       severity=severity, timeout=timeout, markup=markup)

    # --- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        t = self.target
        yield HeaderBar(t.name, t.production, t.base_url, self.read_only)
        with Grid(id="panels"):
            yield LatencyPanel(id="latency")
            yield TrafficPanel(id="traffic")
            yield SocketsPanel(id="sockets")
            yield DatabasePanel(dsn_given=bool(t.dsn), id="database")
        if self.shows_canary():
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
        header = self.query_one(HeaderBar)
        header.set_refresh(self.refresh_s)
        await self.source.__aenter__()
        self.query_one("#latency", Panel).focus()
        if self.controller is not None and not self.read_only:
            note = self.controller.recover()
            if note:
                self.notify(note, severity="warning", timeout=15)
            self._read_flag()
            if self.collecting:
                self.set_interval(30.0, self._read_flag)
        if self.collecting:
            self._collect_loop()
            self.set_interval(1.0, self._watch_staleness)

    async def on_unmount(self) -> None:
        self._stopping = True
        self._close_recorder()
        for sig, before in self._handled_signals.items():
            # Already on the way out: a second SIGHUP (the login shell passes one on, then the
            # kernel sends its own as the shell exits) must not kill the rest of the stop (the
            # demo's backend, its state directory).
            with contextlib.suppress(Exception):
                signal.signal(sig, signal.SIG_IGN if self.signalled is not None else before)
        self._handled_signals.clear()
        if self._watchdog is not None:
            self._watchdog.close()  # armed, it keeps watching over the rest of the stop
        await self.source.__aexit__(None, None, None)

    # --- signals: hang-up, terminate, suspend -----------------------------------------------

    def _handle_signals(self) -> None:
        """SIGHUP and SIGTERM quit as q does, without asking; a SIGHUP ignored by whoever
        started sbtop (nohup) stays ignored. After SIGTSTP and SIGCONT, everything is drawn
        again.

        The stop signals get plain signal handlers, not the loop's: the handler arms the exit
        watchdog itself, so the process ends even if the loop never gets to run the stop."""
        self._watchdog = ExitWatchdog(STOP_DEADLINE_S)
        for sig in STOP_SIGNALS:
            before = signal.getsignal(sig)
            if before is signal.SIG_IGN:
                continue
            try:
                signal.signal(sig, self._on_stop_signal)
            except (OSError, ValueError):
                continue
            self._handled_signals[sig] = before
        self.app_resume_signal.subscribe(self, self._resumed)

    def _on_stop_signal(self, signum: int, _frame: FrameType | None) -> None:
        """The signal handler: it runs wherever the main thread was interrupted, so it only
        does what takes no lock: arm the watchdog (a byte down a pipe) and queue the orderly
        stop on the loop (a deque append and a byte down the loop's own socket)."""
        if self._watchdog is not None:
            self._watchdog.arm(signum)
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: exiting already
                loop.call_soon_threadsafe(self.stop_on_signal, signum)

    def _resumed(self, _app: object) -> None:
        """Back from a suspension (SIGTSTP, then SIGCONT): the terminal was given back to the
        shell meanwhile, so repaint all of it, not only what changed."""
        self.refresh(layout=True)
        self.screen.refresh()

    def terminal_gone(self) -> None:
        """Called from the writer thread when writing to the terminal fails for good."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._check_terminal)

    def _check_terminal(self) -> None:
        if any(terminal.terminal_gone(fd) for fd in (0, 2)):
            self.stop_on_signal(signal.SIGHUP)  # a hang-up, whether or not one was sent

    def stop_on_signal(self, signum: int) -> None:
        """End sbtop as quitting does, at once: an action in flight is recorded as
        interrupted, a command still running is stopped, the recording is closed, and
        sbtop exits 128 + the signal."""
        if self.signalled is not None:
            return  # a second one (the shell's SIGHUP, then the kernel's): already stopping
        self.signalled = signum
        self._detach_dead_terminal()
        if self._watchdog is not None:  # armed already when a signal handler called this
            self._watchdog.arm(signum)
        self.run_worker(self._stop_for_signal(signum), group="signal", exit_on_error=False)

    def _detach_dead_terminal(self) -> None:
        """A hung-up terminal answers every write with EIO: point the standard streams at
        /dev/null instead, so the last words (restoring the terminal, the recording's
        summary, the interpreter's final flush) go nowhere rather than fail."""
        dead = [fd for fd in (0, 1, 2) if terminal.terminal_gone(fd)]
        if not dead:
            return
        try:
            null = os.open(os.devnull, os.O_RDWR)
        except OSError:
            return
        try:
            for fd in dead:
                with contextlib.suppress(OSError):
                    os.dup2(null, fd)
        finally:
            os.close(null)

    async def _stop_for_signal(self, signum: int) -> None:
        try:
            running = [w for w in self.workers if w.group == "action" and not w.is_finished]
            for w in running:
                w.cancel()  # the controller records the action as interrupted
            for w in running:
                # Its command gets SIGTERM, then SIGKILL a second later, and the state and
                # the audit are written: well within this (and the watchdog's 10 s).
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(w.wait(), timeout=5.0)
        finally:
            self.exit(return_code=128 + signum)

    def _apply_theme(self, wanted: str | None) -> None:
        name = wanted or DEFAULT_THEME
        if name not in self._themes:
            known = ", ".join(self._themes) or "none"
            self.notify(f"no theme named {name!r} (themes: {known})", severity="warning")
            name = DEFAULT_THEME if DEFAULT_THEME in self._themes else "textual-dark"
        self.theme = name

    # --- collection -----------------------------------------------------------------------

    @work(group="collect", exit_on_error=False)
    async def _collect_loop(self) -> None:
        """One long-lived worker: tick, then sleep until the next tick is due. A tick never
        overlaps the next, and the loop costs no timer or worker per tick. Ticks are due on a
        grid (start + n x refresh), so a timer's lateness never accumulates over a shift; a
        new refresh interval counts from when the last tick was due, at once."""
        prom = getattr(self.source, "prom", None)
        if prom is not None:
            with contextlib.suppress(Exception):  # a nicety: never in the way of the figures
                await asyncio.wait_for(self._prefill_history(prom), timeout=5.0)
        due = self.clock.now()[0]
        while not self._stopping:
            await self.tick()
            while not self._stopping:
                left = due + self.refresh_s - self.clock.now()[0]
                if left <= 0:
                    break
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=left)
            due = next_due(due, self.refresh_s, self.clock.now()[0])

    async def tick(self) -> Assessment | None:
        """One tick: observe, judge, show. Never raises: a bug of ours must not take the
        screen down in the middle of a deploy."""
        if self._in_flight_since is not None:
            return None  # a tick is still running: never two at once
        self._in_flight_since = self.clock.now()[0]
        a: Assessment | None = None
        try:
            obs = await self.source.observe()
            if obs.metrics is not None and obs.metrics.size_bytes > INLINE_BYTES:
                a = await asyncio.to_thread(self.engine.observe, obs)
            else:
                a = self.engine.observe(obs)
            self._accept(a)
        except Exception as e:
            self.internal_errors.append(f"{type(e).__name__}: {e}")
            self.notify(f"sbtop internal error (collection continues): {type(e).__name__}: "
                        f"{e}", severity="error", timeout=10)
        finally:
            self._in_flight_since = None
        return a

    def _accept(self, a: Assessment) -> None:
        self.history.add(a)
        if self.recorder is not None:
            self._record(a)
        self._present(a)

    def _record(self, a: Assessment) -> None:
        assert self.recorder is not None
        c = self.canary_state()
        try:
            self.recorder.tick(a, canary_record(c) if c is not None else None)
        except (OSError, ValueError) as e:  # a full disk must not stop the console
            self.notify(f"recording stopped: {e}", severity="error", timeout=15)
            self._close_recorder()
            return
        if self.recorder.stopped:
            self.notify(f"recording {self.recorder.stopped}", severity="warning", timeout=15)
            self._close_recorder()

    def _close_recorder(self) -> None:
        if self.recorder is not None:
            with contextlib.suppress(OSError, ValueError):
                self.recorder.close()
            self.recorder = None

    def _present(self, a: Assessment) -> None:
        """Show an Assessment already in the history: panels, header, open screens."""
        self.ticks += 1
        self.assessment = a
        self._watch_staleness()
        if not self.paused:
            self._show(a)
        if isinstance(self.screen, ChartScreen):
            self.screen.redraw()
        elif isinstance(self.screen, SessionsScreen):
            self.screen.refresh_rows(a)

    def _show(self, a: Assessment) -> None:
        self._shown = a
        with self.batch_update():
            header = self.query_one(HeaderBar)
            header.set_level(a.level)
            header.set_instances(sum(i.up for i in a.instances), len(a.instances))
            for panel in self.query(Panel):
                panel.show(a, self.history)
            if self._stale_text:
                self._mark_stale_panels()

    # --- staleness --------------------------------------------------------------------------

    def stale_after(self) -> float:
        """Data older than this is stale: one refresh plus a margin for a slow answer."""
        return self.refresh_s + max(0.5, 0.5 * self.refresh_s)

    def _watch_staleness(self) -> None:
        a = self.assessment
        now_t, now_wall = self.clock.now()
        metrics = a.sources.get("metrics") if a is not None else None
        text = ""
        if metrics is not None:
            last_ok = metrics.last_ok_wall
            age = now_wall - last_ok if last_ok is not None else None
            waiting = (now_t - self._in_flight_since) if self._in_flight_since is not None else 0.0
            if not metrics.up:
                since = f" {format.duration(age)}" if age is not None else ""
                text = f"[b reverse $warning] DOWN{since} [/]"
            elif age is not None and age > self.stale_after():
                text = f"[b reverse $warning] STALE {format.duration(age)} [/]"
                if waiting > 1:
                    text += f" [$text-muted]waiting {format.duration(waiting)}[/]"
        if text != self._stale_text:
            self._stale_text = text
            self.query_one(HeaderBar).set_age(text)
            self._mark_stale_panels()

    def _mark_stale_panels(self) -> None:
        """Old data is marked on every panel that shows metrics; when it is fresh again, the
        panels take back the state of what they show."""
        a = self.assessment
        if a is None:
            return
        metrics = a.sources.get("metrics")
        panels = [self.query_one(f"#{p}", Panel) for p in ("latency", "traffic", "sockets",
                                                            "routes")]
        if metrics is None or not self._stale_text:
            shown = self._shown
            if shown is not None:
                for panel in panels:
                    panel.show(shown, self.history)
            return
        reason = "DOWN: " + (metrics.error or "?") if not metrics.up else "STALE"
        for panel in panels:
            panel.set_state("-down" if not metrics.up else "-stale", reason[:60])

    # --- actions --------------------------------------------------------------------------

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
        if not self.paused and self.assessment is not None:
            self._show(self.assessment)

    def _step_refresh(self, direction: int) -> None:
        steps = REFRESH_STEPS
        i = min(range(len(steps)), key=lambda j: abs(steps[j] - self.refresh_s))
        i = max(0, min(len(steps) - 1, i + direction))
        self.refresh_s = steps[i]
        self.query_one(HeaderBar).set_refresh(self.refresh_s)
        self._wake.set()

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

    def action_chart(self, keys: tuple[str, ...], title: str) -> None:
        self.push_screen(ChartScreen(title, keys, self.history, self.target.engine.thresholds))

    def action_sessions(self) -> None:
        self.push_screen(SessionsScreen())

    def cancel_query(self, session: DbSession | None) -> None:
        """Cancel one query, after a confirmation naming it. Off unless db.allow_cancel, and
        always off read-only."""
        if self.read_only:
            self.notify("read-only: sbtop cancels nothing", severity="warning")
            return
        if not self.target.db.allow_cancel:
            self.notify("cancelling queries is off: set allow_cancel = true in [db]",
                        severity="warning", timeout=5)
            return
        db = getattr(self.source, "db", None)
        if session is None or db is None:
            self.notify("no query selected", severity="warning")
            return
        details = [f"{session.state or ''} for "
                   f"{format.duration(session.duration_s or 0)}, user {session.user}, "
                   f"application {session.application}, client {session.client}",
                   f"query: {session.query or '?'}"]
        if self.target.production:
            details.insert(0, f"on PRODUCTION target {self.target.name}")

        def answered(yes: bool | None) -> None:
            if yes:
                self._cancel(db, session)
            else:
                self.notify("kept: nothing was cancelled", timeout=3)

        self.push_screen(ConfirmScreen(f"Cancel the query of session {session.id}?", details),
                         answered)

    @work(group="cancel", exclusive=True, exit_on_error=False)
    async def _cancel(self, db: Any, session: DbSession) -> None:
        result = await db.cancel(session)
        self.notify(result, severity="information" if result.startswith("cancel")
                    else "warning", timeout=6)

    async def _prefill_history(self, prom: Any) -> None:
        """With Prometheus, the charts open with the last hour already drawn (before the
        first tick, so the rings fill in time order)."""
        seconds = min(3600.0, self.history.capacity * self.refresh_s)
        for key in ("latency_p95_ms", "requests_per_s", "socket_connections",
                    "error_rate_5xx_pct", "latency_p50_ms", "latency_p99_ms", "memory_pct"):
            try:
                points = await prom.history(key, seconds, self.refresh_s)
            except Exception:  # history is a nicety: the live figures come anyway
                return
            ring = self.history.ring(key) if key in self.history.rings else None
            if ring is None:
                from sbtop.engine.history import Ring

                ring = self.history.rings[key] = Ring(self.history.capacity)
            if len(ring) == 0:
                for wall, value in points:
                    ring.append(wall, value)

    # --- deploy actions ----------------------------------------------------------------------

    def shows_canary(self) -> bool:
        return self.controller is not None and not self.read_only

    def canary_state(self) -> CanaryState | None:
        """The canary's step, its start and the baseline, as last read (None: no canary)."""
        return self.controller.state.canary if self.controller is not None else None

    def gate(self, a: Assessment) -> Gate | None:
        if self.controller is None:
            return None
        return self.controller.gate(a.figures)

    @work(group="flag", exclusive=True, exit_on_error=False)
    async def _read_flag(self) -> None:
        """The canary's step comes from the provider, not from what sbtop last sent."""
        if self.controller is None:
            return
        await self.controller.refresh()
        self._show_canary()

    def _show_canary(self) -> None:
        state = self.canary_state()
        if state is None or not self.shows_canary():
            return
        self.query_one(HeaderBar).set_canary(state.percent)
        if self.assessment is not None:
            with contextlib.suppress(Exception):
                self.query_one(CanaryPanel).show(self.assessment, self.history)

    def _request(self, request: Request) -> None:
        c = self.controller
        if c is None:
            self.notify(f"{request}: not configured: {self.controller_reason}",
                        severity="warning", timeout=6)
            return
        if c.busy:
            self.notify(f"refused: {c.busy} is still running", severity="warning")
            return
        self._plan(request)

    @work(group="plan", exclusive=True, exit_on_error=False)
    async def _plan(self, request: Request) -> None:
        """Look up what the plan must show (a rollback's target), then ask."""
        c = self.controller
        assert c is not None
        figures = self.assessment.figures if self.assessment is not None else {}
        try:
            plan = await c.prepare(request, figures)
        except ActionError as e:
            self.notify(f"{request}: {e}", severity="warning", timeout=6)
            return
        except Exception as e:  # a bug of ours: shown, never fatal
            self.notify(f"{request}: could not be planned: {type(e).__name__}: {e}",
                        severity="error", timeout=10)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._execute(plan)
            else:
                c.audit.append({"target": self.target.name, "action": plan.request,
                                "params": {k: v for k, v in plan.params.shown().items()
                                           if k != "target"},
                                "result": "cancelled at the confirmation", "dry_run": False})
                self.notify("cancelled: nothing was sent", timeout=3)

        self.push_screen(ActionScreen(plan), answered)

    @work(group="action", exclusive=False, exit_on_error=False)
    async def _execute(self, plan: Plan) -> None:
        assert self.controller is not None
        self.notify(f"{plan.request}: started", timeout=3)

        def progress(text: str) -> None:
            self.notify(text, timeout=4)

        figures = self.assessment.figures if self.assessment is not None else None
        try:
            outcome = await self.controller.execute(plan, override=plan.needs_override,
                                                    progress=progress, figures=figures)
        except Exception as e:  # the controller records and clears; this only reports
            self.notify(f"{plan.request}: {type(e).__name__}: {e}", severity="error", timeout=10)
            return
        self.history.mark(self.clock.now()[1], plan.request)
        if self.recorder is not None:
            with contextlib.suppress(OSError, ValueError):
                self.recorder.event(self.clock.now()[1], "action", dict(outcome.audit))
        self.notify(outcome.text, severity="information" if outcome.ok else "error",
                    timeout=10)
        await self.controller.refresh()
        self._show_canary()

    def action_canary(self) -> None:
        self._request(Request.CANARY_NEXT)

    def action_abort(self) -> None:
        self._request(Request.CANARY_ABORT)

    def action_restart(self) -> None:
        self._request(Request.RESTART)

    def action_rollback(self) -> None:
        self._request(Request.ROLLBACK)

    def action_baseline(self) -> None:
        """Capture the baseline again, confirmed: the question names the old baseline and the
        new one, and during a canary it is an override (the canary's own figures would become
        what it is judged against)."""
        c, a = self.controller, self.assessment
        if c is None or a is None:
            self.notify("no baseline: no provider or no figures yet", severity="warning")
            return
        question, details, override = c.baseline_question(a.figures)

        def answered(yes: bool | None) -> None:
            if not yes:
                self.notify("kept: the baseline is unchanged", timeout=3)
                return
            try:
                self.notify(c.capture_baseline(a.figures, override=override), timeout=6)
            except Exception as e:
                self.notify(f"baseline: {type(e).__name__}: {e}", severity="error")
            self._show_canary()

        self.push_screen(ConfirmScreen(question, details), answered)

    async def action_quit(self) -> None:
        """Quitting in the middle of an action asks first: sbtop stops following it (the
        deploy goes on at the provider) and it will be recorded as interrupted."""
        c = self.controller
        if c is None or not c.busy:
            self.exit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(ConfirmScreen(
            f"{c.busy} is still running. Quit anyway?",
            ["The provider carries on; sbtop stops following it and records it as "
             "interrupted in the action log. Check the provider before acting again."]),
            answered)

    def action_help_quit(self) -> None:
        """Ctrl-C: Textual's own answer names the quit key in markup, which this app's notify
        (plain text by default) would show as it is: `[b]ctrl+q[/b]`."""
        for key, active in self.active_bindings.items():
            if active.binding.action in ("quit", "app.quit"):
                self.notify(f"Press [b]{escape(key)}[/b] to quit the app",
                            title="Do you want to quit?", markup=True)
                return

    def action_verify(self) -> None:
        self.push_screen(VerifyScreen(self._verify_report, self.target.name))

    async def _verify_report(self) -> Report:
        """The checklist's probes now, and the metric items on the figures on screen."""
        probes = await verify.probe_checks(self.target)
        a = self.assessment
        baseline = None
        if self.controller is not None:
            canary = self.controller.state.canary
            if canary.baseline:
                baseline = verify.Baseline(dict(canary.baseline), "the canary's, taken "
                                           f"{iso(canary.baseline_wall) or 'earlier'}")
        return verify.judge(self.target, probes, a.figures if a else {}, baseline,
                            self.clock.now()[1])

    def action_log(self) -> None:
        if self.controller is None:
            self.notify(f"no action log: {self.controller_reason}", severity="warning")
            return
        try:
            entries = self.controller.audit.read()
        except StateDirError as e:  # a link left where the log goes since sbtop started
            self.notify(f"no action log: {e}", severity="error", timeout=10)
            return
        self.push_screen(ActionLogScreen(entries, str(self.controller.audit.path)))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.read_only and action in _DEPLOY_ACTIONS:
            return False
        if action in _MAIN_SCREEN_ACTIONS and len(self.screen_stack) > 1:
            return False  # a chart or the sessions view is open: these act on the main screen
        # While typing a filter, letters are text, not commands.
        return not (action in _LETTER_ACTIONS and isinstance(self.focused, Input))


def run(target: Target, *, theme: str | None, refresh_s: float, history_s: float,
        read_only: bool = False, state_dir: Path | None = None,
        record: str | None = None) -> int:
    recorder = None
    if record:
        from sbtop.recording.meta import header
        from sbtop.recording.writer import Recorder, RecordingError

        try:
            recorder = Recorder(Path(record), header(target, refresh_s, SYSTEM.now()[1]))
        except RecordingError as e:
            print(f"sbtop: {e}", file=sys.stderr)
            return 3
    app = SbtopApp(target, theme=theme, refresh_s=refresh_s, history_s=history_s,
                   read_only=read_only, state_dir=state_dir, recorder=recorder)
    try:
        app.run()
    finally:
        app._close_recorder()
    if recorder is not None:
        with contextlib.suppress(OSError):  # the terminal may be gone (a hang-up)
            print(f"sbtop: recorded {recorder.ticks} ticks to {record} "
                  f"({format.size(recorder.bytes_written)})", file=sys.stderr)
    # Ended by a signal: 128 + its number (129 on a hang-up, 143 on SIGTERM), as a shell
    # reports a process the signal ended; the user quitting is 0.
    return 128 + app.signalled if app.signalled is not None else 0
