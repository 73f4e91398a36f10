"""`sbtop record FILE`: the console's collection without the console, every tick written to a
recording, until --for runs out or a signal (Ctrl-C, SIGTERM, SIGHUP) stops it cleanly. No
Textual."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from sbtop import format
from sbtop.actions.state import StateStore
from sbtop.clock import SYSTEM, Clock
from sbtop.notify import headless
from sbtop.recording.meta import header
from sbtop.recording.writer import Recorder
from sbtop.session.live import LiveSession
from sbtop.session.snapshot import Notice
from sbtop.wiring import Wiring

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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


def _say(notice: Notice) -> None:
    """No screen: what the console would show goes to stderr."""
    with contextlib.suppress(OSError):
        print(f"sbtop: {notice.text}", file=sys.stderr)


async def run(wiring: Wiring, path: Path, *, for_s: float | None, refresh_s: float,
              max_bytes: int, state_dir: Path | None = None, clock: Clock = SYSTEM
              ) -> Summary:
    """A live session with a recorder and no face, until --for runs out, the size limit, or a
    signal (each stops it cleanly: the tick in flight ends and the file is closed)."""
    loop = asyncio.get_running_loop()
    started_t, started_wall = clock.now()
    recorder = Recorder(path, header(wiring.recording, refresh_s, started_wall), max_bytes)
    store = StateStore(state_dir, wiring.name) if state_dir is not None else None
    session = LiveSession(wiring, clock=clock, refresh_s=refresh_s, history_s=refresh_s,
                          recorder=recorder, canary_store=store, stop_with_recorder=True,
                          state_dir=state_dir)  # the deploy plan's record is read there too
    session.on_notice(_say)
    # The webhook, when configured: the window's alerts reach #studybuddy-alerts from here too.
    notifier = headless.attach(session, lambda text: _say(Notice(text)))
    for sig in _STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, session.stop)
    try:
        async with session:
            await session.run(for_s=for_s)
    finally:
        recorder.close()
        if notifier is not None:
            await notifier.close()
        for sig in _STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    return Summary(recorder.ticks, clock.now()[0] - started_t, recorder.bytes_written,
                   recorder.stopped)
