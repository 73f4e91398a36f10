"""Each route's own figures over time, for the route drill-down: bounded like the figures'
history (a ring per route, and only so many routes), so memory stays flat over a shift and a
page with thousands of routes cannot grow it."""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable

from sbtop.engine.routes import RouteStat

# What a route's track keeps, in the order its chart draws them.
SERIES: tuple[str, ...] = ("p50_ms", "p95_ms", "p99_ms", "requests_per_s", "error_5xx_pct")
# Routes kept at once; past this the route seen longest ago makes room (and is counted).
MAX_ROUTES = 100


class RouteTrack:
    """One route's samples: (wall time, each of SERIES); NaN where the figure was unknown or
    the route had no traffic in the window (drawn as a gap, never as 0)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._t = array("d", bytes(8 * self.capacity))
        self._v = {name: array("d", bytes(8 * self.capacity)) for name in SERIES}
        self._next = 0
        self._len = 0
        self.last_seen = -math.inf  # the wall time of its last sample with traffic

    def __len__(self) -> int:
        return self._len

    def append(self, wall: float, stat: RouteStat | None) -> None:
        self._t[self._next] = wall
        for name, values in self._v.items():
            v = None if stat is None else getattr(stat, name)
            values[self._next] = math.nan if v is None else float(v)
        self._next = (self._next + 1) % self.capacity
        self._len = min(self._len + 1, self.capacity)
        if stat is not None:
            self.last_seen = wall

    def points(self, name: str) -> tuple[list[float], list[float]]:
        """(walls, values) of one series, oldest first."""
        cap = self.capacity
        order = range(self._next - self._len, self._next)
        values = self._v[name]
        return [self._t[i % cap] for i in order], [values[i % cap] for i in order]


class RouteHistory:
    """A track per route, sampled every `every_s` seconds of the session's clock (the cadence
    the console redraws the route table at, and a recording keeps it at: the route figures
    cover the whole window, so they drift slowly)."""

    def __init__(self, capacity: int, every_s: float, max_routes: int = MAX_ROUTES) -> None:
        self.capacity = max(1, capacity)
        self.every_s = every_s
        self.max_routes = max(1, max_routes)
        self.tracks: dict[str, RouteTrack] = {}
        self.dropped = 0  # routes let go to keep within max_routes
        self._last_t: float | None = None

    def due(self, t: float) -> bool:
        """Whether a table at session time `t` is sampled (a clock gone back samples again)."""
        return self._last_t is None or not 0 <= t - self._last_t < self.every_s

    def add(self, t: float, wall: float, routes: Iterable[RouteStat]) -> None:
        """The route table at `t`, when due: a sample for every route in it, and a gap for
        every route kept that is not (no traffic in the window)."""
        if not self.due(t):
            return
        self._last_t = t
        seen: set[str] = set()
        for r in routes:
            name = r.name
            if name in seen:
                continue
            seen.add(name)
            track = self.tracks.get(name)
            if track is None:
                if len(self.tracks) >= self.max_routes:
                    oldest = min(self.tracks, key=lambda k: self.tracks[k].last_seen)
                    if oldest in seen:
                        continue  # every route kept is in this very table: no room
                    del self.tracks[oldest]
                    self.dropped += 1
                track = self.tracks[name] = RouteTrack(self.capacity)
            track.append(wall, r)
        for name, track in self.tracks.items():
            if name not in seen:
                track.append(wall, None)

    def track(self, name: str) -> RouteTrack | None:
        return self.tracks.get(name)

    def clear(self) -> None:
        self.tracks.clear()
        self._last_t = None
