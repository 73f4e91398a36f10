"""A real terminal for end-to-end tests: a tmux session on a tmux server of its own (so
killing the session hangs up on the program, as a dropped SSH connection does), read as text,
driven by keys, resized. Closing it ends everything it started, whatever state the test left
it in: a program that ignores the hang-up or is wedged is killed, not left to spin."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests import procs

if shutil.which("tmux") is None:  # pragma: no cover - the project's machines have it
    pytest.fail("tmux is required for the end-to-end tests (apt-get install tmux)")


class Pane:
    def __init__(self, command: str, size: tuple[int, int] = (80, 24),
                 env: dict[str, str] | None = None, conf: Path | None = None) -> None:
        self.socket = f"sbtop-test-{uuid.uuid4().hex[:8]}"
        # COLUMNS and LINES (pytest-xdist sets them) would pin the size the app reads.
        clean = {k: v for k, v in os.environ.items()
                 if not k.startswith(("SBTOP_", "TMUX")) and k not in ("COLUMNS", "LINES")}
        subprocess.run(["tmux", "-L", self.socket, "-f", str(conf or "/dev/null"),
                        "new-session", "-d",
                        "-s", "sbtop", "-x", str(size[0]), "-y", str(size[1]), command],
                       check=True, env={**clean, "TERM": "xterm-256color", **(env or {})})
        self.socket_path = self.tmux("display", "-p", "#{socket_path}").stdout.strip()
        # The server, and the pane's process: a session leader, so its session holds whatever
        # the command ran, even after a parent in between has died.
        self.server_pid = self._number("#{pid}")
        self.pane_pid = self._number("#{pane_pid}")

    def _number(self, field: str) -> int | None:
        out = self.tmux("display", "-p", "-t", "sbtop", field).stdout.strip()
        return int(out) if out.isdigit() else None  # the command has ended already

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, check=False)

    def text(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "sbtop").stdout

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "sbtop", *keys)

    def resize(self, width: int, height: int) -> None:
        self.tmux("resize-window", "-t", "sbtop", "-x", str(width), "-y", str(height))

    def wait_for(self, needle: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.text()
            if needle in text:
                return text
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} never appeared; the screen was:\n{text}")

    def wait_gone(self, needle: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while needle in self.text():
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} stayed on the screen:\n{self.text()}")
            time.sleep(0.1)

    def hang_up(self) -> None:
        self.tmux("kill-session", "-t", "sbtop")  # the last session: this server ends too

    def close(self) -> None:
        """The session is killed (a hang-up: the program may end in order), then the server;
        what the pane ran and still runs a few seconds later is killed outright."""
        leaders = {pid for pid in (self.server_pid, self.pane_pid) if pid is not None}
        started = procs.family(leaders)  # before the hang-up: the links are all still there
        self.hang_up()
        self.tmux("kill-server")
        left = procs.kill_all(started, frozenset(leaders), grace=5.0)
        if self.socket_path:
            Path(self.socket_path).unlink(missing_ok=True)
        assert not left, f"still running after SIGKILL: {sorted(p.pid for p in left)}"
