"""Side tasks ended together: the session's side jobs, the status page polls, the webhook's
messages in flight."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel every task, then wait for each to end whatever it raises: a side task's failure
    (or its cancellation) must not hide why its owner stops, nor outlive it."""
    pending = list(tasks)
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
