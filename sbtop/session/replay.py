"""ReplaySession: a recording played back as the session it was, every tick as it was shown.

Nothing is collected and nothing can be sent (read-only). A player moves a position in recorded
time at 1x, 10x or 60x, stepped by the tick loop every 0.1 s; each tick it passes is published.
Seeking rebuilds the history from the recording's per-figure arrays (no tick is decoded for
them), so a jump across hours costs a few milliseconds. The session's clock is the recording's:
data age and the canary's soak read as they did then."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from sbtop import untrusted
from sbtop.actions.state import CanaryState
from sbtop.cadence import ROUTES_REDRAW_S
from sbtop.clock import SYSTEM, Clock, ManualClock
from sbtop.engine import codec
from sbtop.engine.assessment import Assessment, iso
from sbtop.engine.gate import Gate, evaluate
from sbtop.engine.history import History, Ring
from sbtop.engine.keys import Fig
from sbtop.engine.route_history import RouteHistory, RouteTrack
from sbtop.engine.routes import Routes
from sbtop.engine.settings import EngineSettings
from sbtop.engine.window import PlanState, Window, judge_window
from sbtop.recording import meta, plan_events
from sbtop.recording.reader import Recording
from sbtop.recording.writer import RecordingError
from sbtop.session.actions import ActionLog
from sbtop.session.loop import TickLoop
from sbtop.session.snapshot import (
    Cause,
    Freshness,
    Notice,
    Position,
    SessionInfo,
    Severity,
    Snapshot,
    Update,
    judge_freshness,
)

SPEEDS = (1, 10, 60)
STEP_S = 0.1  # the player's step: the position moves this often (a tick shows when passed)
HISTORY_S = 3600.0  # as much history as the console keeps


def replay_info(rec: Recording) -> SessionInfo:
    """The header and panels of a replay: the recorded target, read-only, the recorded
    thresholds for the charts' lines; a canary panel when the recording holds a canary."""
    h = rec.header
    canary = any(rec.canary(i) is not None for i in (0, len(rec) - 1))
    return SessionInfo(str(h.get("target", "?")), bool(h.get("production")),
                       f"replay of {rec.path.name}", True, False, canary,
                       meta.thresholds(h) or EngineSettings().thresholds)


