"""End to end: the real `sbtop demo` in a real terminal (tmux), read, driven by keys, quit."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tmux import Pane

SBTOP = Path(sys.executable).with_name("sbtop")


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
