"""The layout per size: which size is which, when the canary comes first, how many rows the
charts get, and what a tall history chart draws."""

from __future__ import annotations

import math

from textual.content import Content

from sbtop.console.layout import (
    CHART_MAX_ROWS,
    Size,
    canary_under_way,
    chart_rows,
    size_of,
)
from sbtop.console.sparkline import RULE, chart, nice_top
from sbtop.console.widgets.routes import RoutesPanel
from sbtop.engine.gate import Gate
from sbtop.engine.levels import Threshold
from sbtop.engine.routes import RouteStat


def _plain(markup: str) -> str:
    return Content.from_markup(markup).plain


def test_sizes_are_compact_below_30_rows_and_wide_from_160_columns() -> None:
    assert size_of(80, 24) is Size.COMPACT
    assert size_of(200, 29) is Size.COMPACT  # rows decide first: 29 rows hold no charts
    assert size_of(120, 40) is Size.STANDARD
    assert size_of(159, 60) is Size.STANDARD
    assert size_of(160, 30) is Size.WIDE


def _gate(percent: int | None, next_percent: int | None) -> Gate:
    return Gate(percent, next_percent, 1800.0, None, ())


def test_a_canary_is_under_way_between_its_first_step_and_the_top_of_the_ladder() -> None:
    assert not canary_under_way(None)
    assert not canary_under_way(_gate(None, None))  # the flag not read
    assert not canary_under_way(_gate(0, 5))
    assert canary_under_way(_gate(5, 25))
    assert canary_under_way(_gate(25, 100))
    assert not canary_under_way(_gate(100, None))  # done: latency and errors first again


def test_charts_get_the_spare_rows_shared_by_the_rows_of_panels() -> None:
    assert chart_rows(0, 2) == 1
    assert chart_rows(3, 2) == 1  # two rows each would be a cramped chart: a sparkline
    assert chart_rows(4, 2) == 3
    assert chart_rows(9, 2) == 5
    assert chart_rows(9, 1) == 10
    assert chart_rows(-5, 2) == 1  # more routes than room
    assert chart_rows(500, 1) == CHART_MAX_ROWS


def test_the_scale_is_a_round_number_at_or_above_the_value() -> None:
    assert nice_top(625) == 1000
    assert nice_top(125) == 200
    assert nice_top(2000) == 2000
    assert nice_top(0.3) == 0.5
    assert nice_top(0) == 1.0
    assert nice_top(math.nan) == 1.0


def test_a_tall_chart_draws_labelled_threshold_lines_readable_without_colour() -> None:
    t = Threshold(warning=500.0, critical=1000.0)
    values = [200.0] * 10 + [1500.0] * 5
    lines = [_plain(x) for x in chart(values, 40, 6, t, "p95·15s", " ms")]
    assert len(lines) == 6 and all(len(x) == 40 for x in lines)
    assert lines[0].rstrip().endswith("2000 ms")  # the scale's top
    assert lines[-1].rstrip().endswith("p95·15s")  # what, and how long a bar is
    warn = next(x for x in lines if "warn 500" in x)
    crit = next(x for x in lines if "crit 1000" in x)
    assert RULE in warn and RULE in crit  # dashed lines where the bars leave room
    assert lines.index(crit) < lines.index(warn)  # the higher bound is drawn higher
    # The last bars (1500 ms) reach above the critical line; the first ones stay low.
    bars = [x[: 40 - len(" crit 1000")] for x in lines]  # the label column: the longest
    assert bars[lines.index(crit)].endswith("█")
    assert bars[lines.index(crit) - 1].endswith("▄")  # 1500 of 2000: half of the row above
    assert bars[lines.index(crit)][0] == RULE  # no bar there: the line shows
    assert bars[-1].startswith(" ")  # nothing known that long ago


def test_a_bound_far_above_the_data_is_named_not_allowed_to_flatten_the_bars() -> None:
    # 152 sockets against a warning at 1,000: a scale to 1,250 drew them as one low row.
    t = Threshold(warning=1000.0, critical=2000.0)
    lines = [_plain(x) for x in chart([150.0, 152.0, 151.0], 30, 4, t, "sockets·15s")]
    assert lines[0].rstrip().endswith("200")  # the scale fits the data
    assert "warn 1000 \u2191" in lines[1] and not any(RULE in x for x in lines)
    assert any("█" in x for x in lines[1:3])  # the bars rise well off the floor
    # Near the data (p95 200 ms, warning 500), the bound sets the scale and is drawn.
    near = [_plain(x) for x in chart([200.0] * 3, 30, 4, Threshold(500.0, 1000.0),
                                      "p95·15s", " ms")]
    assert any("warn 500" in x and RULE in x for x in near)


def test_a_tall_chart_leaves_no_bar_where_no_value_was_known() -> None:
    lines = [_plain(x) for x in chart([math.nan, 10.0, math.nan], 20, 3, None, "req/s·15s")]
    bottom = lines[-1]
    assert bottom.count("█") == 1  # the one known bar; gaps stay empty, never a low bar


def _route(pct: float | None) -> RouteStat:
    return RouteStat(method="GET", route="/api/tasks", requests=100.0, requests_per_s=1.7,
                     p95_ms=90.0, error_5xx_pct=pct, error_4xx_pct=0.0)


def test_route_rows_stand_out_above_1_percent_5xx_and_are_reversed_above_5() -> None:
    row = RoutesPanel._row
    for calm in (0.5, 0.0, None):
        assert not row(_route(calm), 40).startswith("[")  # plain: no style at all
    assert row(_route(2.0), 40).startswith("[b $warning]")
    assert row(_route(2.0), 40, no_color=True).startswith("[b]")  # bold, not a dim grey
    assert row(_route(7.0), 40).startswith("[b reverse $error]")
