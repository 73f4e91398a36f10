"""The one tick loop of the program: the console's collection, `sbtop record`, `sbtop check`'s
two scrapes and replay's player all run on it.

Ticks are due on a grid (start + n x refresh), so a timer's lateness never adds up over a
shift; a tick never overlaps the next (the next is armed only when one ends); a tick that ran
past its successor's due time is followed at once, and one that ran more than an interval past
it starts the grid again from now (clock.next_due). A new refresh interval takes effect at once,
counted from when the last tick was due.

`first_gap_s`: the second tick sooner than a refresh after the first, off the grid (the grid
stays the first tick's). The console's first figures need two scrapes (rates and quantiles are
increases between them, over their actual time apart), and waiting a whole refresh for the
second kept them off the screen for as long. A refresh changed right after that early tick
counts from the grid's last point, the first tick (so the next may come sooner than the new
refresh after the early one: never later than the grid allows).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from sbtop.clock import SYSTEM, Clock, next_due

# How the loop waits: until the event is set or `seconds` have passed, whichever is first.
Waiter: TypeAlias = Callable[[asyncio.Event, float], Awaitable[None]]

# A timer may wake a hair before the due time: a tick due at --for is still "at --for".
_TOLERANCE_S = 1e-6


class TickLoop:
    """Runs `tick` on a grid of `refresh_s` until stopped, after `max_ticks` ticks, or once the
    next tick would be due at `for_s` after the start or later (that tick is not taken)."""

    def __init__(self, tick: Callable[[], Awaitable[object]], refresh_s: float, *,
                 clock: Clock = SYSTEM, max_ticks: int | None = None,
                 for_s: float | None = None, wait: Waiter | None = None,
                 first_gap_s: float | None = None) -> None:
        self._tick = tick
        self._refresh_s = refresh_s
        self._first_gap_s = first_gap_s
        self.clock = clock
        self.max_ticks = max_ticks
        self.for_s = for_s
        self.ticks = 0
        self.started: float | None = None  # when the first tick was due (the loop began)
        self._stopped = False
        # Set to cut a wait short: a new interval, or a stop.
        self._wake = asyncio.Event()
        # Tests on a manual clock pass a waiter that moves the clock instead of sleeping.
        self._wait = wait or _wait_real

    @property
    def refresh_s(self) -> float:
        return self._refresh_s

    def set_refresh(self, seconds: float) -> None:
        """The next tick is due `seconds` after the last one was, at once if that is past."""
        self._refresh_s = seconds
        self._wake.set()

    def stop(self) -> None:
        """No tick starts after this; one in flight runs to its end."""
        self._stopped = True
        self._wake.set()

    @property
    def stopped(self) -> bool:
        return self._stopped

    def _done(self, due: float) -> bool:
        if self._stopped:
            return True
        if self.max_ticks is not None and self.ticks >= self.max_ticks:
            return True
        assert self.started is not None
        return self.for_s is not None and due - self.started >= self.for_s - _TOLERANCE_S

    async def run(self) -> int:
        """Tick until done; the number of ticks taken."""
        # `grid`: the point of the grid the last tick on it was due at; `due`: the last tick's.
        grid = due = self.started = self.clock.now()[0]
        while not self._done(due):
            self.ticks += 1
            await self._tick()
            if self.max_ticks is not None and self.ticks >= self.max_ticks:
                break  # the last one: nothing to wait for
            first = self.ticks == 1
            # Waited out again after each wake: the interval may have changed meanwhile.
            while not self._stopped:
                left = grid + self._step(first) - self.clock.now()[0]
                if left <= 0:
                    break
                self._wake.clear()
                await self._wait(self._wake, left)
            now = self.clock.now()[0]
            if self._early(first) and now < grid + self._refresh_s:
                due = grid + self._step(first)  # off the grid: the one after is due on it
            else:  # (a first tick that ran past the grid's next point: no early one)
                due = grid = next_due(grid, self._refresh_s, now)
        return self.ticks

    def _early(self, first: bool) -> bool:
        """The tick after the first comes sooner than the grid's next point."""
        return first and self._first_gap_s is not None and self._first_gap_s < self._refresh_s

    def _step(self, first: bool) -> float:
        """How long after the grid's last point the next tick is due."""
        if self._early(first) and self._first_gap_s is not None:
            return self._first_gap_s
        return self._refresh_s


async def _wait_real(wake: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wake.wait(), timeout=seconds)
