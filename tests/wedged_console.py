"""The real console on the simulated backend, with two keys that put its main thread where a
signal finds it in trouble. Run by tests/test_signals.py in tmux, as
`python -m tests.wedged_console STOP_DEADLINE_S`; exits as sbtop does (128 + the signal that
ended it, 0 on q).

w: SIGTSTP arrives while the main thread is in the middle of a write of its own, holding the
   lock of the queue the terminal's writer thread reads. The signal is sent to the main thread
   itself, whose handler runs before pthread_kill returns: inside the lock, every time.
h: the event loop wedges for good (it waits on a lock nobody will release): nothing queued on
   it ever runs again.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import ClassVar

from textual.binding import Binding, BindingType

from sbtop.commands.targets import demo_target
from sbtop.console import app as console
from sbtop.console import signals
from sbtop.demo.backend import SimulatedBackend
from sbtop.session.live import LiveSession


class WedgeableApp(console.SbtopApp):
    BINDINGS: ClassVar[list[BindingType]] = [
        *console.SbtopApp.BINDINGS,
        Binding("w", "tstp_under_the_lock", "", show=False),
        Binding("h", "hang", "", show=False),
    ]

    def action_tstp_under_the_lock(self) -> None:
        writer = getattr(self._driver, "_writer_thread", None)
        assert writer is not None
        with writer._queue.mutex:
            signal.pthread_kill(threading.get_ident(), signal.SIGTSTP)

    def action_hang(self) -> None:
        never = threading.Lock()
        never.acquire()
        never.acquire()


def main() -> int:
    signals.STOP_DEADLINE_S = float(sys.argv[1])
    backend = SimulatedBackend(port=0).start()
    try:
        app = WedgeableApp(LiveSession(demo_target(backend.url), read_only=True))
        app.run()
    finally:
        backend.stop()
    return 128 + app.signalled if app.signalled is not None else 0


if __name__ == "__main__":
    sys.exit(main())
