"""The full-screen charts and the route drill-down: one unit per axis, words in the legends,
labelled thresholds and markers, readable without colour; a route cursor, each route's own
chart from the history the session keeps (live and replay)."""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sbtop.console import chart
from sbtop.console.replay import ReplayApp
from sbtop.console.screens.chart import ChartScreen, RouteChartScreen
from sbtop.console.widgets.routes import RoutesPanel
from sbtop.demo.backend import SimulatedBackend
from sbtop.engine import codec
from sbtop.engine.route_history import RouteHistory
from sbtop.engine.routes import Routes, RouteStat
from sbtop.recording.reader import Recording
from sbtop.session.replay import ReplaySession
from tests.console_harness import Harness, live_app, notifications, screen_text
from tests.recordings import write_recording
from tests.waiting import app_until as until

pytestmark = pytest.mark.slow

TIME = re.compile(r"\d\d:\d\d:\d\d")


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = Harness()
    h.backend.set(rps=100, error_rate=0.02)
    try:
        yield h
    finally:
        h.close()


def plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


async def test_traffic_chart_puts_the_rate_and_the_error_percentages_on_axes_of_their_own(
        harness: Harness) -> None:
    app = harness.app
    async with app.run_test(size=(120, 40)) as pilot:
        await harness.ticks(20, pilot)
        await pilot.press("tab", "enter")
        screen = app.screen
        assert isinstance(screen, ChartScreen)
        panes = screen.panes()
        assert [p.title for p in panes] == ["per second", "percent"]
        assert [s.label for s in panes[0].series] == ["requests (per s)"]
        assert [s.label for s in panes[1].series] == ["5xx errors (%)", "4xx errors (%)"]
        text = screen_text(app)
        assert "requests (per s)" in text and "5xx errors (%)" in text
        assert "error_rate_5xx_pct" not in text and "requests_per_s" not in text  # no keys


async def test_sockets_and_memory_are_charted_apart_and_far_thresholds_named_in_the_title(
        harness: Harness) -> None:
    app = harness.app
    async with app.run_test(size=(120, 40)) as pilot:
        await harness.ticks(20, pilot)
        await pilot.press("tab", "tab", "enter")
        screen = app.screen
        assert isinstance(screen, ChartScreen)
        assert [p.title for p in screen.panes()] == ["count", "percent"]
        text = screen_text(app)
        # Sockets near 150 are not flattened under a line at 2,000: the lines are named.
        assert "count (above the top: WARN 1000, CRIT 2000)" in text
        assert "socket connections (count)" in text and "memory (%)" in text


async def test_threshold_lines_and_action_markers_carry_their_labels(harness: Harness) -> None:
    app = harness.app
    harness.backend.set(fixed_latency_ms=450)  # both lines near enough the data to be drawn
    async with app.run_test(size=(120, 40)) as pilot:
        await harness.ticks(30, pilot)
        a = harness.session.assessment
        assert a is not None
        harness.session.history.mark(a.wall - 10, "restart")
        await pilot.press("enter")
        text = screen_text(app)
        assert "p95 latency WARN 500 ms" in text and "p95 latency CRIT 1000 ms" in text
        assert f"restart {time.strftime('%H:%M', time.localtime(a.wall - 10))}" in text


def test_a_threshold_line_far_above_the_data_is_named_in_the_title_not_drawn() -> None:
    walls = [1000.0 + i for i in range(30)]
    series = [chart.Series("socket connections (count)", walls, [150.0] * 30, "default")]
    lines = [chart.HLine(240.0, "default", "socket connections WARN 240", "WARN 240"),
             chart.HLine(2000.0, "default", "socket connections CRIT 2000", "CRIT 2000")]
    text = plain(chart.build([chart.Pane("count", series, lines)], [], 100, 20))
    assert "count (above the top: CRIT 2000)" in text
    assert "socket connections WARN 240" in text and "socket connections CRIT" not in text
    # The axis ends just above the nearer line, not at 2,000: the data is not flattened.
    assert re.search(r"^\s*2\d\d┤", text, re.M) and "2000" not in text.split("\n", 2)[-1]


