"""Several instances scraped directly (no Prometheus): one tracker and one window per
instance, added up for the target's figures, and each instance's own up/down and p95.

Each instance keeps its own SeriesTracker, so a restart of one instance (its counters back to
zero) is detected on that instance alone, and its own window, dated by its own scrape times:
an instance that answers three seconds late has a window three seconds shorter, and its rate is
its increase over that span. The target's increases (for the quantiles and the error ratios)
are the instances' increases added up, and its rates the instances' rates added up.

An instance that stops answering keeps what it served inside the window, averaged over the
window up to now (it adds nothing while it is down), until that falls out of the window. One
that answers again after more than a window is taken as a new baseline: what its counters
gained meanwhile happened at unknown times, and counted at once it would pass for a burst
(Prometheus's rate() leaves such a gap out the same way).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from sbtop.engine.deltas import Deltas, add_deltas, deltas
from sbtop.engine.exposition import ParseError
from sbtop.engine.observations import InstanceStatus, MetricsScrape
from sbtop.engine.quantile import INF, histogram_quantile
from sbtop.engine.rollup import Rollup, Sums, slide, trim
from sbtop.engine.series import SeriesTracker
from sbtop.engine.settings import EngineSettings


@dataclass(slots=True)
class _Member:
    tracker: SeriesTracker
    window: collections.deque[Rollup] = field(default_factory=collections.deque)
    last: Rollup | None = None  # the latest rollup that worked
    last_ok_t: float | None = None
    error: str | None = None  # why the latest scrape failed; None when it worked
    failed_before: bool = False  # it has not answered at some point since sbtop started

    @property
    def counted(self) -> bool:
        """Its traffic is in the figures: it answered now, and before, within the window
        (its first answer, or the first after a long gap, is only a baseline)."""
        return self.error is None and len(self.window) >= 2


@dataclass(frozen=True, slots=True)
class FleetRound:
    """One round of scrapes, one per instance, made into what the engine needs."""

    # What the instances' pages held, for the figures (None when no instance has answered
    # yet), and the window's increases and rates (None until some instance has two scrapes).
    end: Rollup | None
    deltas: Deltas | None
    instances: tuple[InstanceStatus, ...]
    answered: int  # instances whose page was read this round
    samples: int  # wanted samples on the pages read this round
    size_bytes: int
    elapsed_ms: float  # the slowest instance's
    # Answering, but not in the figures yet (a first answer is a baseline); and whether any of
    # those had not answered before (then the window misses its traffic: worth a warning).
    uncounted: tuple[str, ...] = ()
    returning: bool = False
    reset: bool = False  # some instance's counters restarted this round

    @property
    def down(self) -> tuple[InstanceStatus, ...]:
        return tuple(i for i in self.instances if not i.up)


class Fleet:
    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self._members: dict[str, _Member] = {}
        self._rounds = 0

    def observe(self, scrapes: Sequence[MetricsScrape], t: float, wall: float) -> FleetRound:
        fresh: list[tuple[str, Rollup]] = []
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
                m.failed_before = True
                continue
            samples += s.page.count() if s.page is not None else 0
            reset = reset or rollup.reset
            m.last, m.last_ok_t = rollup, s.t
            slide(m.window, rollup, self.settings.window_s)
            fresh.append((s.instance, rollup))
        horizon = t - self.settings.window_s
        parts = []
        for m in self._members.values():
            trim(m.window, t, self.settings.window_s)
            if len(m.window) < 2 or m.window[-1].t <= horizon:
                continue  # nothing of it inside the window
            if m.error is None:
                parts.append(deltas(m.window[0], m.window[-1]))
            else:  # down: what it served before, over the window up to now
                parts.append(deltas(m.window[0], m.window[-1], t - m.window[0].t))
        instances = tuple(self._status(name, m) for name, m in self._members.items())
        uncounted = tuple(n for n, m in self._members.items() if m.error is None and not m.counted)
        returning = any(self._members[n].failed_before for n in uncounted)
        end = None
        if fresh:
            self._rounds += 1
            kept = [(n, m.last) for n, m in self._members.items() if m.last is not None]
            end = merge(kept, fresh, t, wall, self._rounds, reset)
        return FleetRound(end, add_deltas(parts) if parts and end else None, instances,
                          len(fresh), samples, sum(s.size_bytes for s in scrapes),
                          max((s.elapsed_ms for s in scrapes), default=0.0), uncounted,
                          returning, reset)

    def _status(self, name: str, m: _Member) -> InstanceStatus:
        if m.error is not None:
            return InstanceStatus(name, False, m.error)
        return InstanceStatus(name, True, None, _p95_ms(m.window, self.settings))


def _message_counter(rollups: Sequence[Rollup]) -> str | None:
    """The instances' message counters, each under its own name: their names (one, mostly),
    or None when some instance has none (then no total can be told)."""
    names = [r.message_counter for r in rollups]
    if not names or any(x is None for x in names):
        return None
    return " and ".join(dict.fromkeys(x for x in names if x))


def merge(kept: Sequence[tuple[str, Rollup]], fresh: Sequence[tuple[str, Rollup]], t: float,
          wall: float, scrape: int, reset: bool) -> Rollup:
    """What the instances' pages held, as one page would (the sums stay per instance): the
    families present, their problems, and the gauges of those that answered this round
    (`fresh`): sockets add up, memory and event-loop lag are the worst instance's. `kept` is
    each instance's latest, answering or not.

    A figure counts an instance only when every instance can give it: the request counter is
    used when all have it (else the histogram's _count), and the quantiles need every instance
    to have the histogram with the same bucket bounds (summing buckets with different bounds
    gives a wrong quantile, however it is done), else they are unknown, saying why.
    """
    rollups = [r for _n, r in fresh]
    # One instance's unusable input makes the summed figure unusable too: named with it.
    problems: dict[str, str] = {}
    for name, r in fresh:
        for k, why in r.problems.items():
            problems.setdefault(k, f"{name}: {why}")
    gauges: dict[str, float] = {}
    sockets = [r.gauges["sockets"] for r in rollups if "sockets" in r.gauges]
    if sockets:
        gauges["sockets"] = sum(sockets)
    for key in ("rss", "event_loop_lag"):
        values = [r.gauges[key] for r in rollups if key in r.gauges]
        if values:
            gauges[key] = max(values)
    for key in problems.keys() & gauges.keys():
        del gauges[key]
    return Rollup(
        t=t, wall=wall, sums=Sums(), scrape=scrape, reset=reset,
        histogram_present=any(r.histogram_present for r in rollups),
        counter_present=all(r.counter_present for r in rollups),
        counter_has_status=all(r.counter_has_status for r in rollups),
        hist_count_has_status=all(r.hist_count_has_status for r in rollups),
        status_labels={k: v for r in reversed(rollups) for k, v in r.status_labels.items()},
        gauges=gauges,
        socket_gauge=next((r.socket_gauge for r in rollups if r.socket_gauge), None),
        message_counter=_message_counter(rollups),
        ignored=sum(r.ignored for r in rollups),
        latency_problem=_latency_problem(kept, fresh),
        problems=problems,
    )


def _latency_problem(kept: Sequence[tuple[str, Rollup]],
                     fresh: Sequence[tuple[str, Rollup]]) -> str | None:
    without = [n for n, r in fresh if not r.histogram_present]
    if without and len(without) < len(fresh):
        return f"the latency histogram is missing on {', '.join(sorted(without))}"
    layouts: dict[frozenset[float], list[str]] = {}
    for name, r in kept:
        bounds = frozenset(r.sums.buckets)
        if bounds:
            layouts.setdefault(bounds, []).append(name)
    if len(layouts) > 1:
        shown = "; ".join(f"{', '.join(sorted(names))}: {_bounds(b)}"
                          for b, names in sorted(layouts.items(), key=lambda x: sorted(x[1])))
        return f"the instances' histogram buckets differ ({shown})"
    return None


def _bounds(bounds: frozenset[float]) -> str:
    shown = [f"{b:g}" for b in sorted(bounds) if b != INF][:6]
    return " ".join(shown) + (" …" if len(bounds) > 7 else "")


def _p95_ms(window: collections.deque[Rollup], settings: EngineSettings) -> float | None:
    """One instance's p95 over its window; None while it has too few requests to say."""
    if len(window) < 2:
        return None
    before = window[0].sums.buckets
    buckets = {le: v - before.get(le, 0.0) for le, v in window[-1].sums.buckets.items()}
    total = buckets.get(INF)
    if total is None or total < settings.min_requests:
        return None
    seconds = histogram_quantile(0.95, sorted(buckets.items()))
    return seconds * 1000.0 if math.isfinite(seconds) else None
