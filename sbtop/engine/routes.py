"""The route table of a window: each route's traffic, p95 and error ratios, ranked slowest and
most failing."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sbtop.engine.deltas import Deltas
from sbtop.engine.quantile import INF, histogram_quantiles
from sbtop.engine.rollup import BUCKET, COUNTER, HIST_COUNT, Rollup, count_source
from sbtop.engine.settings import EngineSettings

QUANTILES = (0.5, 0.95, 0.99)  # each route's p50, p95 and p99


@dataclass(frozen=True, slots=True)
class RouteStat:
    method: str
    route: str
    requests: float
    requests_per_s: float
    p95_ms: float | None  # None when the route had too few requests in the window
    error_5xx_pct: float | None
    error_4xx_pct: float | None
    # The route's own median and p99, for its drill-down chart (None as p95; a recording
    # made before they were kept reads them as None).
    p50_ms: float | None = None
    p99_ms: float | None = None

    @property
    def name(self) -> str:
        return f"{self.method} {self.route}".strip()


@dataclass(frozen=True, slots=True)
class Routes:
    slowest: tuple[RouteStat, ...] = ()
    failing: tuple[RouteStat, ...] = ()
    every: tuple[RouteStat, ...] = ()
    reason: str | None = None  # why there is no route table


class LazyRoutes(Routes):
    """A route table made the first time one of its fields is read, then kept.

    Every tick makes one, but the table is read far less often (the console redraws it and a
    recording keeps it every few seconds, `check` once): on a page with hundreds of routes it
    is most of a tick's figures (each route's increases and three quantiles). It reads as the
    `Routes` it makes: same fields, equal to it, encoded as it. `make` must depend only on
    what does not change afterwards (two rollups, the settings)."""

    __slots__ = ("_made", "_make")
    _made: Routes | None
    _make: Callable[[], Routes] | None

    def __init__(self, make: Callable[[], Routes]) -> None:
        object.__setattr__(self, "_make", make)
        object.__setattr__(self, "_made", None)

    def made(self) -> Routes:
        """The table, made now if it was not yet (two threads may both make it: the same)."""
        made = self._made
        if made is None:
            assert self._make is not None  # dropped only once the table is made
            made = self._make()
            object.__setattr__(self, "_made", made)
            object.__setattr__(self, "_make", None)  # its inputs may go
        return made

    @property
    def slowest(self) -> tuple[RouteStat, ...]:
        return self.made().slowest

    @property
    def failing(self) -> tuple[RouteStat, ...]:
        return self.made().failing

    @property
    def every(self) -> tuple[RouteStat, ...]:
        return self.made().every

    @property
    def reason(self) -> str | None:
        return self.made().reason

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyRoutes):
            other = other.made()
        return isinstance(other, Routes) and self.made() == other

    def __hash__(self) -> int:
        return hash(self.made())

    def __repr__(self) -> str:
        return f"Lazy{self.made()!r}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Routes, (self.slowest, self.failing, self.every, self.reason))


def eager(routes: Routes) -> Routes:
    """A plain `Routes`: a lazy table made."""
    return routes.made() if isinstance(routes, LazyRoutes) else routes


def route_table(end: Rollup, d: Deltas, settings: EngineSettings) -> Routes:
    """Every route with traffic in the window; the reason instead when the page cannot give
    them (a problem with the buckets or counts, no histogram, no route label)."""
    for group in (BUCKET, COUNTER, HIST_COUNT):
        if group in end.problems:
            return Routes(reason=end.problems[group])
    if not d.route_buckets:
        names = settings.names
        if not end.histogram_present:
            return Routes(reason=f"histogram {names.latency_histogram} is not {end.found_in}")
        return Routes(reason=f"no route label ({', '.join(names.route_labels)}) on "
                             f"{names.latency_histogram}")
    source = count_source(end, settings.names, need_status=True)
    route_counts = {}
    if source is not None:
        route_counts = d.route_counts.get(source[0], {})
    stats = []
    minimum = settings.min_route_requests
    for rk, buckets in d.route_buckets.items():
        total = buckets.get(INF, 0.0)
        if total <= 0:
            continue  # no traffic on this route in the window
        p50 = p95 = p99 = None
        if total >= minimum and not end.latency_problem:
            p50, p95, p99 = (_ms(q) for q in histogram_quantiles(QUANTILES, buckets.items()))
        e5 = e4 = None
        classes = route_counts.get(rk)
        if classes:
            n = sum(classes.values())
            if n >= minimum and n > 0:
                e5 = 100.0 * classes.get("5xx", 0.0) / n
                e4 = 100.0 * classes.get("4xx", 0.0) / n
        stats.append(RouteStat(rk[0], rk[1], total, d.route_per_s.get(rk, 0.0), p95, e5, e4,
                               p50, p99))
    return ranked(stats, settings.top_routes)


def _ms(q: float) -> float | None:
    return None if math.isnan(q) else q * 1000.0


def ranked(stats: list[RouteStat] | tuple[RouteStat, ...], top: int) -> Routes:
    """The route table: every route by name, and the `top` slowest and most failing."""
    slowest = sorted((s for s in stats if s.p95_ms is not None),
                     key=lambda s: (-(s.p95_ms or 0.0), s.name))[:top]
    failing = sorted((s for s in stats if s.error_5xx_pct),
                     key=lambda s: (-(s.error_5xx_pct or 0.0), -s.requests, s.name))[:top]
    every = tuple(sorted(stats, key=lambda s: s.name))
    return Routes(tuple(slowest), tuple(failing), every)
