"""The one clock: monotonic seconds for intervals and rates, epoch seconds for display."""

from __future__ import annotations

import time


class Clock:
    def now(self) -> tuple[float, float]:
        """(monotonic, wall) read together."""
        return time.monotonic(), time.time()


class ManualClock(Clock):
    """A clock that moves only when told: deterministic ticks for tests and replays."""

    def __init__(self, t: float = 1000.0, wall: float = 1_800_000_000.0) -> None:
        self.t = t
        self.wall = wall

    def now(self) -> tuple[float, float]:
        return self.t, self.wall

    def advance(self, seconds: float) -> None:
        self.t += seconds
        self.wall += seconds

    def set(self, t: float, wall: float) -> None:
        self.t, self.wall = t, wall


SYSTEM = Clock()
