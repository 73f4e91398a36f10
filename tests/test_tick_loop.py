"""The one tick loop (sbtop.session.loop.TickLoop), on a manual clock: the grid, a tick that
overruns, a new interval at once, --for, a number of ticks, a stop. No wall-clock timing: the
waits move the manual clock, and a tick that runs long is held by an event."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from sbtop.clock import ManualClock
from sbtop.session.loop import TickLoop
from tests.timers import T0, Timers, settle


def auto_waiter(clock: ManualClock) -> Callable[[asyncio.Event, float], Awaitable[None]]:
    """Every wait runs its full length at once: virtual time."""

    async def wait(_wake: asyncio.Event, seconds: float) -> None:
        clock.advance(seconds)

    return wait


class Held:
    """A tick that runs until the test lets it end, and counts ticks in flight at once."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.starts: list[float] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.release = asyncio.Event()

    async def tick(self) -> None:
        self.starts.append(self.clock.t - T0)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
        finally:
            self.in_flight -= 1


class NaiveTimer:
    """The negative control: a tick fired every interval whatever the last one is doing (what
    a plain periodic timer does). The overlap test must fail on it."""

    def __init__(self, tick: Callable[[], Awaitable[object]], refresh_s: float, *,
                 clock: ManualClock, wait: Callable[[asyncio.Event, float], Awaitable[None]]
                 ) -> None:
        self._tick, self.refresh_s, self.clock, self._wait = tick, refresh_s, clock, wait
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[object]] = set()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> int:
        while not self._stop.is_set():
            task = asyncio.ensure_future(self._tick())
            self._tasks.add(task)
            await self._wait(self._stop, self.refresh_s)
        return len(self._tasks)


async def overlap_scenario(kind: type[TickLoop] | type[NaiveTimer]) -> Held:
    """Refresh 1 s; the first tick is held for 1.8 s of clock (past its successor's due time),
    then the rest end at once."""
    clock = ManualClock(T0)
    timers = Timers(clock)
    held = Held(clock)
    loop = kind(held.tick, 1.0, clock=clock, wait=timers.wait)
    runner = asyncio.ensure_future(loop.run())
    await timers.run_until(T0 + 1.8)  # the first tick still running
    held.release.set()
    await timers.run_until(T0 + 4.0)
    loop.stop()
    await asyncio.wait_for(runner, 5)
    return held


async def test_no_tick_starts_before_the_one_in_flight_ends_and_the_next_is_on_the_grid() -> None:
    held = await overlap_scenario(TickLoop)
    assert held.most_in_flight == 1
    # The long first tick ends at 1.8: the one after it goes at once (it was due at 1, and
    # less than an interval late), then the grid goes on: 2, 3, 4.
    assert held.starts == pytest.approx([0.0, 1.8, 2.0, 3.0, 4.0])


async def test_the_overlap_check_fails_on_a_naive_timer() -> None:
    # The negative control: the same scenario, a timer that does not wait for its tick.
    held = await overlap_scenario(NaiveTimer)
    assert held.most_in_flight > 1
    assert held.starts[:2] == [0.0, 1.0]


async def test_ticks_are_due_on_the_grid_whatever_each_one_takes() -> None:
    clock = ManualClock(T0)
    starts: list[float] = []

    async def tick() -> None:
        starts.append(clock.t - T0)
        clock.advance(0.3 if len(starts) % 2 else 0.05)  # the scrape's own time

    loop = TickLoop(tick, 1.0, clock=clock, max_ticks=5, wait=auto_waiter(clock))
    assert await loop.run() == 5
    assert starts == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0])


async def test_a_tick_past_its_successor_is_followed_at_once_and_one_far_past_restarts_the_grid(
        ) -> None:
    clock = ManualClock(T0)
    timers: list[float] = []
    starts: list[float] = []
    takes = [0.1, 1.5, 0.1, 2.6, 0.1, 0.1]

    async def tick() -> None:
        starts.append(round(clock.t - T0, 6))
        clock.advance(takes[len(starts) - 1])

    async def wait(_wake: asyncio.Event, seconds: float) -> None:
        timers.append(round(seconds, 6))
        clock.advance(seconds)

    await TickLoop(tick, 1.0, clock=clock, max_ticks=6, wait=wait).run()
    # 1 ran to 2.5: the tick due at 2 goes at once; 3 is on the grid. 3 ran to 5.6, more than
    # an interval past 4: the grid starts again from 5.6 (no burst of catching up).
    assert starts == [0.0, 1.0, 2.5, 3.0, 5.6, 6.6]


