"""The layout per size on the real console (pilot, the simulated backend advanced by hand): what
each size puts first, where the spare rows go, and what reads without colour."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from sbtop.console.widgets.panel import Panel
from tests.console_harness import Harness, screen_text

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow


async def _settle(h: Harness, pilot: object) -> None:
    await h.app.workers.wait_for_complete()
    await pilot.pause()  # type: ignore[attr-defined]


def _row_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines()) if needle in line)


async def test_at_80x24_a_bad_canary_shows_the_canary_first_and_the_routes_it_breaks(
        tmp_path: Path) -> None:
    h = Harness(production=False, state_dir=tmp_path)
    h.backend.set(rps=100, canary_regresses_at=25)
    try:
        async with h.app.run_test(size=(80, 24)) as pilot:
            await _settle(h, pilot)
            await h.ticks(30, pilot)
            await pilot.press("c", "y")  # 5 %
            await _settle(h, pilot)
            await h.ticks(2, pilot)
            await pilot.press("c", *"demo", "enter")  # 25 %: an override (the soak is long)
            await _settle(h, pilot)
            await h.ticks(90, pilot)
            text = screen_text(h.app)
            assert "flag 25%" in text
            # The canary first, right under the header, then latency and errors.
            assert _row_of(text, "Canary") == 1
            assert _row_of(text, "Canary") < _row_of(text, "Latency") < _row_of(text, "Routes")
            # Room for the routes: six of them (the gate's criteria take a second line at 80
            # columns), the ones the canary breaks among them.
            listed = [line for line in text.splitlines() if "/api/" in line]
            assert len(listed) >= 6
            assert sum(1 for line in listed if _5xx(line) > 1.0) >= 3
    finally:
        h.close()


def _5xx(line: str) -> float:
    cells = line.strip("│ ").split()
    return float(cells[-2]) if cells[-2] != "-" else 0.0


async def test_at_120x40_the_rows_the_routes_do_not_need_become_history_charts() -> None:
    h = Harness()
    h.backend.set(rps=100)
    try:
        async with h.app.run_test(size=(120, 40)) as pilot:
            await h.ticks(100, pilot)
            text = screen_text(h.app).splitlines()
            routes = _row_of("\n".join(text), "Routes by")
            body = text[routes + 1: -2]  # up to the panel's bottom border
            empty = [line for line in body if not line.strip("│ ")]
            assert len(empty) <= 1, "\n".join(text)
            # Every route listed, and the latency chart several rows high with its threshold.
            assert sum("/api/" in line for line in body) == 13
            lat = text[_row_of("\n".join(text), "Latency"):routes]
            assert any("warn 500" in line and "╌" in line for line in lat)
            assert any("p95·15s" in line for line in lat)
    finally:
        h.close()


async def test_a_sparkline_is_as_wide_as_its_panel_again_as_soon_as_the_terminal_resizes(
        ) -> None:
    h = Harness()
    h.backend.set(rps=100)
    try:
        async with h.app.run_test(size=(110, 30)) as pilot:
            await h.ticks(200, pilot)  # 40 bars of 5 s: wider than the panel will be
            assert "p95·5s" in screen_text(h.app)
            await pilot.resize_terminal(90, 30)
            await pilot.pause()
            # No tick since: the sparkline was redrawn for its new width, its label whole.
            text = screen_text(h.app)
            line = next(x for x in text.splitlines() if "p95·5s" in x)
            left = line.split("║" if "║" in line else "│")[1]
            assert left.rstrip().endswith("p95·5s")
            assert left.strip().startswith("▁") or left.lstrip()[0] in "▁▂▃▄▅▆▇█"
    finally:
        h.close()


async def test_the_wide_layout_puts_the_four_metric_panels_side_by_side() -> None:
    h = Harness()
    h.backend.set(rps=100)
    try:
        async with h.app.run_test(size=(200, 50)) as pilot:
            await h.ticks(100, pilot)
            text = screen_text(h.app)
            top = text.splitlines()[1]
            for title in ("Latency", "Traffic & errors", "Sockets & memory", "Database"):
                assert title in top
            assert "warn 500" in text and "warn 1000" in text  # charts with their lines
    finally:
        h.close()


_CLASS = re.compile(r"\.(terminal-\d+-r\d+) \{ ([^}]*) \}")
_TEXT = re.compile(r'<text class="([^"]*)"[^>]*>([^<]*)</text>')


def _style(svg: str, needle: str) -> tuple[int, bool]:
    """(grey level, bold) of the text run holding `needle` in a monochrome screenshot."""
    styles = dict(_CLASS.findall(svg))
    for cls, body in _TEXT.findall(svg):
        if needle in html.unescape(body).replace("\xa0", " "):
            css = styles.get(cls, "")
            fill = re.search(r"fill: #([0-9a-f]{6})", css)
            grey = int(fill.group(1)[0:2], 16) if fill else 0xC5
            return grey, "bold" in css
    raise AssertionError(f"{needle!r} not on screen")


async def test_without_colour_focus_and_failing_routes_stand_out(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    h = Harness()
    h.backend.set(rps=100)
    try:
        async with h.app.run_test(size=(120, 40)) as pilot:
            await h.ticks(30, pilot)
            h.backend.set(error_rate=0.03)
            await h.ticks(70, pilot)
            text = screen_text(h.app).splitlines()
            assert h.app.query_one("#traffic", Panel).has_class("-warning")
            # The focused panel (Latency) has a double line; the warning one (Traffic) a
            # square one, not the round one of a panel that is OK (Sockets & memory).
            assert text[1].startswith("╔═ Latency")
            assert "┌─ Traffic & errors" in text[1]
            assert any("╭─ Sockets & memory" in line for line in text)
            svg = h.app.export_screenshot()
            failing = [r for r in h.app.snapshot.assessment.routes.every  # type: ignore[union-attr]
                       if r.error_5xx_pct and 1 < r.error_5xx_pct <= 5]
            assert failing
            grey_f, bold_f = _style(svg, failing[0].name + " ")
            grey_plain, _ = _style(svg, "no database configured")  # plain text
            assert bold_f and grey_f >= grey_plain  # bold, and never dimmer than plain text
    finally:
        h.close()


async def test_the_layout_leaves_the_route_table_unmade_between_the_routes_redraws() -> None:
    """The route table is made when it is read (LazyRoutes): the routes panel reads it every 5 s.
    The layout fitting the charts read each tick's table, which made it every tick (on a page of
    hundreds of routes, a fifth of the tick); it counts the routes the panel last drew."""
    from sbtop.engine.routes import LazyRoutes

    h = Harness()
    h.backend.set(rps=100)
    try:
        async with h.app.run_test(size=(120, 40)) as pilot:
            await h.ticks(12, pilot)  # the routes panel redrew at 10 s
            made = []
            for _ in range(3):  # 13 to 15 s: no redraw due
                await h.ticks(1, pilot)
                routes = h.session.assessment.routes if h.session.assessment else None
                assert isinstance(routes, LazyRoutes)
                made.append(routes._made is not None)
            assert made == [False, False, False]
            await h.ticks(100, pilot)  # the charts still grow once the routes held still
            assert h.app.query_one("#lat-spark").rows > 1
    finally:
        h.close()
