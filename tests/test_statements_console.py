"""The console's statements: a line in the Database panel and the `S` view, at 80x24, on the
real PostgreSQL (a cluster that preloads pg_stat_statements) with the demo's traffic."""

from __future__ import annotations

import dataclasses

import psycopg
import pytest

from sbtop.collector import Collector
from sbtop.console.screens.help import HelpScreen
from sbtop.console.screens.statements import StatementsScreen
from sbtop.console.widgets.database import statements_line
from sbtop.console.widgets.panel import Line
from sbtop.engine.statements import StatementStat, StatementsView
from sbtop.sources.settings import DbSettings
from tests.console_harness import Harness, notifications, screen_text

pytestmark = pytest.mark.slow


def _watching(h: Harness, dsn: str, statements: bool = True) -> None:
    h.session.wiring = dataclasses.replace(h.session.wiring, collector=dataclasses.replace(
        h.session.wiring.collector, dsn=dsn,
        db=DbSettings(only_database=True, statements=statements, statements_every_s=1.0)))
    h.session.source = Collector(h.session.wiring.collector, h.clock)


def _n_plus_one(dsn: str, requests: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as c:
        for _ in range(requests * 40):
            c.execute("SELECT v FROM items WHERE id = %s", (1,))


async def test_the_panel_line_and_the_statements_view_sorted_three_ways(pgss_db: str) -> None:
    h = Harness()
    _watching(h, pgss_db)
    try:
        async with h.app.run_test(size=(120, 40)) as pilot:
            await h.ticks(3, pilot)
            a = h.session.assessment
            assert a is not None and a.statements is not None
            rate = a.figures["requests_per_s"].value
            assert rate
            # One tick's worth of requests, each asking 40 times: calls per request ~40.
            _n_plus_one(pgss_db, round(rate))
            await h.ticks(1, pilot)
            statements = h.app.query_one("#db-statements", Line)
            shown = statements.content.plain
            assert "calls per request: N+1?" in shown and "FROM items" in shown
            assert statements.display
            await pilot.press("S")
            assert isinstance(h.app.screen, StatementsScreen)
            text = screen_text(h.app)
            assert "Statements (pg_stat_statements)" in text and "sorted by total time" in text
            assert "N+1?" in text and "FROM items WHERE id" in text
            await pilot.press("s")
            assert "sorted by mean time" in screen_text(h.app)
            await pilot.press("s")
            assert "sorted by calls" in screen_text(h.app)
            await pilot.press("escape")
            assert not isinstance(h.app.screen, StatementsScreen)
    finally:
        h.close()


async def test_the_view_fits_80x24_and_says_why_when_the_extension_is_missing(
        pg_db: str) -> None:
    h = Harness()
    _watching(h, pg_db)
    try:
        async with h.app.run_test(size=(80, 24)) as pilot:
            await h.ticks(2, pilot)
            # At 80x24 the panel keeps its three lines: the statements are behind S.
            assert not h.app.query_one("#db-statements", Line).display
            await pilot.press("S")
            assert isinstance(h.app.screen, StatementsScreen)
            text = screen_text(h.app)
            assert "pg_stat_statements is not installed" in text
            # Nothing to sort: no sort key in the footer.
            assert "Sort" not in text.splitlines()[-1]
            await pilot.press("escape")
            # The rest of the database panel is unaffected.
            assert "act" in h.app.query_one("#db-states", Line).content.plain
    finally:
        h.close()


async def test_statements_off_take_no_line_in_the_panel(pgss_db: str) -> None:
    h = Harness()
    _watching(h, pgss_db, statements=False)
    try:
        async with h.app.run_test(size=(120, 40)) as pilot:
            await h.ticks(2, pilot)
            assert "act" in h.app.query_one("#db-states", Line).content.plain
            assert not h.app.query_one("#db-statements", Line).display
            assert h.session.assessment is not None
            assert h.session.assessment.statements is None
    finally:
        h.close()


async def test_s_without_a_database_says_so() -> None:
    h = Harness()
    try:
        async with h.app.run_test(size=(80, 24), notifications=True) as pilot:
            await h.ticks(1, pilot)
            await pilot.press("S")
            await pilot.pause()
            assert not isinstance(h.app.screen, StatementsScreen)
            assert any("no database configured" in m for m in notifications(h.app))
    finally:
        h.close()


async def test_the_help_names_the_statements_key_at_80x24() -> None:
    from textual.containers import VerticalScroll

    h = Harness()
    try:
        async with h.app.run_test(size=(80, 24)) as pilot:
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(h.app.screen, HelpScreen)
            assert " S " in screen_text(h.app).replace("\n", " \n ")
            assert h.app.screen.query_one(VerticalScroll).max_scroll_y == 0
    finally:
        h.close()


def _stat(**kw: object) -> StatementStat:
    base: dict[str, object] = dict(id="42", text="SELECT [b]x[/b]", calls=100, total_ms=500.0,
                                   calls_per_s=10.0, total_ms_per_s=50.0, mean_ms=5.0,
                                   calls_per_request=2.0)
    base.update(kw)
    return StatementStat(**base)  # type: ignore[arg-type]


def test_the_panel_line_shows_the_top_statement_as_text_not_markup() -> None:
    from textual.content import Content

    line = statements_line(StatementsView(by_total=(_stat(),), window_s=10))
    assert Content.from_markup(line).plain == "top 50 ms/s mean 5.0 ms SELECT [b]x[/b]"
    assert statements_line(None) == ""
    why = Content.from_markup(statements_line(StatementsView(reason="not installed"))).plain
    assert why == "stmts: not installed"


def test_the_panel_line_says_the_mean_in_ms_and_a_long_reason_within_its_width() -> None:
    """At 120x40 the Database panel's line has 56 columns: the extension's missing is said
    whole, pointing at S for how to enable it, not cut in the middle of its first step."""
    from textual.content import Content

    from sbtop.sources.database.statements import CREATE

    reason = (f"pg_stat_statements is not installed: {CREATE} (as a superuser); reading "
              "other roles' statements needs pg_read_all_stats")
    plain = Content.from_markup(statements_line(StatementsView(reason=reason), 56)).plain
    assert plain == "stmts: pg_stat_statements is not installed (S for more)"
    plain = Content.from_markup(statements_line(StatementsView(reason=reason), 45)).plain
    assert plain == "stmts: pg_stat_statements is not installed"
    assert Content.from_markup(statements_line(StatementsView(reason=reason))).plain == (
        f"stmts: {reason}")
