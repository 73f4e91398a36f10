"""The terminal as a long shift treats it: writes to a hung-up terminal are dropped rather than
left to block the app, a suspension (SIGTSTP, SIGCONT) is done on the event loop, never inside
a signal handler, SIGCONT resumes only what SIGTSTP suspended, and a line that answers EIO is
told from a pipe or a file."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
import termios
from collections.abc import Callable
from typing import IO, Any, cast

from textual.app import App
from textual.drivers.linux_driver import LinuxDriver


class Output:
    """The terminal as Textual's writer thread writes to it. Once the terminal is gone (EIO or
    EPIPE after a hang-up), what is written is dropped: the writer thread would otherwise die,
    its queue fill up and the app block on its next write, never to exit."""

    GONE = {errno.EIO, errno.EPIPE, errno.ENXIO, errno.EBADF}

    def __init__(self, stream: IO[str], on_gone: Any) -> None:
        self._stream = stream
        self._on_gone = on_gone
        self.gone = False

    def _failed(self, e: Exception) -> None:
        if isinstance(e, OSError) and e.errno not in self.GONE:
            raise e
        if not self.gone:
            self.gone = True
            with contextlib.suppress(Exception):
                self._on_gone()

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self._stream.write(text)
            except (OSError, ValueError) as e:
                self._failed(e)
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._stream.flush()
            except (OSError, ValueError) as e:
                self._failed(e)

    def fileno(self) -> int:
        return self._stream.fileno()

    def isatty(self) -> bool:
        return True


class Driver(LinuxDriver):
    """Textual's terminal driver, hardened for long shifts: output to a hung-up terminal never
    blocks the app, and suspending and resuming run on the event loop.

    Textual suspends inside the SIGTSTP handler itself: it writes the terminal's restore
    sequences to the writer thread's queue from wherever the main thread happened to be. Were
    the main thread holding that queue's lock at that moment (in the middle of a write of its
    own), the handler would wait for a lock its own thread holds, and the process would be
    wedged for good, deaf even to SIGTERM. On the loop, the suspension runs between two
    callbacks, when the main thread holds nothing.

    SIGCONT restarts application mode only after a SIGTSTP suspended it (a hang-up sends
    SIGHUP and SIGCONT together: that must not start a second set of threads on a dead
    terminal)."""

    def __init__(self, app: App[Any], **kwargs: Any) -> None:
        super().__init__(app, **kwargs)  # installs Textual's handlers, replaced just below
        self._suspended = False
        on_gone = getattr(app, "terminal_gone", None) or (lambda: None)
        if self._file is not None:
            self._file = cast(Any, Output(self._file, on_gone))
        _on_loop(signal.SIGTSTP, self._sigtstp_application)
        _on_loop(signal.SIGCONT, self._sigcont_application)

    def _sigtstp_application(self, *args: Any) -> None:
        self._suspended = True
        super()._sigtstp_application(*args)

    def _sigcont_application(self, *args: Any) -> None:
        if self._suspended:
            self._suspended = False
            super()._sigcont_application(*args)


def _on_loop(sig: int, callback: Callable[[], None]) -> None:
    """Have the running event loop call callback when sig arrives: the signal handler itself
    only wakes the loop (asyncio's wake-up fd), taking no lock."""
    # No loop running in this thread: Textual's handler stays.
    with contextlib.suppress(RuntimeError, NotImplementedError, ValueError):
        asyncio.get_running_loop().add_signal_handler(sig, callback)


def terminal_gone(fd: int) -> bool:
    """True when fd is a terminal that has hung up (its line answers EIO), not merely a pipe
    or a file."""
    try:
        termios.tcgetattr(fd)
    except termios.error as e:
        return bool(e.args) and e.args[0] in (errno.EIO, errno.ENXIO)
    except (OSError, ValueError):
        return False
    return False
