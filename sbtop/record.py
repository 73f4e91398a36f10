"""`sbtop record FILE`: the console's collection without the console, every tick written to a
recording, until --for runs out or a signal (Ctrl-C, SIGTERM, SIGHUP) stops it cleanly. No
Textual."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sbtop import format
from sbtop.actions.state import StateStore
from sbtop.clock import SYSTEM, Clock, next_due
from sbtop.collector import Collector
from sbtop.config import Target
from sbtop.engine.engine import Engine
from sbtop.recording.meta import canary_record, header
from sbtop.recording.writer import Recorder

CANARY_EVERY_S = 5.0  # the state file is read this often (the provider is never asked)


@dataclass(frozen=True)
class Summary:
    ticks: int
    seconds: float
    size_bytes: int
    stopped: str | None

    def text(self, path: Path) -> str:
        per_hour = self.size_bytes / self.seconds * 3600 if self.seconds > 0 else 0.0
        line = (f"recorded {self.ticks} ticks ({format.duration(self.seconds)}) to {path}: "
                f"{format.size(self.size_bytes)} ({format.size(per_hour)} per hour)")
        return line + (f"; {self.stopped}" if self.stopped else "")


async def run(target: Target, path: Path, *, for_s: float | None, refresh_s: float,
              max_bytes: int, state_dir: Path | None = None, clock: Clock = SYSTEM,
              progress: Callable[[str], None] | None = None) -> Summary:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    started_t, started_wall = clock.now()
    recorder = Recorder(path, header(target, refresh_s, started_wall), max_bytes)
    store = StateStore(state_dir, target.name) if state_dir is not None else None
    engine = Engine(target.engine, target.name, target.production)
    canary = None
    canary_due = 0.0
    due = started_t  # when this tick is due, on a grid of refresh_s from the start
    try:
        async with Collector(target, clock) as collector:
            while not stop.is_set() and not recorder.stopped:
                began = clock.now()[0]
                # A tick due at --for or later is not taken (a hair's tolerance: the timer
                # may wake a nanosecond before the due time).
                if for_s is not None and due - started_t >= for_s - 1e-6:
                    break
                a = engine.observe(await collector.observe())
                if store is not None and began >= canary_due:
                    canary_due = began + CANARY_EVERY_S
                    canary = canary_record(store.load().canary)
                recorder.tick(a, canary)
                if progress is not None and recorder.ticks % 60 == 0:
                    progress(f"{recorder.ticks} ticks, {format.size(recorder.bytes_written)}")
                now = clock.now()[0]
                due = next_due(due, refresh_s, now)
                left = due - now
                if left > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=left)
    finally:
        recorder.close()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    return Summary(recorder.ticks, clock.now()[0] - started_t, recorder.bytes_written,
                   recorder.stopped)