def test_each_series_has_its_own_marker_shape_in_the_chart_and_its_legend() -> None:
    walls = [1000.0 + i for i in range(30)]
    series = [chart.Series(f"s{i} (ms)", walls, [10.0 * (i + 1) + math.sin(t) for t in walls],
                           "default") for i in range(3)]
    text = plain(chart.build([chart.Pane("milliseconds", series)], [], 80, 20))
    # Without colour the legend still tells them apart: braille, half blocks, bullets.
    legend = [line for line in text.splitlines() if " s0 (ms)" in line or " s1 (ms)" in line
              or " s2 (ms)" in line]
    assert len(legend) == 3
    glyphs = {re.search(r"(\S\S) s\d \(ms\)", line)[1] for line in legend}  # type: ignore[index]
    assert len(glyphs) == 3, glyphs


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_route_chart_fits_the_screen_and_uses_its_height(
        harness: Harness, size: tuple[int, int]) -> None:
    app = harness.app
    async with app.run_test(size=size) as pilot:
        await harness.ticks(30, pilot, seconds=5.0)
        app.query_one(RoutesPanel).focus()
        await pilot.press("enter")
        assert isinstance(app.screen, RouteChartScreen)
        rows = screen_text(app).splitlines()
        # The time axis (the chart's last row) is on screen, just above the footer.
        axis = [i for i, row in enumerate(rows) if len(TIME.findall(row)) >= 3]
        assert axis, "\n".join(rows)
        assert size[1] - 4 <= axis[-1] <= size[1] - 2
        for words in ("p50 latency (ms)", "p95 latency (ms)", "p99 latency (ms)",
                      "requests (per s)", "5xx errors (%)"):
            assert words in "\n".join(rows)


async def test_the_route_cursor_moves_with_j_k_and_the_arrows_and_enter_opens_that_route(
        harness: Harness) -> None:
    app = harness.app
    async with app.run_test(size=(120, 40)) as pilot:
        await harness.ticks(40, pilot, seconds=5.0)
        routes = app.query_one(RoutesPanel)
        routes.focus()
        await pilot.pause()
        assert routes.cursor == routes.shown[0]
        await pilot.press("j", "down", "k")
        assert routes.cursor == routes.shown[1]
        assert any(line.startswith("> " + routes.shown[1]) for line in
                   (row.strip("│║ ").rstrip() for row in screen_text(app).splitlines())
                   if line.startswith(">"))
        await pilot.press("up", "up")  # stops at the first
        assert routes.cursor == routes.shown[0]
        await pilot.press("down", "enter")
        screen = app.screen
        assert isinstance(screen, RouteChartScreen)
        name = routes.shown[1]
        assert screen.route == name and name in screen_text(app)
        # The route's own figures, as the route table had them at each sample.
        track = harness.session.route_track(name)
        assert track is not None and len(track) >= 10
        a = harness.session.assessment
        assert a is not None
        stat = next(r for r in a.routes.every if r.name == name)
        walls, p95 = track.points("p95_ms")
        _w, p50 = track.points("p50_ms")
        _w, p99 = track.points("p99_ms")
        assert p50[-1] <= p95[-1] <= p99[-1]
        # Sampled every 5 s of the session's clock, as the table is redrawn.
        assert all(y - x == pytest.approx(5.0) for x, y in itertools.pairwise(walls))
        assert walls[-1] == a.wall and p95[-1] == stat.p95_ms
        await pilot.press("escape")
        assert app.screen is app.screen_stack[0]


async def test_enter_on_the_routes_panel_before_any_route_says_so(harness: Harness) -> None:
    app = harness.app
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(RoutesPanel).focus()
        await pilot.press("enter")
        assert not isinstance(app.screen, ChartScreen)
        assert "Routes: no route to chart yet" in notifications(app)


