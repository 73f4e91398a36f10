"""The trends in the console at 80x24: the memory and socket panel's words, the restart's
reconnect storm on its border, each line within the panel's width."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from textual.content import Content

from sbtop.console.app import SbtopApp
from sbtop.console.widgets.panel import Line, Panel
from tests.console_harness import Harness, screen_text

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = Harness()
    try:
        yield h
    finally:
        h.close()


def shown(app: SbtopApp, selector: str) -> tuple[str, int]:
    w = app.query_one(selector, Line)
    return Content.from_markup(w.text).plain, w.size.width


async def test_the_panel_says_the_pace_and_the_nearest_limit_within_80_columns(
        harness: Harness) -> None:
    app = harness.app
    # A leak of 600 MB/h from 180 MB of 512, and clients piling up 5 a minute.
    harness.backend.set(memory_leak_mb_per_h=600.0)
    async with app.run_test(size=(80, 24)) as pilot:
        for k in range(13):
            harness.backend.set(sockets=900 + 5 * k)
            await harness.ticks(1, pilot, seconds=60.0)
        memory, width = shown(app, "#so-memory")
        assert memory.startswith("memory ") and "MB/h warn~" in memory
        assert len(memory) <= width
        sockets, width = shown(app, "#so-values")
        assert sockets.startswith("sockets 9") and "/h warn~" in sockets
        assert len(sockets) <= width
        text = screen_text(app)
        assert "Alerts" in text and "Routes" in text  # the layout holds at 80x24
        # The restart: the leak gone, the clients back within ten seconds, on the border.
        harness.backend.restart()
        await harness.ticks(15, pilot, seconds=1.0)
        panel = app.query_one("#sockets", Panel)
        assert "sockets +" in str(panel.border_subtitle)
        assert str(panel.border_subtitle).startswith("↻")
        memory, _ = shown(app, "#so-memory")
        assert "MB/h" not in memory  # no slope across the restart
