"""A real terminal for end-to-end tests: a tmux session on a tmux server of its own (so
killing the session hangs up on the program, as a dropped SSH connection does), read as text,
driven by keys, resized."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

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
        self.hang_up()
        if self.socket_path and self.tmux("has-session").returncode != 0:
            Path(self.socket_path).unlink(missing_ok=True)  # the server is gone: its socket too
