"""End to end: the real `sbtop demo` in a real terminal (tmux), read, driven by keys, quit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

if shutil.which("tmux") is None:  # pragma: no cover - the project's machines have it
    pytest.fail("tmux is required for the end-to-end test (apt-get install tmux)")

SBTOP = Path(sys.executable).with_name("sbtop")


class Pane:
    def __init__(self, command: str, size: str = "80x24") -> None:
        self.name = f"sbtop-e2e-{uuid.uuid4().hex[:8]}"
        width, height = size.split("x")
        # COLUMNS and LINES (pytest-xdist sets them) would pin the size the app reads.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SBTOP_", "TMUX")) and k not in ("COLUMNS", "LINES")}
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", width, "-y", height,
                        command], check=True, env={**env, "TERM": "xterm-256color"})

    def text(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name],
                              capture_output=True, text=True, check=False).stdout

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

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

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True,
                       check=False)


@pytest.fixture
def pane() -> Iterator[Pane]:
    p = Pane(f"{SBTOP} demo; echo sbtop-exited-$?; sleep 30")
    try:
        yield p
    finally:
        p.close()


def test_sbtop_demo_in_a_real_terminal(pane: Pane) -> None:
    pane.wait_for("req/s·5s")
    pane.wait_for("q Quit")  # the footer
    screen = pane.wait_for("health HTTP 200 OK")
    assert "sbtop" in screen and "demo" in screen
    for title in ("Latency", "Traffic & errors", "Sockets & memory", "Database", "Alerts",
                  "Routes by slowest p95"):
        assert title in screen
    pane.keys("?")
    pane.wait_for("sbtop keys")
    pane.keys("Escape")  # a key sent right after escape would read as alt+key: wait
    pane.wait_gone("sbtop keys")
    pane.keys("s")
    pane.wait_for("Routes by most 5xx")
    pane.keys("Enter")
    pane.wait_for("Latency: latency_p50_ms")
    pane.keys("Escape")
    pane.wait_for("Routes by most 5xx")
    pane.wait_gone("Latency: latency_p50_ms")
    pane.keys("q")
    assert "sbtop-exited-0" in pane.wait_for("sbtop-exited-")
