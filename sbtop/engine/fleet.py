"""Several instances scraped directly (no Prometheus): one tracker per instance, their sums
added into one rollup for the target's figures, and each instance's own up/down and p95.

Each instance keeps its own SeriesTracker, so a restart of one instance (its counters back to
zero) is detected on that instance alone. The target's sums are the instances' sums added up:
every instance's sums only grow, so their total only grows, and the window figures work on it
exactly as on one instance's. An instance that stops answering keeps its last sums in the
total (it adds nothing while it is down) rather than leaving it, which would make the total
fall and read as a reset. One that answers again after more than a window is taken as a new
baseline: what its counters gained meanwhile happened at unknown times, and counted at once it
would pass for a burst (Prometheus's rate() leaves such a gap out the same way).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from sbtop.engine.exposition import ParseError
from sbtop.engine.observations import InstanceStatus, MetricsScrape
from sbtop.engine.quantile import INF, histogram_quantile
from sbtop.engine.series import BUCKET, FLAT_GROUPS, ROUTE_GROUPS, Rollup, SeriesTracker, Sums
from sbtop.engine.settings import EngineSettings


@dataclass(slots=True)
class _Member:
    tracker: SeriesTracker
    window: collections.deque[Rollup] = field(default_factory=collections.deque)
    last: Rollup | None = None  # the latest rollup that worked
    last_ok_t: float | None = None
    error: str | None = None  # why the latest scrape failed; None when it worked


@dataclass(frozen=True, slots=True)
class FleetRound:
    """One round of scrapes, one per instance, made into what the engine needs."""

    rollup: Rollup | None  # None when no instance has answered yet
    instances: tuple[InstanceStatus, ...]
    answered: int  # instances whose page was read this round
    samples: int  # wanted samples on the pages read this round
    size_bytes: int
    elapsed_ms: float  # the slowest instance's

    @property
    def down(self) -> tuple[InstanceStatus, ...]:
        return tuple(i for i in self.instances if not i.up)


class Fleet:
    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self._members: dict[str, _Member] = {}
        self._rounds = 0

    def observe(self, scrapes: Sequence[MetricsScrape], t: float, wall: float) -> FleetRound:
        fresh: list[Rollup] = []
        samples = 0
        reset = False
        for s in scrapes:
            m = self._members.get(s.instance)
            if m is None:
                m = self._members[s.instance] = _Member(
                    SeriesTracker(self.settings.names, self.settings.forget_after_scrapes))
            was_down = m.error is not None
            rollup, m.error = None, s.error
            if s.page is not None:
                if (was_down and m.last_ok_t is not None
                        and s.t - m.last_ok_t > self.settings.window_s):
                    m.tracker.rebaseline()
                    m.window.clear()
                try:
                    rollup = m.tracker.observe(s.page, s.t, s.wall)
                except ParseError as e:
                    m.error = f"unparsable page: {e}"
            elif m.error is None:
                m.error = "no page"
            if rollup is None:
                continue
            samples += s.page.count() if s.page is not None else 0
            reset = reset or rollup.reset
            m.last, m.last_ok_t = rollup, s.t
            _slide(m.window, rollup, self.settings.window_s)
            fresh.append(rollup)
        instances = tuple(self._status(name, m) for name, m in self._members.items())
        merged = None
        if fresh:
            self._rounds += 1
            kept = [m.last for m in self._members.values() if m.last is not None]
            merged = merge(kept, fresh, t, wall, self._rounds, reset)
        return FleetRound(merged, instances, len(fresh), samples,
                          sum(s.size_bytes for s in scrapes),
                          max((s.elapsed_ms for s in scrapes), default=0.0))

    def _status(self, name: str, m: _Member) -> InstanceStatus:
        if m.error is not None:
            return InstanceStatus(name, False, m.error)
        return InstanceStatus(name, True, None, _p95_ms(m.window, self.settings))


def merge(kept: Sequence[Rollup], fresh: Sequence[Rollup], t: float, wall: float, scrape: int,
          reset: bool) -> Rollup:
    """The instances' sums added up (`kept`: each instance's latest, answering or not), with
    the gauges of those that answered this round (`fresh`): sockets add up, memory and
    event-loop lag are the worst instance's."""
    sums: Sums = {g: {} for g in (*FLAT_GROUPS, *ROUTE_GROUPS)}
    for r in kept:
        for g in FLAT_GROUPS:
            into = sums[g]
            for k, v in r.sums.get(g, {}).items():
                into[k] = into.get(k, 0.0) + v
        for g in ROUTE_GROUPS:
            nested = sums[g]
            for rk, sub in r.sums.get(g, {}).items():
                into = nested.setdefault(rk, {})
                for k, v in sub.items():
                    into[k] = into.get(k, 0.0) + v
    gauges: dict[str, float] = {}
    sockets = [r.gauges["sockets"] for r in fresh if "sockets" in r.gauges]
    if sockets:
        gauges["sockets"] = sum(sockets)
    for key in ("rss", "event_loop_lag"):
        values = [r.gauges[key] for r in fresh if key in r.gauges]
        if values:
            gauges[key] = max(values)
    return Rollup(
        t=t, wall=wall, sums=sums, scrape=scrape, reset=reset,
        histogram_present=any(r.histogram_present for r in fresh),
        counter_present=any(r.counter_present for r in fresh),
        counter_has_status=any(r.counter_has_status for r in fresh),
        hist_count_has_status=any(r.hist_count_has_status for r in fresh),
        gauges=gauges,
        socket_gauge=next((r.socket_gauge for r in fresh if r.socket_gauge), None),
        message_counter=next((r.message_counter for r in fresh if r.message_counter), None),
        ignored=sum(r.ignored for r in fresh),
    )


def _slide(window: collections.deque[Rollup], rollup: Rollup, window_s: float) -> None:
    window.append(rollup)
    horizon = rollup.t - window_s
    while len(window) >= 2 and window[1].t <= horizon:
        window.popleft()


def _p95_ms(window: collections.deque[Rollup], settings: EngineSettings) -> float | None:
    """One instance's p95 over its window; None while it has too few requests to say."""
    if len(window) < 2:
        return None
    before = window[0].sums.get(BUCKET, {})
    buckets = {le: v - before.get(le, 0.0) for le, v in window[-1].sums.get(BUCKET, {}).items()}
    total = buckets.get(INF)
    if total is None or total < settings.min_requests:
        return None
    seconds = histogram_quantile(0.95, sorted(buckets.items()))
    return seconds * 1000.0 if math.isfinite(seconds) else None
