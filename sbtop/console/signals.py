"""Hang-up, terminate, suspend and a terminal that is gone: how the console ends (or repaints)
when the world around it changes. The session's part (a running action cancelled and given
5 s for its cleanup) is asked of it; the terminal, the watchdog and the exit code are here."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from types import FrameType
from typing import Any

from sbtop.console import terminal
from sbtop.console.base import ConsoleBase
from sbtop.console.watchdog import ExitWatchdog

# SIGHUP (the SSH session hung up) and SIGTERM end sbtop the way q does, without asking.
STOP_SIGNALS = (signal.SIGHUP, signal.SIGTERM)
# The orderly stop after a signal takes well under a second; should something hang in it, or
# the event loop be wedged and never start it, the process ends anyway this long after the
# signal: a hang-up must never leave an sbtop behind.
STOP_DEADLINE_S = 10.0


class SignalHandling(ConsoleBase):
    # The signal (SIGHUP, SIGTERM) that is ending sbtop, if one is: it exits 128 + it.
    signalled: int | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _watchdog: ExitWatchdog | None = None

    def _handle_signals(self) -> None:
        """SIGHUP and SIGTERM quit as q does, without asking; a SIGHUP ignored by whoever
        started sbtop (nohup) stays ignored. After SIGTSTP and SIGCONT, everything is drawn
        again.

        The stop signals get plain signal handlers, not the loop's: the handler arms the exit
        watchdog itself, so the process ends even if the loop never gets to run the stop."""
        self._handled_signals: dict[int, Any] = {}  # with the handlers they had before
        self._watchdog = ExitWatchdog(STOP_DEADLINE_S)
        for sig in STOP_SIGNALS:
            before = signal.getsignal(sig)
            if before is signal.SIG_IGN:
                continue
            try:
                signal.signal(sig, self._on_stop_signal)
            except (OSError, ValueError):
                continue
            self._handled_signals[sig] = before
        self.app_resume_signal.subscribe(self, self._resumed)

    def _release_signals(self) -> None:
        for sig, before in getattr(self, "_handled_signals", {}).items():
            # Already on the way out: a second SIGHUP (the login shell passes one on, then the
            # kernel sends its own as the shell exits) must not kill the rest of the stop (the
            # demo's backend, its state directory).
            with contextlib.suppress(Exception):
                signal.signal(sig, signal.SIG_IGN if self.signalled is not None else before)
        self._handled_signals = {}
        if self._watchdog is not None:
            self._watchdog.close()  # armed, it keeps watching over the rest of the stop

    def _on_stop_signal(self, signum: int, _frame: FrameType | None) -> None:
        """The signal handler: it runs wherever the main thread was interrupted, so it only
        does what takes no lock: arm the watchdog (a byte down a pipe) and queue the orderly
        stop on the loop (a deque append and a byte down the loop's own socket)."""
        if self._watchdog is not None:
            self._watchdog.arm(signum)
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: exiting already
                loop.call_soon_threadsafe(self.stop_on_signal, signum)

    def _resumed(self, _app: object) -> None:
        """Back from a suspension (SIGTSTP, then SIGCONT): the terminal was given back to the
        shell meanwhile, so repaint all of it, not only what changed."""
        self.refresh(layout=True)
        self.screen.refresh()

    def terminal_gone(self) -> None:
        """Called from the writer thread when writing to the terminal fails for good."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._check_terminal)

    def _check_terminal(self) -> None:
        if any(terminal.terminal_gone(fd) for fd in (0, 2)):
            self.stop_on_signal(signal.SIGHUP)  # a hang-up, whether or not one was sent

    def stop_on_signal(self, signum: int) -> None:
        """End sbtop as quitting does, at once: an action in flight is recorded as
        interrupted, a command still running is stopped, the recording is closed, and
        sbtop exits 128 + the signal."""
        if self.signalled is not None:
            return  # a second one (the shell's SIGHUP, then the kernel's): already stopping
        self.signalled = signum
        _detach_dead_terminal()
        if self._watchdog is not None:  # armed already when a signal handler called this
            self._watchdog.arm(signum)
        self.run_worker(self._stop_for_signal(signum), group="signal", exit_on_error=False)

    async def _stop_for_signal(self, signum: int) -> None:
        try:
            actions = self.session.actions
            if actions is not None:
                # Its command gets SIGTERM, then SIGKILL a second later, and the state and
                # the audit are written: well within this (and the watchdog's 10 s).
                await actions.stop_running()
        finally:
            self.exit(return_code=128 + signum)


def _detach_dead_terminal() -> None:
    """A hung-up terminal answers every write with EIO: point the standard streams at
    /dev/null instead, so the last words (restoring the terminal, the recording's summary,
    the interpreter's final flush) go nowhere rather than fail."""
    dead = [fd for fd in (0, 1, 2) if terminal.terminal_gone(fd)]
    if not dead:
        return
    try:
        null = os.open(os.devnull, os.O_RDWR)
    except OSError:
        return
    try:
        for fd in dead:
            with contextlib.suppress(OSError):
                os.dup2(null, fd)
    finally:
        os.close(null)
