"""A manual clock's timers: the tick loop's waits as events a test fires by moving the clock,
so no test of a loop sleeps or times anything."""

from __future__ import annotations

import asyncio

from sbtop.clock import ManualClock

T0 = 1000.0


class Timers:
    """A waiter for the loop: a wait ends when its event is set or when the test fires the
    timers up to its deadline (the manual clock is moved there)."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.asked: list[float] = []  # every wait's length, in order
        self._pending: list[tuple[float, asyncio.Future[None]]] = []

    async def wait(self, wake: asyncio.Event, seconds: float) -> None:
        self.asked.append(seconds)
        fired: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((self.clock.t + seconds, fired))
        woken = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait({woken, fired}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()

    async def run_until(self, t: float) -> None:
        """Time passes up to `t`: each timer due on the way fires at its deadline."""
        while True:
            await settle()
            due = sorted((d, f) for d, f in self._pending if not f.done() and d <= t)
            if not due:
                break
            deadline, fired = due[0]
            self.clock.t = max(self.clock.t, deadline)
            fired.set_result(None)
        self.clock.t = max(self.clock.t, t)
        await settle()


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)