async def test_the_routes_title_and_header_show_the_sort_order_and_its_direction(
        harness: Harness) -> None:
    app = harness.app
    async with app.run_test(size=(120, 40)) as pilot:
        await harness.ticks(10, pilot)
        routes = app.query_one(RoutesPanel)
        titles = [str(routes.border_title)]
        heads = []
        for _ in range(3):
            heads.append(screen_text(app))
            await pilot.press("s")
            titles.append(str(routes.border_title))
        assert titles == ["Routes by p95 \u25bc (slowest first)",
                          "Routes by 5xx % \u25bc (most first)",
                          "Routes by req/s \u25bc (busiest first)",
                          "Routes by name \u25b2 (A to Z)"]
        assert "p95 ms\u25bc" in heads[0] and "5xx %\u25bc" in heads[1]


def test_route_history_is_bounded_per_route_and_in_routes_and_keeps_gaps_as_gaps() -> None:
    h = RouteHistory(capacity=4, every_s=5.0, max_routes=2)

    def stat(route: str, p95: float | None) -> RouteStat:
        return RouteStat("GET", route, 10.0, 1.0, p95, 0.0, 0.0, p95, p95)

    h.add(0.0, 100.0, [stat("/a", 10.0), stat("/b", 20.0)])
    h.add(2.0, 102.0, [stat("/a", 99.0)])  # not due: within 5 s of the last sample
    h.add(5.0, 105.0, [stat("/a", 11.0)])  # /b had no traffic: a gap, not 0
    track_b = h.track("GET /b")
    assert track_b is not None
    _w, values = track_b.points("p95_ms")
    assert values[0] == 20.0 and math.isnan(values[1])
    h.add(10.0, 110.0, [stat("/a", 12.0), stat("/c", 30.0)])  # /b, seen longest ago, goes
    assert set(h.tracks) == {"GET /a", "GET /c"} and h.dropped == 1
    for t in range(15, 60, 5):
        h.add(float(t), 100.0 + t, [stat("/a", float(t))])
    track_a = h.track("GET /a")
    assert track_a is not None
    walls, values = track_a.points("p95_ms")
    assert len(walls) == 4 and values == [40.0, 45.0, 50.0, 55.0]


def test_a_recorded_route_without_p50_and_p99_reads_them_as_unknown() -> None:
    old = {"every": [{"method": "GET", "route": "/a", "requests": 5.0, "requests_per_s": 1.0,
                      "p95_ms": 120.0, "error_5xx_pct": 0.0, "error_4xx_pct": 0.0}]}
    routes = codec.decode(Routes, old)
    assert routes.every[0].p95_ms == 120.0
    assert routes.every[0].p50_ms is None and routes.every[0].p99_ms is None


async def test_the_route_chart_works_in_a_replay_from_the_recordings_route_tables(
        tmp_path: Path) -> None:
    path = tmp_path / "r.sbrec"
    await asyncio.to_thread(write_recording, path, ticks=120, step=1.0)
    rec = Recording(path)
    app = ReplayApp(ReplaySession(rec, speed=10))
    player = app.player
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        player.playing = False
        await pilot.press("end")
        routes = app.query_one(RoutesPanel)
        routes.focus()
        await pilot.pause()
        assert routes.shown
        name = routes.shown[0]
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, RouteChartScreen) and screen.track is not None
        walls, p95 = screen.track.points("p95_ms")
        # A sample every 5 s of recorded time, over the whole recording (120 s).
        assert 20 <= len(walls) <= 25
        assert walls[-1] <= rec.walls[-1]
        table = rec.assessment(rec.index_at(walls[-1])).routes.every
        assert p95[-1] == next(r.p95_ms for r in table if r.name == name)
        assert "p99 latency (ms)" in screen_text(app)
        await pilot.press("escape")
        # Played on from an earlier tick, the route history follows tick by tick (not built
        # again): a sample every 5 ticks.
        player.go_to(10, rebuild=True)
        first = player.route_track(name)
        assert first is not None
        n = len(first)
        for i in range(11, 41):
            player.go_to(i, rebuild=False)
        assert player.route_track(name) is first and len(first) == n + 6