class ReplaySession:
    def __init__(self, rec: Recording, *, speed: int = 1, clock: Clock = SYSTEM) -> None:
        self.rec = rec
        self._info = replay_info(rec)
        self._refresh_s = float(rec.header.get("refresh_s") or 1.0)
        # The recording's time, set to each tick shown; `clock` (real time) moves the player.
        self.clock = ManualClock(rec.ts[0], rec.walls[0])
        self.real = clock
        self.history = History(capacity=math.ceil(HISTORY_S / min(self._refresh_s, 1.0)))
        # Each route's figures from the recording's route tables, as live: kept up while
        # playing forward; after a seek, built again only when a route's chart is opened
        # (that decodes the ticks of the span, which a seek must not wait for).
        self.routes = RouteHistory(math.ceil(HISTORY_S / ROUTES_REDRAW_S), ROUTES_REDRAW_S)
        self._routes_at: int | None = None  # the tick the route history is current to
        self.read_only = True
        self.actions = None  # nothing is sent from a replay
        self.player = self
        self._gate_settings = meta.gate(rec.header)
        self._plan_settings = plan_events.plan_settings(rec.header)  # None: no plan recorded
        self._plan_at: tuple[float, PlanState] | None = None
        self.index = -1  # the tick shown
        self.position = rec.walls[0]  # the player's place in recorded time
        self.speed = speed if speed in SPEEDS else 1
        self.playing = True
        self._last_step = clock.now()[0]
        self._said: set[str] = set()  # what could not be shown, said once each
        self.assessment: Assessment | None = None
        self.ticks = 0
        self.latest: Snapshot | None = None
        self._subscribers: list[Callable[[Update], None]] = []
        self._loop: TickLoop | None = None
        self._stopping = False

    @property
    def info(self) -> SessionInfo:
        return self._info

    # --- the protocol -----------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Update], None]) -> None:
        self._subscribers.append(callback)

    @property
    def refresh_s(self) -> float:
        return self._refresh_s  # as recorded: a replay's interval is not changed

    def set_refresh(self, seconds: float) -> None:
        return None

    async def start(self) -> None:
        self.go_to(0, rebuild=True)
        if self.rec.problem:
            self.publish(Notice(f"{self.rec.path.name}: {self.rec.problem}", "warning", 10))

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping = True
        if self._loop is not None:
            self._loop.stop()

    async def run(self) -> int:
        """The player: a step every 0.1 s until stopped."""
        self._loop = TickLoop(self._step, STEP_S, clock=self.real)
        if self._stopping:
            self._loop.stop()
        return await self._loop.run()

    def action_log(self) -> ActionLog:
        """The actions recorded (the audit lines written while recording)."""
        entries = [{"time": iso(e.wall), **e.data} for e in self.rec.events
                   if e.kind == "action"]
        return ActionLog(entries, f"recorded in {self.rec.path.name}")

    def publish(self, update: Update) -> None:
        for callback in self._subscribers:
            callback(update)

    # --- the recording's canary -------------------------------------------------------------

    def canary_state(self) -> CanaryState | None:
        c = self.rec.canary(max(0, self.index))
        if c is None:
            return None
        base = c.get("baseline_p95_ms")
        return CanaryState(percent=c.get("percent"), step_started_wall=c.get("step_started_wall"),
                           baseline={Fig.LATENCY_P95_MS: base} if base is not None else {},
                           read_error=c.get("read_error"))

    def gate(self) -> Gate | None:
        c, a = self.canary_state(), self.assessment
        if c is None or a is None:
            return None
        percent = None if c.read_error else c.percent
        return evaluate(percent, c.step_started_wall, a.wall, c.baseline.get(Fig.LATENCY_P95_MS),
                        a.figures, self._gate_settings)

    # --- playing ----------------------------------------------------------------------------

    def position_now(self) -> Position:
        rec = self.rec
        return Position(rec.walls[max(0, self.index)], rec.walls[0], rec.walls[-1],
                        self.playing, self.speed)

    def _snapshot(self, cause: Cause) -> Snapshot:
        t, wall = self.clock.now()
        a = self.assessment
        fresh = judge_freshness(a, t, wall, None, self._refresh_s) if a else Freshness()
        # The status pages as recorded at the tick shown, judged at its time (view()): an
        # answer that was old then reads old, never as now.
        gate = self.gate()
        self.latest = Snapshot(cause, a, self.history, self.canary_state(), gate, fresh,
                               t, wall, self.ticks, self.position_now(),
                               status_pages=self.rec.status_pages(max(0, self.index)),
                               plan=self.plan_window(gate))
        return self.latest

    def plan_window(self, gate: Gate | None = None) -> Window | None:
        """The deploy window as it stood at the tick shown, judged on its recorded figures."""
        a, settings = self.assessment, self._plan_settings
        if settings is None or a is None:
            return None
        if self._plan_at is None or self._plan_at[0] != a.wall:  # a tick is published thrice
            self._plan_at = (a.wall, plan_events.state_at(self.rec.events, a.wall))
        return judge_window(settings, self._plan_at[1], a.figures, a.wall, gate)

    def _show_position(self) -> None:
        # Only the player moved: the tick's snapshot as it is, with the new position (the
        # canary and the gate of the tick shown have not changed).
        if self.latest is None:
            self.publish(self._snapshot(Cause.POSITION))
            return
        self.latest = dataclasses.replace(self.latest, cause=Cause.POSITION,
                                          position=self.position_now())
        self.publish(self.latest)

    async def _step(self) -> None:
        now = self.real.now()[0]
        elapsed, self._last_step = now - self._last_step, now
        if not self.playing:
            return
        self.position += elapsed * self.speed
        end = self.rec.walls[-1]
        ended = self.position >= end
        if ended:
            self.position = end
            self.playing = False
            self.publish(Notice("end of the recording (home: back to the start)", timeout=5))
        i = self.rec.index_at(self.position)
        if i != self.index:
            self.go_to(i, rebuild=i < self.index)  # which shows the position too
        elif ended:
            self._show_position()  # between ticks, only the end changes what the header says

    def go_to(self, i: int, *, rebuild: bool) -> None:
        """Show tick i. Forward from the tick shown, the history takes the ticks passed;
        otherwise it is built again from the recording."""
        try:
            if not rebuild and self.index >= 0 and self._routes_at == self.index:
                self._feed_routes(self.index + 1, i)
            else:
                self._routes_at = None
            a = self.rec.assessment(i)
        except RecordingError as e:  # the file changed under the replay: nothing more is sure
            self.playing = False
            self._say(str(e), "error")
            return
        if rebuild or self.index < 0:
            fill(self.history, self.rec, 0, i, clear=True)
        else:
            fill(self.history, self.rec, self.index + 1, i)
        self.index = i
        self.clock.set(self.rec.ts[i], self.rec.walls[i])
        self.ticks += 1
        self.assessment = a
        try:
            self.publish(self._snapshot(Cause.TICK))
            self.publish(self._snapshot(Cause.CANARY))  # the canary as recorded at this tick
        except Exception as e:  # a value the panels cannot show (a file edited by hand):
            # said, and the replay goes on, as the console goes on after a bug of ours.
            self._say(f"tick {i + 1} is not fully shown ({type(e).__name__}: {e})", "warning")
        self._show_position()

    def route_track(self, name: str) -> RouteTrack | None:
        """The route's figures from the recording, up to the tick shown."""
        if self.index >= 0 and self._routes_at != self.index:
            self.routes.clear()
            try:
                self._feed_routes(max(0, self.index - self.history.capacity + 1), self.index)
            except RecordingError as e:
                self._say(str(e), "error")
                return None
        return self.routes.track(name)

    def _feed_routes(self, start: int, end: int) -> None:
        """Ticks start..end's route tables into the route history. Every tick is read in
        turn (each is a change from the one before), the table decoded only when due."""
        self._routes_at = None  # until done: a failure part way leaves it to be built again
        rec = self.rec
        for j in range(start, end + 1):
            encoded = rec.encoded(j)
            t = rec.ts[j]
            if self.routes.due(t):
                table = encoded.get("routes")
                routes = codec.decode(Routes, table) if isinstance(table, dict) else Routes()
                self.routes.add(t, rec.walls[j], routes.every)
        self._routes_at = end

    def _say(self, text: str, severity: Severity) -> None:
        key = text.split(" (", 1)[-1]  # each kind of failure once, not once a tick
        if key not in self._said:
            self._said.add(key)
            self.publish(Notice(untrusted.line(text, 300), severity, 10))

    # --- the player's keys ------------------------------------------------------------------

    def play_pause(self) -> None:
        if not self.playing and self.index >= len(self.rec) - 1:
            self.position = self.rec.walls[0]  # at the end, play starts again
            self.go_to(0, rebuild=True)
        self.playing = not self.playing
        self._last_step = self.real.now()[0]
        self._show_position()

    def seek(self, seconds: float) -> None:
        rec = self.rec
        self.position = min(max(self.position + seconds, rec.walls[0]), rec.walls[-1])
        i = rec.index_at(self.position)
        self.go_to(i, rebuild=i < self.index or i - self.index > 1)

    def seek_to(self, where: int) -> None:
        """0: the start; anything else: the end."""
        self.position = self.rec.walls[0] if where == 0 else self.rec.walls[-1]
        self.go_to(self.rec.index_at(self.position), rebuild=True)

    def set_speed(self, speed: int) -> None:
        self.speed = speed
        self._show_position()


def fill(history: History, rec: Recording, start: int, end: int, *, clear: bool = False) -> None:
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
        elif e.kind == "plan" and "status" in e.data:  # the deploy window's phases
            history.mark(e.wall, f"plan {e.data.get('phase', '?')}: {e.data['status']}")
        elif e.kind == "plan" and e.data.get("reset"):
            history.mark(e.wall, "plan reset")
