"""The one clock: monotonic seconds for intervals and rates, epoch seconds for display."""

from __future__ import annotations

import time


class Clock:
    def now(self) -> tuple[float, float]:
        """(monotonic, wall) read together."""
        return time.monotonic(), time.time()


SYSTEM = Clock()
