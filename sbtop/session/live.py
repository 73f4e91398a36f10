"""LiveSession: a target collected on the grid, judged, kept in the history, recorded, and
published to whoever subscribed (the console; nobody for `sbtop record` and `sbtop check`).

A tick never raises: a bug of ours is published as a notice and collection goes on."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from sbtop.actions.state import CanaryState, StateDirError, StateStore, default_state_dir
from sbtop.cadence import ROUTES_REDRAW_S, SECOND_SCRAPE_S
from sbtop.clock import SYSTEM, Clock
from sbtop.collector import Collector
from sbtop.engine.assessment import Assessment
from sbtop.engine.engine import Engine
from sbtop.engine.figures import Figure
from sbtop.engine.gate import Gate, evaluate
from sbtop.engine.history import History, Ring
from sbtop.engine.keys import Fig
from sbtop.engine.observations import Observation
from sbtop.engine.page_changes import PageChange, PageWatch
from sbtop.engine.route_history import RouteHistory, RouteTrack
from sbtop.engine.transitions import Event, watch_ended
from sbtop.engine.window import Status, Window
from sbtop.session.actions import ActionLog, LiveActions
from sbtop.session.loop import TickLoop, Waiter
from sbtop.session.plan import make_watch
from sbtop.session.snapshot import (
    Cause,
    Fresh,
    Freshness,
    Notice,
    SessionInfo,
    Snapshot,
    Update,
    judge_freshness,
)
from sbtop.sources.metrics import INLINE_BYTES
from sbtop.sources.status_pages import StatusPoller
from sbtop.tasks import cancel_and_wait
from sbtop.wiring import Wiring

if TYPE_CHECKING:
    from sbtop.recording.writer import Recorder

# How a tick's observation becomes an assessment (None: not judged yet); given when the tick
# began. Normally the engine's; `sbtop check` judges once both its scrapes are in.
Judge: TypeAlias = Callable[[Observation, float], Assessment | None]

FRESHNESS_EVERY_S = 1.0  # between ticks, a hung target is marked STALE within a second
FLAG_EVERY_S = 30.0  # the canary's flag is read from the provider this often
STORE_CANARY_EVERY_S = 5.0  # without a provider (sbtop record): the state file, this often
PREFILL_FIGURES = (Fig.LATENCY_P95_MS, Fig.REQUESTS_PER_S, Fig.SOCKET_CONNECTIONS,
                   Fig.ERROR_RATE_5XX_PCT, Fig.LATENCY_P50_MS, Fig.LATENCY_P99_MS, Fig.MEMORY_PCT)


class Source(Protocol):
    """What a session collects from: a Collector, or anything shaped like one."""

    async def __aenter__(self) -> Any: ...
    async def __aexit__(self, *exc: object) -> None: ...
    async def observe(self) -> Observation: ...


class LiveSession:
    def __init__(self, wiring: Wiring, *, clock: Clock = SYSTEM, refresh_s: float = 1.0,
                 history_s: float = 3600.0, read_only: bool = False, deploy: bool = False,
                 state_dir: Path | None = None, recorder: Recorder | None = None,
                 source: Source | None = None, health_every_s: float | None = None,
                 judge: Judge | None = None, canary_store: StateStore | None = None,
                 stop_with_recorder: bool = False, wait: Waiter | None = None) -> None:
        """`deploy`: the target's controller is made (unless read-only), for the deploy keys.
        `canary_store`: without a controller, the canary is read from the state file (the
        provider is never asked). `stop_with_recorder`: the session is the recording (`sbtop
        record`): when the recorder stops, so does it. `wait`: how the tick loop waits (tests
        on a manual clock move the clock instead)."""
        self.wiring = wiring
        self.clock = clock
        self.source: Source = source or Collector(wiring.collector, clock, health_every_s)
        self.engine = Engine(wiring.engine, wiring.name, wiring.production)
        self._judge: Judge = judge or (lambda obs, _began: self.engine.observe(obs))
        self.history = History(capacity=math.ceil(history_s / min(refresh_s, 1.0)))
        # Each route's figures, for the route drill-down: sampled as often as the route table
        # is redrawn (and recorded), over the same span as the history.
        self.routes = RouteHistory(math.ceil(history_s / ROUTES_REDRAW_S), ROUTES_REDRAW_S)
        self._refresh_s = refresh_s
        self.read_only = read_only
        self.recorder = recorder
        self.stop_with_recorder = stop_with_recorder
        self.actions = LiveActions(self, wiring, state_dir, deploy)
        self.plan_watch = make_watch(wiring, state_dir, self.actions.plan)
        self.player = None  # a live session has no player
        if canary_store is None and deploy and read_only and wiring.actions is not None:
            # Read-only, the provider is never asked: the canary's step and the gate come
            # from the state file the deploying sbtop keeps (no credential needed).
            canary_store = StateStore(state_dir or default_state_dir(), wiring.name)
        self.canary_store = canary_store
        self._stored_canary: CanaryState | None = None
        self._stored_due = -math.inf
        self.assessment: Assessment | None = None
        self.ticks = 0
        self.internal_errors: list[str] = []
        self.failure: Exception | None = None  # the latest tick's, for a face to re-raise
        self.freshness = Freshness()
        self.latest: Snapshot | None = None
        self._in_flight_since: float | None = None
        self._subscribers: list[Callable[[Update], None]] = []
        self._listeners: list[Callable[[Notice], None]] = []
        self._tellers: list[Callable[[Event], None]] = []
        self._loop: TickLoop | None = None
        self._stopping = False
        self._wait = wait
        self.status_pages = StatusPoller(wiring.status_pages, clock)
        self.page_watch = PageWatch()  # what each poll changed, for the snapshot's event

    @property
    def info(self) -> SessionInfo:
        w = self.wiring
        return SessionInfo(w.name, w.production, w.base_url, self.read_only,
                           bool(w.collector.dsn),
                           (self.actions.controller is not None and not self.read_only)
                           or (self.read_only and self.canary_store is not None),
                           w.engine.thresholds)

    # --- the protocol -----------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Update], None]) -> None:
        """Every snapshot and notice, synchronously, on the session's event loop."""
        self._subscribers.append(callback)

    def on_notice(self, callback: Callable[[Notice], None]) -> None:
        """Only the notices (a face with no screen: `sbtop record` writes them to stderr)."""
        self._listeners.append(callback)

    def on_event(self, callback: Callable[[Event], None]) -> None:
        """Moments worth telling someone (the console's notifier listens)."""
        self._tellers.append(callback)

    def announce(self, event: Event) -> None:
        """The hook for a moment no assessment shows (a plan's watch period ended, made by
        sbtop.engine.transitions.watch_ended): told on every channel of whoever listens."""
        for teller in self._tellers:
            teller(event)

    @property
    def refresh_s(self) -> float:
        return self._refresh_s

    def set_refresh(self, seconds: float) -> None:
        self._refresh_s = seconds
        if self._loop is not None:
            self._loop.set_refresh(seconds)

    async def start(self) -> None:
        await self.source.__aenter__()
        await self.status_pages.__aenter__()
        for note in (self.actions.recover(), self.actions.plan_recover()):
            if note:
                self.publish(Notice(note, "warning", 15))

    async def close(self) -> None:
        self.stop()
        self.close_recorder()
        await self.source.__aexit__(None, None, None)
        await self.status_pages.__aexit__(None, None, None)

    async def __aenter__(self) -> LiveSession:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def stop(self) -> None:
        self._stopping = True
        if self._loop is not None:
            self._loop.stop()

    def action_log(self) -> ActionLog:
        return self.actions.log()

    async def run(self, *, max_ticks: int | None = None, for_s: float | None = None) -> int:
        """Tick on the grid until stopped (or `max_ticks`, or `for_s`); meanwhile, judge the
        data's freshness every second (when someone looks) and read the flag every 30 s (when
        there is a provider). The number of ticks taken."""
        if self._stopping:
            return 0
        prom = self.source.prom if isinstance(self.source, Collector) else None
        if prom is not None and self._subscribers:
            with contextlib.suppress(Exception):  # a nicety: never in the way of the figures
                await asyncio.wait_for(self._prefill_history(prom), timeout=5.0)
        # Someone looking at a direct scrape: the second scrape soon after the first, so the
        # first figures do not wait a whole refresh (Prometheus's history fills the screen
        # at once; `record` keeps its grid).
        soon = SECOND_SCRAPE_S if self._subscribers and prom is None else None
        self._loop = TickLoop(self.tick, self._refresh_s, clock=self.clock,
                              max_ticks=max_ticks, for_s=for_s, wait=self._wait,
                              first_gap_s=soon)
        if self._stopping:
            self._loop.stop()
        side: list[asyncio.Task[None]] = []
        if self._subscribers:
            side.append(asyncio.create_task(self._every(FRESHNESS_EVERY_S,
                                                        self._check_freshness_async)))
        if self.actions.controller is not None and not self.read_only:
            side.append(asyncio.create_task(self._every(FLAG_EVERY_S, self.actions.read_flag)))
        if (self._subscribers or self.recorder is not None) and self.wiring.status_pages.pages:
            # Beside the ticks, never in them: a provider's page that hangs holds its own poll.
            # Recorded too (`sbtop record`, nobody looking): each tick line carries what
            # the latest polls said.
            side.append(asyncio.create_task(self.status_pages.run(self.pages_polled)))
        try:
            return await self._loop.run()
        finally:
            await cancel_and_wait(side)

    async def _every(self, seconds: float, job: Callable[[], Any]) -> None:
        """A side job of the loop, again and again: one that fails (a bug of ours) is said
        and tried again next time, as a tick's failure is."""
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except Exception as e:
                self.internal_errors.append(f"{type(e).__name__}: {e}")
                self.publish(Notice(f"sbtop internal error: {type(e).__name__}: {e}",
                                    "error", 10))

    # --- a tick -----------------------------------------------------------------------------

    async def tick(self) -> Assessment | None:
        """Observe, judge, keep, record, publish. Never raises: a bug of ours must not take
        the screen (or the recording) down in the middle of a deploy."""
        if self._in_flight_since is not None:
            return None  # a tick is still running: never two at once
        began = self._in_flight_since = self.clock.now()[0]
        a: Assessment | None = None
        try:
            obs = await self.source.observe()
            if obs.metrics is not None and obs.metrics.size_bytes > INLINE_BYTES:
                a = await asyncio.to_thread(self._judge, obs, began)  # parsing off the loop
            else:
                a = self._judge(obs, began)
            if a is not None:
                self._accept(a, began)
        except Exception as e:
            self.failure = e
            self.internal_errors.append(f"{type(e).__name__}: {e}")
            self.publish(Notice(f"sbtop internal error (collection continues): "
                                f"{type(e).__name__}: {e}", "error", 10))
        finally:
            self._in_flight_since = None
        return a

    def _accept(self, a: Assessment, began: float) -> None:
        if self.canary_store is not None:
            self.canary_state(began)  # the state file read again (every few seconds)
        self.history.add(a)
        self.look_at_plan(a.figures, began)
        # Nobody looks (record, check): no route drill-down to keep. Asked only when a sample
        # is due, as the route table is made when it is read (every few seconds, not each tick).
        if self._subscribers and self.routes.due(a.t):
            self.routes.add(a.t, a.wall, a.routes.every)
        if self.recorder is not None:
            self._record(a, began)
        self.ticks += 1
        self.assessment = a
        self.freshness = self._judge_freshness()
        self.publish_snapshot(Cause.TICK)
        self._tell_watches_over()

    def _record(self, a: Assessment, began: float) -> None:
        from sbtop.recording.meta import canary_record

        assert self.recorder is not None
        c = self.canary_state(began)
        try:
            self.recorder.tick(a, canary_record(c) if c is not None else None,
                               self._page_lines())
        except (OSError, ValueError) as e:  # a full disk must not stop the console
            self.publish(Notice(f"recording stopped: {e}", "error", 15))
            self.close_recorder()
            if self.stop_with_recorder:
                self.stop()
            return
        if self.recorder.stopped:
            if self.stop_with_recorder:
                self.stop()  # said in the summary
                return
            self.publish(Notice(f"recording {self.recorder.stopped}", "warning", 15))
            self.close_recorder()

    def _page_lines(self) -> list[dict[str, Any]] | None:
        """The status pages for the recording (None: none configured, none written)."""
        from sbtop.recording.status_pages import encode

        return encode(self.status_pages.statuses()) if self.wiring.status_pages.pages else None

    def pages_polled(self) -> None:
        """A page was polled: published, with the changes it brought ("Render went
        degraded") as the snapshot's `page_changes`, for whoever acts on them."""
        if not self._subscribers:
            return
        changed = self.page_watch.update(self.status_pages.statuses(), self.clock.now()[1])
        try:
            self.publish_snapshot(Cause.STATUS_PAGES, changed)
        except Exception as e:  # a bug of ours in a subscriber must not end the polls
            self.internal_errors.append(f"{type(e).__name__}: {e}")
            self.publish(Notice(f"sbtop internal error: {type(e).__name__}: {e}", "error", 10))

    def close_recorder(self) -> None:
        if self.recorder is not None:
            with contextlib.suppress(OSError, ValueError):
                self.recorder.close()
            self.recorder = None

    def route_track(self, name: str) -> RouteTrack | None:
        """The route's figures as kept since the session began (with Prometheus too: its
        route table each tick, no range query of its own)."""
        return self.routes.track(name)

    # --- what is published ------------------------------------------------------------------

    def canary_state(self, now_t: float | None = None) -> CanaryState | None:
        """The canary's step, its start and the baseline, as last read (None: no canary)."""
        c = self.actions.controller
        if c is not None:
            return c.state.canary
        if self.canary_store is not None and now_t is not None and now_t >= self._stored_due:
            self._stored_due = now_t + STORE_CANARY_EVERY_S
            store = self.canary_store
            # Read-only never asks the provider: the panel says why the step is unknown (and
            # a watcher's look makes no directory where none is).
            if not store.path.exists():
                self._stored_canary = CanaryState(read_error=(
                    f"read-only: no state file from a deploying sbtop at {store.path}"))
            else:
                try:
                    self._stored_canary = store.load().canary
                except StateDirError as e:  # a directory others may write in: nothing read
                    self._stored_canary = CanaryState(
                        read_error=f"read-only: state file not read: {e}")
        return self._stored_canary

    def gate(self) -> Gate | None:
        c, a = self.actions.controller, self.assessment
        if a is None:
            return None
        if c is not None:
            return c.gate(a.figures)
        stored, actions = self._stored_canary, self.wiring.actions
        if not self.read_only or stored is None or actions is None:
            return None
        # Read-only: the gate judged as the controller would, on the step the file holds.
        return evaluate(None if stored.read_error else stored.percent,
                        stored.step_started_wall, self.clock.now()[1],
                        stored.baseline.get(Fig.LATENCY_P95_MS), a.figures, actions.gate)

    def publish(self, update: Update) -> None:
        for callback in self._subscribers:
            callback(update)
        if isinstance(update, Notice):
            for listener in self._listeners:
                listener(update)

    def publish_snapshot(self, cause: Cause,
                         page_changes: tuple[PageChange, ...] = ()) -> None:
        if not self._subscribers:
            return  # nobody looks (record, check): nothing to build
        t, wall = self.clock.now()
        gate = self.gate()
        self.latest = Snapshot(cause, self.assessment, self.history, self.canary_state(),
                               gate, self.freshness, t, wall, self.ticks,
                               status_pages=self.status_pages.statuses(),
                               page_changes=page_changes, plan=self.plan_window(gate))
        self.publish(self.latest)

    # --- the deploy window ------------------------------------------------------------------

    def look_at_plan(self, figures: Mapping[str, Figure], now_t: float,
                     force: bool = False) -> None:
        """The plan's record read again when due (breaches recorded first); each change
        marked on the charts and written to the recording."""
        if self.plan_watch is None:
            return
        now_wall = self.clock.now()[1]
        for event in self.plan_watch.look(figures, now_t, force):
            wall = event.pop("wall", None) or now_wall  # when it happened, when known
            if "status" in event:
                self.history.mark(wall, f"plan {event['phase']}: {event['status']}")
            elif event.get("reset"):
                self.history.mark(wall, "plan reset")
            if self.recorder is not None:
                with contextlib.suppress(OSError, ValueError):
                    self.recorder.event(wall, "plan", event)

    def _tell_watches_over(self) -> None:
        """A watch period over is told once, judged on this tick's figures and gate: the
        window just published when someone looks, else judged here (once)."""
        if self.plan_watch is None or not self._tellers:
            return
        w = (self.latest.plan if self._subscribers and self.latest is not None
             else self.plan_window(self.gate()))
        for p in self.plan_watch.watches_ended(w):
            self.announce(watch_ended(f"{p.number}. {p.name}", p.verdict, self.wiring.name,
                                      ok=False if p.failing else True if p.ready else None))

    def plan_window(self, gate: Gate | None = None) -> Window | None:
        """The deploy window judged on the latest figures (None: no [plan])."""
        if self.plan_watch is None:
            return None
        a = self.assessment
        return self.plan_watch.window(a.figures if a is not None else {},
                                      self.clock.now()[1], gate)

    def _judge_freshness(self) -> Freshness:
        t, wall = self.clock.now()
        return judge_freshness(self.assessment, t, wall, self._in_flight_since,
                               self._refresh_s)

    def check_freshness(self) -> None:
        """Judge the data's age now (between ticks: a tick in flight waits on a hung target);
        published when it changed, and every time while it is stale or down (it ages)."""
        if self._countdown_due():
            self.publish_snapshot(Cause.PLAN)
        fresh = self._judge_freshness()
        before = self.freshness
        self.freshness = fresh
        if fresh.state is not before.state or fresh.state in (Fresh.STALE, Fresh.DOWN):
            self.publish_snapshot(Cause.FRESHNESS)

    def _countdown_due(self) -> bool:
        """A watch counting down, the window last shown a second ago or more: shown again,
        so its countdown moves each second between slower ticks (a 10 s refresh, a tick held
        by a hung target) rather than stand still and jump. At a 1 s refresh each tick shows
        it: only a tick a whole second late is not waited for (a tick a few milliseconds
        late would otherwise cost an extra snapshot and redraw)."""
        s = self.latest
        if s is None or s.plan is None:
            return False
        c = s.plan.current
        if c is None or c.status is not Status.WATCHING or c.watch_left_s is None:
            return False
        age = self.clock.now()[1] - s.wall
        return not c.watch_over and age >= 1.0 and (self._refresh_s > 1.0 or age >= 2.0)

    async def _check_freshness_async(self) -> None:
        self.check_freshness()

    async def _prefill_history(self, prom: Any) -> None:
        """With Prometheus, the charts open with the last hour already drawn (before the
        first tick, so the rings fill in time order)."""
        seconds = min(3600.0, self.history.capacity * self._refresh_s)
        got: dict[str, list[tuple[float, float]]] = {}
        for key in PREFILL_FIGURES:
            try:
                points = await prom.history(key, seconds, self._refresh_s)
            except Exception:  # history is a nicety: the live figures come anyway
                return
            got[key] = points
            ring = self.history.rings.get(key)
            if ring is None:
                ring = self.history.rings[key] = Ring(self.history.capacity)
            if len(ring) == 0:
                for wall, value in points:
                    ring.append(wall, value)
            if key == Fig.MEMORY_PCT:  # the trends have their slope at once too
                self.engine.trends.seed(got[key], got.get(Fig.SOCKET_CONNECTIONS, []),
                                        *self.clock.now())
