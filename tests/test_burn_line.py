"""The burn line's words: within the 36 columns a panel line has at 80x24 for any burn rate,
the label and the gap between the pairs given up before a figure is."""

from __future__ import annotations

from rich.cells import cell_len
from textual.content import Content

from sbtop.console.burn_line import burn_line, rate
from sbtop.engine.assessment import Assessment
from sbtop.engine.detail import Detail
from sbtop.engine.figures import judge
from sbtop.engine.levels import Level
from sbtop.engine.routes import Routes
from sbtop.engine.settings import EngineSettings
from sbtop.engine.slo import AVAILABILITY, BURN_FIGURES

S = EngineSettings()


def _line(values: dict[str, float | None], width: int = 36) -> str:
    figures = {BURN_FIGURES[(AVAILABILITY, w)]: judge(
        BURN_FIGURES[(AVAILABILITY, w)], v, S, reason="needs history",
        detail=Detail(page_at=14.4 if w in ("1h", "5m") else 6.0))
        for w, v in values.items()}
    a = Assessment("t", 1, 1.0, 1_800_000_000.0, Level.OK, figures, Routes(), (), {})
    return Content.from_markup(burn_line(a, AVAILABILITY, width=width)).plain


def test_a_burn_rate_takes_five_columns_at_most_whatever_its_size() -> None:
    assert [rate(v) for v in (0.04, 2.5, 9.94, 9.96, 14.4, 999.4, 999.5, 5000.0,
                              float("inf"))] == [
        "0.0x", "2.5x", "9.9x", "10x", "14x", "999x", ">999x", ">999x", ">999x"]


def test_the_burn_line_keeps_within_36_columns_for_any_value() -> None:
    assert _line({"1h": 20, "5m": 40, "6h": None, "30m": 40}) == (
        "burn 1h 20x 5m 40x  6h - 30m 40x")
    # Four values under 10 (the everyday case): 38 columns with the label, so it goes.
    assert _line({"1h": 2.5, "5m": 1.2, "6h": 0.8, "30m": 3.1}) == (
        "1h 2.5x 5m 1.2x  6h 0.8x 30m 3.1x")
    # A budget burning thousands of times too fast: the widest line, 36 columns.
    widest = _line({"1h": 1200, "5m": 14000, "6h": 1500, "30m": 2e6})
    assert widest == "1h >999x 5m >999x 6h >999x 30m >999x" and cell_len(widest) == 36
    for v in (0.5, 9.96, 99.9, 999.9, 1000.0, 1e9):
        assert cell_len(_line({"1h": v, "5m": v, "6h": v, "30m": v})) <= 36
    # Where the panel is wider, the label and the gap stay.
    assert _line({"1h": 1200, "5m": 1200, "6h": 1200, "30m": 1200}, width=60).startswith(
        "burn 1h >999x 5m >999x  6h")
