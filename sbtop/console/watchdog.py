"""The exit watchdog: once a stop signal has arrived, the process ends within a deadline, whatever
the event loop is doing.

It is armed from a plain signal handler, not from the loop: a loop that is wedged (a callback
that never returns, a lock that is never released) would never get to arm it. Arming writes one
byte to a pipe, which takes no lock and cannot block, so it is safe wherever the main thread was
interrupted. The thread that waits on the pipe is started beforehand: starting a thread from a
signal handler would take the threading module's locks.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time


class ExitWatchdog:
    def __init__(self, deadline_s: float) -> None:
        self.deadline_s = deadline_s
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)  # a full pipe: already armed, nothing to wait for
        self.armed = False
        self._closed = False
        self._thread = threading.Thread(target=self._watch, name="sbtop-exit-watchdog",
                                        daemon=True)
        self._thread.start()

    def arm(self, signum: int) -> None:
        """From a signal handler or anywhere: the process exits 128 + signum after the
        deadline unless it has ended by itself first. Arming again changes nothing."""
        self.armed = True
        with contextlib.suppress(OSError):
            os.write(self._write, bytes([signum & 0x7F]))

    def close(self) -> None:
        """Not armed: the watching thread ends (it reads the end of the pipe). Armed: it goes
        on, so the rest of the stop stays under the deadline."""
        if self.armed or self._closed:
            return
        self._closed = True
        os.close(self._write)
        self._thread.join(timeout=5.0)
        os.close(self._read)

    def _watch(self) -> None:
        try:
            data = os.read(self._read, 1)
        except OSError:
            return
        if not data:
            return  # closed unarmed: the app ended without a stop signal
        # The deadline runs in this thread, which needs nothing from the main one.
        time.sleep(self.deadline_s)
        os._exit(128 + data[0])
