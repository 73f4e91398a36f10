"""When to try a failed connect again, on the injected clock (a test moves it by hand)."""

from __future__ import annotations

from sbtop.clock import Clock


class Backoff:
    """The first retry comes at once (a restart is often quick), then after 1, 2, 4 ... s,
    at most `max_s`: a dead database is not hammered, a returning one is found soon."""

    def __init__(self, clock: Clock, max_s: float) -> None:
        self._clock = clock
        self._max_s = max_s
        self._failures = 0
        self._retry_at = 0.0

    def failed(self) -> None:
        delay = 0.0 if self._failures == 0 else min(self._max_s, 2.0 ** (self._failures - 1))
        self._failures += 1
        self._retry_at = self._clock.now()[0] + delay

    def succeeded(self) -> None:
        self._failures = 0
        self._retry_at = 0.0

    def wait_s(self) -> float:
        """Seconds before the next try may be made; 0 when it may be made now."""
        return max(0.0, self._retry_at - self._clock.now()[0])