async def test_the_route_chart_works_on_prometheus_from_the_tables_the_session_kept() -> None:
    from tests.promserver import PromServer
    from tests.test_prometheus import prom_target, wait_history

    backend = SimulatedBackend(port=0).start()
    backend.set(rps=150, error_rate=0.05)
    prom = PromServer([f"127.0.0.1:{backend.port}"])
    try:
        prom.wait_for('sum(rate(http_requests_total{job="studybuddy"}[10s])) > 0')
        wait_history(prom)
        app = live_app(prom_target(prom.url, 'job="studybuddy"', window_s=10), refresh_s=1.0,
                       read_only=True)
        session: Any = app.session
        async with app.run_test(size=(120, 40)) as pilot:
            routes = app.query_one(RoutesPanel)

            def two_samples() -> bool:
                track = session.route_track(routes.shown[0]) if routes.shown else None
                return track is not None and len(track) >= 2

            await until(two_samples, pilot, within_s=60)
            routes.focus()
            await pilot.press("enter")
            screen = app.screen
            assert isinstance(screen, RouteChartScreen) and screen.track is not None
            _w, p50 = screen.track.points("p50_ms")
            _w, p95 = screen.track.points("p95_ms")
            _w, p99 = screen.track.points("p99_ms")
            assert not math.isnan(p95[-1]) and p50[-1] <= p95[-1] <= p99[-1]
    finally:
        prom.stop()
        backend.stop()


def test_several_quantiles_at_once_answer_as_one_histogram_quantile_each() -> None:
    import random

    from sbtop.engine.quantile import INF, histogram_quantile, histogram_quantiles

    rng = random.Random(7)
    qs = (0.5, 0.95, 0.99)
    for _ in range(5000):
        bounds = rng.sample([-1.0, 0.0, 0.005, 0.01, 0.05, 0.1, 0.3, 0.5, 1.0, 2.5, 10.0],
                            k=rng.randint(0, 11))
        bounds = sorted(bounds) if rng.random() < 0.9 else bounds  # some out of order
        if rng.random() < 0.9:
            bounds.append(INF)
        count, items = 0.0, []
        for b in bounds:  # increasing, flat, float noise and the odd decrease
            count += rng.choice([0.0, 1.0, 3.5, 10.0, 1e-13, -2.0, math.nan, math.inf])
            items.append((b, count))
        one = [histogram_quantile(q, items) for q in qs]
        both = histogram_quantiles(qs, items)
        assert all(x == y or (math.isnan(x) and math.isnan(y))
                   for x, y in zip(one, both, strict=True)), items


def test_the_route_drill_down_in_a_real_terminal_without_colour() -> None:
    import sys

    from tests.tmux import Pane

    sbtop = Path(sys.executable).with_name("sbtop")
    pane = Pane(f"{sbtop} demo; echo sbtop-exited-$?; sleep 30", size=(80, 24),
                env={"NO_COLOR": "1"})
    try:
        pane.wait_for("Routes by p95")
        pane.wait_for("GET /api")  # the table is drawn
        pane.keys("BTab")  # the routes panel: the last one
        # The cursor, on the first route (the focused panel's border is double: \u2551).
        screen = pane.wait_for("\u2551 > ")
        cursor = next(line for line in screen.splitlines() if line.startswith("\u2551 > "))
        route = cursor[4:].split("  ")[0].strip()
        pane.keys("Enter")
        screen = pane.wait_for(f"Route {route}")
        for words in ("milliseconds", "p95 latency (ms)", "requests (per s)", "per second",
                      "5xx errors (%)"):
            assert words in screen
        pane.keys("Escape")
        pane.wait_gone(f"Route {route}")
        pane.keys("q")
        assert "sbtop-exited-0" in pane.wait_for("sbtop-exited-")
    finally:
        pane.close()
