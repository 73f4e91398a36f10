"""`sbtop replay FILE`: the console on a recording, every panel as it was at each tick.

The same app, fed from the recording instead of the target: nothing is collected and no action
exists (read-only). A player moves a position in recorded time at 1x, 10x or 60x; each tick it
passes is shown. Seeking rebuilds the sparklines and charts from the recording's per-figure
arrays (no tick is decoded for them), so a jump across hours costs a few milliseconds. The
clock is the recording's: data age and the canary's soak read as they did then.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from typing import Literal

from textual.binding import Binding
from textual.css.query import NoMatches

from sbtop import format, untrusted
from sbtop.actions.state import CanaryState
from sbtop.clock import ManualClock
from sbtop.config import Target
from sbtop.console.app import SbtopApp
from sbtop.console.screens.actions_log import ActionLogScreen
from sbtop.console.widgets.header import HeaderBar
from sbtop.engine.assessment import Assessment, iso
from sbtop.engine.gate import Gate, evaluate
from sbtop.engine.history import History, Ring
from sbtop.engine.observations import Observation
from sbtop.engine.settings import EngineSettings
from sbtop.recording import meta
from sbtop.recording.reader import Recording
from sbtop.recording.writer import RecordingError
from sbtop.sources.http import HttpSettings

SPEEDS = (1, 10, 60)
STEP_S = 0.1  # the player's timer: position moves this often (a tick shows when it is passed)


class _Nothing:
    """The source of a replay: nothing is collected."""

    async def __aenter__(self) -> _Nothing:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def observe(self) -> Observation:
        raise RuntimeError("a replay collects nothing")


def replay_target(rec: Recording) -> Target:
    h = rec.header
    engine = EngineSettings(window_s=float(h.get("window_s") or 60.0),
                            thresholds=meta.thresholds(h) or EngineSettings().thresholds)
    return Target(name=str(h.get("target", "?")), base_url=f"replay of {rec.path.name}",
                  metrics_url=None, health_url=None, production=bool(h.get("production")),
                  http=HttpSettings(), engine=engine)


class ReplayApp(SbtopApp):
    BINDINGS = [
        *SbtopApp.BINDINGS,
        Binding("left", "seek(-10)", "-10s", tooltip="replay: back 10 s"),
        Binding("right", "seek(10)", "+10s", tooltip="replay: forward 10 s"),
        Binding("pageup", "seek(-300)", "-5m", show=False, tooltip="replay: back 5 min"),
        Binding("pagedown", "seek(300)", "+5m", show=False, tooltip="replay: forward 5 min"),
        Binding("home", "seek_to(0)", "Start", show=False, tooltip="replay: the beginning"),
        Binding("end", "seek_to(-1)", "End", show=False, tooltip="replay: the end"),
        Binding("1", "speed(1)", "1x", show=False, tooltip="replay: real time"),
        Binding("2", "speed(10)", "10x", show=False, tooltip="replay: ten times as fast"),
        Binding("3", "speed(60)", "60x", show=False, tooltip="replay: a minute a second"),
    ]

    def __init__(self, rec: Recording, *, theme: str | None = None, speed: int = 1) -> None:
        self.rec = rec
        refresh = float(rec.header.get("refresh_s") or 1.0)
        clock = ManualClock(rec.ts[0], rec.walls[0])
        self._gate_settings = meta.gate(rec.header)
        super().__init__(replay_target(rec), source=_Nothing(), clock=clock, theme=theme,
                         refresh_s=refresh, collecting=False, read_only=True, controller=None)
        self.manual: ManualClock = clock
        self.index = -1  # the tick shown
        self.position = rec.walls[0]  # the player's place in recorded time
        self.speed = speed if speed in SPEEDS else 1
        self.playing = True
        self._last_step = time.monotonic()
        self._said: set[str] = set()  # what could not be shown, said once each
        self.crashed: str | None = None  # an error that ended the replay (a bug of ours)

    # --- what the console asks of its data -------------------------------------------------

    def shows_canary(self) -> bool:
        return any(self.rec.canary(i) is not None for i in (0, len(self.rec) - 1))

    def canary_state(self) -> CanaryState | None:
        c = self.rec.canary(max(0, self.index))
        if c is None:
            return None
        base = c.get("baseline_p95_ms")
        return CanaryState(percent=c.get("percent"), step_started_wall=c.get("step_started_wall"),
                           baseline={"latency_p95_ms": base} if base is not None else {},
                           read_error=c.get("read_error"))

    def gate(self, a: Assessment) -> Gate | None:
        c = self.canary_state()
        if c is None:
            return None
        percent = None if c.read_error else c.percent
        return evaluate(percent, c.step_started_wall, a.wall, c.baseline.get("latency_p95_ms"),
                        a.figures, self._gate_settings)

    # --- playing ----------------------------------------------------------------------------

    async def on_mount(self) -> None:
        await super().on_mount()
        self._go_to(0, rebuild=True)
        self.set_interval(STEP_S, self._step)
        if self.rec.problem:
            self.notify(f"{self.rec.path.name}: {self.rec.problem}", severity="warning",
                        timeout=10, markup=False)

    def _step(self) -> None:
        # The timer may fire while the app is closing, its widgets already gone: a frame
        # skipped then is nothing to report.
        with contextlib.suppress(NoMatches):
            self._play()

    def _play(self) -> None:
        now = time.monotonic()
        elapsed, self._last_step = now - self._last_step, now
        if not self.playing:
            return
        self.position += elapsed * self.speed
        end = self.rec.walls[-1]
        if self.position >= end:
            self.position = end
            self.playing = False
            self.notify("end of the recording (home: back to the start)", timeout=5)
        i = self.rec.index_at(self.position)
        if i != self.index:
            self._go_to(i, rebuild=i < self.index)
        self._show_position()

    def _go_to(self, i: int, *, rebuild: bool) -> None:
        """Show tick i. Forward from the tick shown, the history takes the ticks passed;
        otherwise it is built again from the recording."""
        try:
            a = self.rec.assessment(i)
        except RecordingError as e:  # the file changed under the replay: nothing more is sure
            self.playing = False
            self._say(str(e), "error")
            return
        if rebuild or self.index < 0:
            _fill(self.history, self.rec, 0, i, clear=True)
        else:
            _fill(self.history, self.rec, self.index + 1, i)
        self.index = i
        self.manual.set(self.rec.ts[i], self.rec.walls[i])
        try:
            self._present(a)
        except Exception as e:  # a value the panels cannot show (a file edited by hand):
            # said, and the replay goes on, as the console goes on after a bug of ours.
            self._say(f"tick {i + 1} is not fully shown ({type(e).__name__}: {e})", "warning")
        self._show_canary()
        self._show_position()

    def _say(self, text: str, severity: Literal["warning", "error"]) -> None:
        key = text.split(" (", 1)[-1]  # each kind of failure once, not once a tick
        if key not in self._said:
            self._said.add(key)
            # Not markup: the text quotes the file ("[1, 2] is not an object").
            self.notify(untrusted.line(text, 300), severity=severity, timeout=10, markup=False)

    def _handle_exception(self, error: Exception) -> None:
        # Whatever still escapes ends the replay with one line and exit 3 (run_replay), not
        # Textual's page of traceback and an exit 0 a script reads as success.
        self.crashed = f"{type(error).__name__}: {error}"
        super()._handle_exception(error)
        self._exit_renderables.clear()

    def _show_position(self) -> None:
        rec = self.rec
        start, end = rec.walls[0], rec.walls[-1]
        wall = rec.walls[max(0, self.index)]
        share = 100.0 * (wall - start) / (end - start) if end > start else 100.0
        state = "▶" if self.playing else "⏸"
        text = (f"[b reverse $accent] REPLAY [/] {iso(wall)} {state} {self.speed}x "
                f"[$text-muted]{format.duration(wall - start)}/"
                f"{format.duration(end - start)} ({share:.0f}%)[/]")
        self.query_one(HeaderBar).set_replay(text)

    # --- keys -----------------------------------------------------------------------------

    def action_pause(self) -> None:
        """space: play or pause the replay."""
        if not self.playing and self.index >= len(self.rec) - 1:
            self.position = self.rec.walls[0]  # at the end, play starts again
            self._go_to(0, rebuild=True)
        self.playing = not self.playing
        self._last_step = time.monotonic()
        self._show_position()

    def action_seek(self, seconds: float) -> None:
        rec = self.rec
        self.position = min(max(self.position + seconds, rec.walls[0]), rec.walls[-1])
        i = rec.index_at(self.position)
        self._go_to(i, rebuild=i < self.index or i - self.index > 1)

    def action_seek_to(self, where: int) -> None:
        self.position = self.rec.walls[0] if where == 0 else self.rec.walls[-1]
        self._go_to(self.rec.index_at(self.position), rebuild=True)

    def action_speed(self, speed: int) -> None:
        self.speed = speed
        self._show_position()

    def action_log(self) -> None:
        """a: the actions recorded (the audit lines written while recording)."""
        entries = [{"time": iso(e.wall), **e.data} for e in self.rec.events
                   if e.kind == "action"]
        self.push_screen(ActionLogScreen(entries, f"recorded in {self.rec.path.name}"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("faster", "slower", "verify"):
            return False  # nothing is collected or sent in a replay
        return super().check_action(action, parameters)


def _fill(history: History, rec: Recording, start: int, end: int, *, clear: bool = False) -> None:
    """Ticks start..end of the recording into the history, from its per-figure arrays: the
    last `capacity` of them when building again."""
    if clear:
        history.rings.clear()
        history.markers.clear()
        start = max(0, end - history.capacity + 1)
    for i in range(start, end + 1):
        wall = rec.walls[i]
        for key, series in rec.series.items():
            v = series[i]
            ring = history.rings.get(key)
            if ring is None:
                ring = history.rings[key] = Ring(history.capacity)
            ring.append(wall, None if math.isnan(v) else v)
    lo, hi = rec.walls[start], rec.walls[end]
    for e in rec.events_between(lo, hi):
        if e.kind == "action":
            history.mark(e.wall, str(e.data.get("action", "action")))


def run_replay(rec: Recording, *, theme: str | None, speed: int) -> int:
    app = ReplayApp(rec, theme=theme, speed=speed)
    app.run()
    if app.signalled is not None:
        return 128 + app.signalled
    if app.crashed is not None:
        print(f"sbtop: the replay stopped on an internal error: {untrusted.line(app.crashed)}",
              file=sys.stderr)
        return 3
    return 0
