"""Bounded history of every figure, for sparklines and charts: memory stays flat over a shift."""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from sbtop.engine.assessment import Assessment
from sbtop.engine.keys import Fig


class Ring:
    """A fixed-capacity ring of (wall time, value); NaN marks a tick where the value was unknown
    or stale, so a gap shows as a gap, never as a made-up number."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._t = array("d", bytes(8 * self.capacity))
        self._v = array("d", bytes(8 * self.capacity))
        self._next = 0
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def append(self, wall: float, value: float | None) -> None:
        self._t[self._next] = wall
        self._v[self._next] = math.nan if value is None else value
        self._next = (self._next + 1) % self.capacity
        self._len = min(self._len + 1, self.capacity)

    def _order(self) -> range:
        start = (self._next - self._len) % self.capacity
        return range(start, start + self._len)

    def values(self, last: int | None = None) -> list[float]:
        """The newest `last` values (all when None), oldest first."""
        n = self._len if last is None else min(last, self._len)
        cap = self.capacity
        return [self._v[i % cap] for i in range(self._next - n, self._next)]

    def latest_wall(self) -> float | None:
        return self._t[(self._next - 1) % self.capacity] if self._len else None

    def buckets(self, step: float, count: int, agg: Callable[[list[float]], float] = max
                ) -> list[float]:
        """`count` bars of `step` seconds each, aligned to the clock, oldest first, ending with
        the last complete one (the current, partial bar would change every tick). A bar with
        no known value is NaN."""
        last = self.latest_wall()
        if last is None or count <= 0:
            return []
        current = math.floor(last / step)
        first = current - count
        grouped: dict[int, list[float]] = {}
        cap = self.capacity
        for i in range(self._next - 1, self._next - 1 - self._len, -1):
            t = self._t[i % cap]
            b = math.floor(t / step)
            if b < first:
                break
            if b >= current:
                continue
            v = self._v[i % cap]
            bucket = grouped.setdefault(b, [])
            if not math.isnan(v):
                bucket.append(v)
        return [agg(vals) if (vals := grouped.get(b)) else math.nan
                for b in range(first, current)]

    def points(self, since_wall: float | None = None) -> tuple[list[float], list[float]]:
        """(walls, values), oldest first, optionally from `since_wall` on."""
        cap = self.capacity
        ts: list[float] = []
        vs: list[float] = []
        for i in self._order():
            t = self._t[i % cap]
            if since_wall is None or t >= since_wall:
                ts.append(t)
                vs.append(self._v[i % cap])
        return ts, vs


@dataclass(frozen=True, slots=True)
class Marker:
    """A moment worth drawing on the charts: an action, a restart."""

    wall: float
    label: str


# A process start seen this soon after a restart marker is that restart.
RESTART_SAME_S = 120.0


class History:
    """One ring per figure, fed one Assessment per tick."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.rings: dict[str, Ring] = {}
        self.markers: deque[Marker] = deque(maxlen=500)
        self._restart_at: float | None = None

    def add(self, a: Assessment) -> None:
        # A process restart the trends detected (whoever caused it) is drawn on the charts
        # like an action, at the moment the process started.
        trend = a.figures.get(Fig.SOCKET_GROWTH_PER_H) or a.figures.get(
            Fig.MEMORY_GROWTH_MB_PER_H)
        restart = trend.detail.restart_at if trend is not None else None
        if restart is not None and restart != self._restart_at:
            self._restart_at = restart
            # sbtop's own restart is marked already (as its action): the new process seen
            # right after it is that restart, not another.
            if not any(m.label == "restart" and 0 <= restart - m.wall <= RESTART_SAME_S
                       for m in self.markers):
                self.mark(restart, "restart")
        for key, f in a.figures.items():
            ring = self.rings.get(key)
            if ring is None:
                ring = self.rings[key] = Ring(self.capacity)
            # A stale figure repeats an old reading: record a gap, not a fresh point.
            ring.append(a.wall, None if f.stale_s is not None else f.value)
        for key, ring in self.rings.items():
            if key not in a.figures:
                ring.append(a.wall, None)

    def ring(self, key: str) -> Ring:
        return self.rings.get(key) or Ring(1)

    def mark(self, wall: float, label: str) -> None:
        self.markers.append(Marker(wall, label))