async def test_a_new_refresh_interval_takes_effect_at_once() -> None:
    clock = ManualClock(T0)
    timers = Timers(clock)
    starts: list[float] = []

    async def tick() -> None:
        starts.append(clock.t - T0)

    loop = TickLoop(tick, 30.0, clock=clock, wait=timers.wait)
    runner = asyncio.ensure_future(loop.run())
    await timers.run_until(T0 + 0.2)
    assert starts == [0.0] and timers.asked == [30.0]
    loop.set_refresh(0.5)  # the wait for 30 s is cut short: counted from the last due time
    await settle()
    assert timers.asked[-1] == pytest.approx(0.3)
    await timers.run_until(T0 + 1.6)
    assert starts == pytest.approx([0.0, 0.5, 1.0, 1.5])
    loop.stop()
    await asyncio.wait_for(runner, 5)


async def test_for_s_takes_no_tick_due_at_or_after_it() -> None:
    clock = ManualClock(T0)
    starts: list[float] = []

    async def tick() -> None:
        starts.append(clock.t - T0)
        clock.advance(0.01)

    loop = TickLoop(tick, 0.25, clock=clock, for_s=6.0, wait=auto_waiter(clock))
    assert await loop.run() == 24  # due at 0, 0.25 ... 5.75: the one due at 6 is not taken
    assert starts[-1] == pytest.approx(5.75)


async def test_max_ticks_ends_without_waiting_after_the_last() -> None:
    clock = ManualClock(T0)
    waits: list[float] = []

    async def tick() -> None:
        clock.advance(0.1)

    async def wait(_wake: asyncio.Event, seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)

    assert await TickLoop(tick, 10.0, clock=clock, max_ticks=2, wait=wait).run() == 2
    # The second is due 10 s after the first began (check's window), then nothing.
    assert waits == [pytest.approx(9.9)]
    assert clock.t - T0 == pytest.approx(10.1)


async def test_stop_ends_a_wait_and_lets_the_tick_in_flight_finish() -> None:
    clock = ManualClock(T0)
    timers = Timers(clock)
    held = Held(clock)
    loop = TickLoop(held.tick, 1.0, clock=clock, wait=timers.wait)
    runner = asyncio.ensure_future(loop.run())
    await settle()
    loop.stop()  # during the first tick
    await settle()
    assert not runner.done() and held.in_flight == 1
    held.release.set()
    assert await asyncio.wait_for(runner, 5) == 1
    assert held.starts == [0.0] and timers.asked == []


async def test_the_second_tick_comes_sooner_and_the_grid_stays_the_firsts() -> None:
    clock = ManualClock(T0)
    starts: list[float] = []

    async def tick() -> None:
        starts.append(round(clock.t - T0, 6))
        clock.advance(0.05)

    loop = TickLoop(tick, 2.0, clock=clock, max_ticks=5, wait=auto_waiter(clock),
                    first_gap_s=0.5)
    assert await loop.run() == 5
    # The console's first figures a half second after its first scrape, not a refresh; then
    # the ticks fall on the grid of the first (0, 2, 4 ...), not shifted by the early one.
    assert starts == [0.0, 0.5, 2.0, 4.0, 6.0]


async def test_a_first_gap_no_shorter_than_the_refresh_changes_nothing() -> None:
    for gap in (1.0, 3.0):
        clock = ManualClock(T0)
        starts: list[float] = []

        async def tick(starts: list[float] = starts, clock: ManualClock = clock) -> None:
            starts.append(round(clock.t - T0, 6))
            clock.advance(0.05)

        await TickLoop(tick, 1.0, clock=clock, max_ticks=4, wait=auto_waiter(clock),
                       first_gap_s=gap).run()
        assert starts == [0.0, 1.0, 2.0, 3.0]  # never two ticks due at one time


async def test_an_early_second_tick_that_overruns_is_followed_on_the_grid() -> None:
    clock = ManualClock(T0)
    starts: list[float] = []
    takes = [0.1, 1.2, 0.1, 0.1]

    async def tick() -> None:
        starts.append(round(clock.t - T0, 6))
        clock.advance(takes[len(starts) - 1])

    await TickLoop(tick, 1.0, clock=clock, max_ticks=4, wait=auto_waiter(clock),
                   first_gap_s=0.25).run()
    # The early one ran to 1.45, past the grid's 1: that tick goes at once, then 2 is on time.
    assert starts == [0.0, 0.25, 1.45, 2.0]


async def test_a_first_tick_that_runs_past_the_grid_is_followed_once_not_twice() -> None:
    clock = ManualClock(T0)
    starts: list[float] = []
    takes = [1.8, 0.05, 0.05, 0.05]

    async def tick() -> None:
        starts.append(round(clock.t - T0, 6))
        clock.advance(takes[len(starts) - 1])

    await TickLoop(tick, 1.0, clock=clock, max_ticks=4, wait=auto_waiter(clock),
                   first_gap_s=0.5).run()
    # Past both the early second tick's time and the grid's 1: one tick at once, not two.
    assert starts == [0.0, 1.8, 2.0, 3.0]
