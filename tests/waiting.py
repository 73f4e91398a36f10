"""Waiting for something to become true, instead of sleeping and hoping it has: a readiness
marker (a file, a line, a request logged), polled until it holds or a deadline passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(predicate: Callable[[], object], timeout: float = 10.0) -> bool:
    """Whether predicate() held within timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def until(predicate: Callable[[], object], timeout: float, what: str) -> float:
    """Seconds it took for predicate() to hold; fails, saying what, after timeout."""
    start = time.monotonic()
    if not wait_for(predicate, timeout):
        raise AssertionError(f"{what}: not within {timeout} s")
    return time.monotonic() - start


async def app_until(done: Callable[[], bool], pilot: Any, within_s: float = 20.0) -> None:
    """Let a Textual app run (its pilot pausing) until `done`; a bound only for failing, not a
    timing assertion."""
    for _ in range(int(within_s / 0.02)):
        if done():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"not reached within {within_s} s")
