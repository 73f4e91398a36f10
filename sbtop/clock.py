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


def next_due(due: float, refresh_s: float, now: float) -> float:
    """When the tick after the one due at `due` is due: on the grid, due + refresh_s, so a
    timer that fires a little late (it always does) never adds up over a long shift. When
    that is already more than one interval past (a tick that ran long, a process suspended
    for a while), the grid starts again from now rather than catching up in a burst."""
    following = due + refresh_s
    return now if now - following >= refresh_s else following
