"""The burn rates in the console: one line under the raw rates, in the 36 columns a panel has
at 80x24, and no line at all without an SLO."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from textual.content import Content

from sbtop.config.schema import SloConfig
from sbtop.console.widgets.panel import Line
from tests.console_harness import Harness

pytestmark = pytest.mark.slow


def _plain(h: Harness, selector: str) -> str:
    return Content.from_markup(h.app.query_one(selector, Line).text).plain


async def test_burn_lines_show_each_pair_beside_the_raw_rates_at_80x24() -> None:
    h = Harness(slo=SloConfig(availability=99.5, latency=99.0))
    h.backend.set(rps=100)
    try:
        async with h.app.run_test(size=(80, 24)) as pilot:
            # 11 ticks 30 s apart: 5 minutes watched, the 30m/1h/6h windows not yet.
            await h.ticks(11, pilot, seconds=30.0)
            for selector in ("#tr-burn", "#lat-burn"):
                text = _plain(h, selector)
                assert text.startswith("burn 1h - 5m ") and text.endswith("6h - 30m -"), text
                assert cell_len(text) <= 36
                line = h.app.query_one(selector, Line)
                assert line.display and line.region.height == 1
                assert line.region.right <= 80
    finally:
        h.close()


async def test_without_an_slo_the_burn_lines_take_no_room() -> None:
    h = Harness()
    try:
        async with h.app.run_test(size=(80, 24)) as pilot:
            await h.ticks(2, pilot)
            assert not h.app.query_one("#tr-burn", Line).display
            assert not h.app.query_one("#lat-burn", Line).display
    finally:
        h.close()
