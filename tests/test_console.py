"""The console, driven with Textual's pilot against a real simulated backend."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from textual.content import Content

from sbtop import config
from sbtop.clock import ManualClock
from sbtop.collector import Collector
from sbtop.console.app import SbtopApp
from sbtop.console.screens.chart import ChartScreen
from sbtop.console.screens.help import HelpScreen
from sbtop.console.widgets.header import HeaderBar
from sbtop.console.widgets.panel import Line, Panel
from sbtop.console.widgets.routes import RoutesPanel
from sbtop.demo.backend import SimulatedBackend
from sbtop.engine.observations import Observation
from sbtop.session.live import LiveSession
from sbtop.session.snapshot import stale_after
from sbtop.sources.settings import DbSettings
from sbtop.wiring import Wiring
from tests.console_harness import Harness, live_app, notifications, screen_text
from tests.servers import Answer, LoopbackServer
from tests.timers import T0, Timers
from tests.waiting import app_until as until

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = Harness()
    h.backend.set(rps=100)
    try:
        yield h
    finally:
        h.close()


def line(app: SbtopApp, selector: str) -> str:
    """A line's text as shown (markup resolved)."""
    return Content.from_markup(app.query_one(selector, Line).text).plain


def _with_database(w: Wiring, dsn: str, *, allow_cancel: bool,
                   allow_terminate: bool = False) -> Wiring:
    """The console's target polling `dsn` (its own database's sessions only), cancelling
    and ending sessions allowed or not."""
    return dataclasses.replace(
        w, collector=dataclasses.replace(w.collector, dsn=dsn,
                                         db=DbSettings(only_database=True)),
        console=dataclasses.replace(w.console, allow_cancel=allow_cancel,
                                    allow_terminate=allow_terminate))


async def test_figures_appear_and_levels_become_words_and_classes(harness: Harness) -> None:
    app = harness.app
    async with app.run_test(size=(120, 40)) as pilot:
        await harness.ticks(3, pilot)
        assert "p95" in line(app, "#lat-values") and "OK" in line(app, "#lat-values")
        assert app.query_one("#traffic", Panel).has_class("-ok")
        harness.backend.set(error_rate=0.10, fixed_latency_ms=700)
        await harness.ticks(3, pilot)
        traffic = app.query_one("#traffic", Panel)
        assert traffic.has_class("-critical")
        assert "CRIT" in line(app, "#tr-values")
        assert app.query_one("#latency", Panel).has_class("-warning")
        assert "WARN" in line(app, "#lat-values")
        assert "CRIT" in app.query_one("#hd-level", Line).text
        text = screen_text(app)
        assert "PRODUCTION" in text and "CRIT" in text and "WARN" in text


async def test_help_lists_every_key_at_80x24_without_scrolling(harness: Harness) -> None:
    from textual.containers import VerticalScroll
    from textual.widgets._toast import Toast

    app = harness.app
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        # A notice arriving while the help is open does not cover its last keys.
        app.notify("a notice arriving while the help is open", timeout=30)
        await pilot.pause()
        assert [t for t in app.screen.query(Toast) if t.display] == []
        text = screen_text(app)
        assert "a notice arriving" not in text
        for key in ("q", "?", "space", "+/-", "tab", "enter", "j / k", "s", "/", "t", "c",
                    "0", "r", "b", "B", "a", "v", "x / K", "escape", "d / S", "t / m"):
            assert f" {key} " in f" {text} ".replace("\n", " \n "), key
        assert "STALE and DOWN" in text  # the last line, on the screen
        assert app.screen.query_one(VerticalScroll).max_scroll_y == 0
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_pause_freezes_the_display_while_collection_goes_on(harness: Harness) -> None:
    app = harness.app
    async with app.run_test(size=(120, 40)) as pilot:
        await harness.ticks(2, pilot)
        await pilot.press("space")
        assert app.paused and "PAUSED" in app.query_one("#hd-paused", Line).text
        frozen = line(app, "#tr-values")
        harness.backend.set(rps=400)
        ticks = harness.session.ticks
        await harness.ticks(3, pilot)
        assert harness.session.ticks == ticks + 3  # still collecting
        assert line(app, "#tr-values") == frozen
        await pilot.press("space")
        assert not app.paused and line(app, "#tr-values") != frozen


async def test_plus_and_minus_change_the_refresh_interval(harness: Harness) -> None:
    app = harness.app
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("minus")
        assert harness.session.refresh_s == 2.0
        await pilot.press("plus", "plus")
        assert harness.session.refresh_s == 0.5
        await pilot.press("plus")
        assert harness.session.refresh_s == 0.5  # the fastest step
        assert "0.5s" in app.query_one("#hd-refresh", Line).text


async def test_t_cycles_through_the_theme_files(harness: Harness) -> None:
    app = harness.app
    async with app.run_test(size=(120, 40)) as pilot:
        seen = {app.theme}
        for _ in range(4):
            await pilot.press("t")
            seen.add(app.theme)
        assert {"dark", "light", "high-contrast", "ansi"} <= seen


async def test_routes_sort_and_filter(harness: Harness) -> None:
    app = harness.app
    async with app.run_test(size=(120, 40)) as pilot:
        await harness.ticks(6, pilot, seconds=5.0)
        routes = app.query_one(RoutesPanel)
        by_p95 = list(routes.shown)
        assert by_p95[0] in ("GET /api/analytics/dashboard", "GET /api/leaderboard")
        await pilot.press("s", "s")
        assert "busiest" in str(routes.border_title)
        assert routes.shown[0] == "GET /api/tasks"
        await pilot.press("slash", *"tasks")
        assert routes.filter_text == "tasks"
        assert routes.shown and all("tasks" in name for name in routes.shown)
        await pilot.press("q")  # typed into the filter, not a quit
        assert app.is_running and routes.filter_text == "tasksq"
        await pilot.press("escape")
        assert routes.filter_text == ""
        await pilot.press("escape")
        assert len(routes.shown) == len(by_p95)


async def test_tab_moves_between_panels_and_enter_opens_the_history_chart(
        harness: Harness) -> None:
    app = harness.app
    async with app.run_test(size=(120, 40)) as pilot:
        await harness.ticks(12, pilot)
        assert app.focused is app.query_one("#latency")
        await pilot.press("tab")
        assert app.focused is app.query_one("#traffic")
        await pilot.press("shift+tab", "enter")
        assert isinstance(app.screen, ChartScreen)
        assert app.screen.keys == ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms")
        chart = screen_text(app)
        assert "Latency" in chart and "ms" in chart
        await harness.ticks(1, pilot)  # the chart follows new data without error
        await pilot.press("escape")
        assert not isinstance(app.screen, ChartScreen)


@pytest.mark.parametrize("key", ["c", "r", "b"])
async def test_deploy_keys_say_the_action_is_not_configured(harness: Harness, key: str) -> None:
    app = harness.app
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(key)
        await pilot.pause()
        assert any("not configured" in m for m in notifications(app))


async def test_q_quits(harness: Harness) -> None:
    app = harness.app
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


@pytest.mark.parametrize("key", ["ctrl+c", "ctrl+q"])
async def test_ctrl_c_and_ctrl_q_quit_at_once_even_while_typing_a_filter(
        harness: Harness, key: str) -> None:
    app = harness.app
    async with app.run_test(size=(80, 24)) as pilot:
        await harness.ticks(2, pilot)
        await pilot.press("slash", "a")
        await pilot.press(key)
        await pilot.pause()
        assert not app.is_running
    assert not any("ctrl+q" in m for m in notifications(app))


async def test_a_hung_target_turns_stale_then_down_and_keys_still_answer() -> None:
    with LoopbackServer({"/metrics": Answer(hang=True), "/api/health": Answer(hang=True)}) as s:
        good = Harness()
        good.close()
        target = config.resolve(config.Config(targets={"hung": config.TargetConfig(
            base_url=s.url, timeout_s=5.0)}))
        app = live_app(target, refresh_s=0.5)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.3)
            # The first scrape is still waiting on the hung server (no tick has ended: it ends
            # at its 5 s deadline), and keys answer meanwhile.
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            assert app.session.ticks == 0  # type: ignore[attr-defined]
            await pilot.press("escape")
            header = app.query_one(HeaderBar)
            deadline = time.monotonic() + 20
            while "DOWN" not in header.query_one("#hd-age", Line).text:
                assert time.monotonic() < deadline
                await pilot.pause(0.2)
            latency = app.query_one("#latency", Panel)
            assert latency.has_class("-down")
            assert "timeout" in str(latency.border_subtitle)
            assert app.is_running


async def test_a_target_that_stops_answering_goes_stale_within_one_refresh(
        harness: Harness) -> None:
    app = harness.app
    async with app.run_test(size=(120, 40)) as pilot:
        await harness.ticks(3, pilot)
        harness.clock.advance(stale_after(harness.session.refresh_s) + 0.1)  # no tick came
        harness.session.check_freshness()  # what the session does every second
        await pilot.pause()
        assert "STALE" in app.query_one("#hd-age", Line).text
        assert app.query_one("#latency", Panel).has_class("-stale")
        await harness.ticks(1, pilot)
        assert app.query_one("#hd-age", Line).text == ""


class FlakySource:
    """A real collector that raises on its second observation: a bug of ours, injected."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.calls = 0

    async def __aenter__(self) -> FlakySource:
        await self.inner.__aenter__()  # type: ignore[attr-defined]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.inner.__aexit__(*exc)  # type: ignore[attr-defined]

    async def observe(self) -> Observation:
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("injected failure")
        return await self.inner.observe()  # type: ignore[attr-defined,no-any-return]


async def test_an_error_in_a_tick_never_exits_the_app(harness: Harness) -> None:
    app, session = harness.app, harness.session
    session.source = FlakySource(session.source)
    async with app.run_test(size=(120, 40)) as pilot:
        await harness.ticks(3, pilot)
        assert app.is_running
        assert session.internal_errors == ["RuntimeError: injected failure"]
        assert session.ticks == 2
        assert any("injected failure" in m for m in notifications(app))


class HeldSource:
    """A source whose scrape takes as long as the test says (an event): the real collector
    behind it, the clock moved by the test."""

    def __init__(self, inner: Collector) -> None:
        self.inner = inner
        self.release = asyncio.Event()
        self.in_flight = 0
        self.most_in_flight = 0
        self.starts: list[float] = []

    async def __aenter__(self) -> HeldSource:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.inner.__aexit__(*exc)

    async def observe(self) -> Observation:
        self.starts.append(self.inner.clock.now()[0] - T0)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
            return await self.inner.observe()
        finally:
            self.in_flight -= 1


async def test_the_live_loop_never_overlaps_its_ticks() -> None:
    # The console's own loop (the session's), on a manual clock: the first scrape is held
    # past the next tick's due time; no second scrape may start before it ends, and the ticks
    # after it are on the grid. (A timer that does not wait for its tick fails this: see
    # test_tick_loop.test_the_overlap_check_fails_on_a_naive_timer.)
    with LoopbackServer({"/metrics": Answer(body=b"x 1\n"),
                         "/api/health": Answer(body=b"{}")}) as s:
        target = config.resolve(config.Config(targets={"slow": config.TargetConfig(
            base_url=s.url)}))
        clock = ManualClock(T0)
        timers = Timers(clock)
        source = HeldSource(Collector(target.collector, clock))
        app = live_app(target, clock=clock, refresh_s=1.0, source=source, wait=timers.wait)
        async with app.run_test(size=(80, 24)) as pilot:
            session = app.session
            assert isinstance(session, LiveSession)
            await until(lambda: bool(source.starts), pilot)
            await timers.run_until(T0 + 1.8)  # the first scrape still held
            assert source.starts == [0.0]
            source.release.set()  # it ends at 1.8: the one due at 1 goes at once
            await until(lambda: session.ticks == 2, pilot)
            await timers.run_until(T0 + 3.0)
            await until(lambda: session.ticks == 4, pilot)
        assert source.most_in_flight == 1
        assert source.starts[:4] == pytest.approx([0.0, 1.8, 2.0, 3.0])


async def test_history_is_bounded() -> None:
    h = Harness(history_s=60)
    try:
        async with h.app.run_test(size=(80, 24)) as pilot:
            await h.ticks(150, pilot)
            ring = h.session.history.ring("requests_per_s")
            assert len(ring) == 60 == ring.capacity
    finally:
        h.close()


async def test_read_only_removes_the_deploy_keys_entirely() -> None:
    h = Harness(read_only=True)
    try:
        async with h.app.run_test(size=(100, 40)) as pilot:
            assert "READ-ONLY" in screen_text(h.app)
            await pilot.press("c", "r", "b")
            await pilot.pause()
            assert not any("not configured" in m for m in notifications(h.app))
            await pilot.press("question_mark")
            text = screen_text(h.app)
            assert "canary" not in text and "roll back" not in text
    finally:
        h.close()


async def test_the_database_panel_sessions_view_and_a_confirmed_cancel(pg_db: str) -> None:
    import threading

    import psycopg

    from sbtop.console.screens.confirm import ConfirmScreen
    from sbtop.console.screens.sessions import SessionsScreen

    sleeper = psycopg.connect(pg_db, autocommit=True)
    outcome: list[str] = []

    def run() -> None:
        try:
            sleeper.execute("SELECT pg_sleep(60)")
            outcome.append("finished")
        except psycopg.errors.QueryCanceled:
            outcome.append("canceled")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    h = Harness()
    app, session = h.app, h.session
    session.wiring = _with_database(session.wiring, pg_db, allow_cancel=False)
    session.source = Collector(session.wiring.collector, h.clock)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await h.ticks(2, pilot)
            assert "act 1" in line(app, "#db-states")
            app.query_one("#database", Panel).focus()
            await pilot.press("enter")
            assert isinstance(app.screen, SessionsScreen)
            assert any(r.query == "SELECT pg_sleep(60)" for r in app.screen.rows)
            await pilot.press("x")  # off: db.allow_cancel is false
            await pilot.pause()
            assert any("allow_cancel" in m for m in notifications(app))
            session.wiring = _with_database(session.wiring, pg_db, allow_cancel=True)
            await pilot.press("x")
            assert isinstance(app.screen, ConfirmScreen)
            assert "pg_sleep(60)" in screen_text(app)
            await pilot.press("n")  # the default answer: nothing happens
            assert isinstance(app.screen, SessionsScreen) and outcome == []
            await pilot.press("x", "y")
            await app.workers.wait_for_complete()
            thread.join(timeout=10)
            assert outcome == ["canceled"]
    finally:
        sleeper.close()
        h.close()


async def test_the_sessions_view_sorts_shows_idle_and_ends_a_session_when_allowed(
        pg_db: str, tmp_path: Any) -> None:
    import psycopg

    from sbtop.actions.audit import AuditLog
    from sbtop.console.screens.confirm import ConfirmScreen
    from sbtop.console.screens.sessions import SessionsScreen

    idler = psycopg.connect(pg_db, autocommit=True, application_name="idler")
    idler.execute("SELECT 1")
    idle_pid = str(idler.info.backend_pid)
    busy = psycopg.connect(pg_db, autocommit=True, application_name="busy")
    busy.execute("SELECT pg_sleep(0)")
    with busy.cursor() as cur:  # a transaction left open: 'idle in transaction'
        cur.execute("BEGIN; SELECT 1")
    h = Harness(state_dir=tmp_path)
    app, session = h.app, h.session
    session.wiring = _with_database(session.wiring, pg_db, allow_cancel=False)
    session.source = Collector(session.wiring.collector, h.clock)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await h.ticks(2, pilot)
            app.query_one("#database", Panel).focus()
            await pilot.press("enter")
            view = app.screen
            assert isinstance(view, SessionsScreen)
            ids = [r.id for r in view.rows]
            assert idle_pid not in ids and str(busy.info.backend_pid) in ids  # idle hidden
            footer = screen_text(app).splitlines()[-1]
            assert "Cancel" not in footer and "Terminate" not in footer and "Idle" in footer
            await pilot.press("i")
            assert idle_pid in [r.id for r in view.rows]
            assert "idle shown" in screen_text(app)
            await pilot.press("s")
            assert "sorted by state" in screen_text(app)
            assert [r.state for r in view.rows] == sorted(r.state or "" for r in view.rows)
            await pilot.press("K")  # off: db.allow_terminate is false
            await pilot.pause()
            assert isinstance(app.screen, SessionsScreen)
            assert any("allow_terminate" in m for m in notifications(app))
            session.wiring = _with_database(session.wiring, pg_db, allow_cancel=False,
                                            allow_terminate=True)
            await h.ticks(1, pilot)
            assert "K Terminate" in screen_text(app).splitlines()[-1]
            view.query_one("#sessions").move_cursor(row=[r.id for r in view.rows].index(idle_pid))
            await pilot.press("K")
            assert isinstance(app.screen, ConfirmScreen)
            assert f"Terminate session {idle_pid}?" in screen_text(app)
            await pilot.press("n")  # the default answer: nothing happens
            assert isinstance(app.screen, SessionsScreen)
            idler.execute("SELECT 1")  # still alive
            await pilot.press("K", "y")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert any(f"terminated session {idle_pid}" in m for m in notifications(app))
            with pytest.raises(psycopg.OperationalError):
                idler.execute("SELECT 1")
            entry = AuditLog(tmp_path / "audit.jsonl").read()[-1]
            assert entry["action"] == "db terminate" and entry["params"]["session"] == idle_pid
            assert entry["result"] == f"terminated session {idle_pid}"
    finally:
        idler.close()
        busy.close()
        h.close()


async def test_read_only_sessions_view_has_no_cancel_or_terminate(pg_db: str) -> None:
    from sbtop.console.screens.sessions import SessionsScreen

    h = Harness(read_only=True)
    app, session = h.app, h.session
    session.wiring = _with_database(session.wiring, pg_db, allow_cancel=True,
                                    allow_terminate=True)
    session.source = Collector(session.wiring.collector, h.clock)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await h.ticks(2, pilot)
            app.query_one("#database", Panel).focus()
            await pilot.press("enter")
            assert isinstance(app.screen, SessionsScreen)
            footer = screen_text(app).splitlines()[-1]
            assert "Cancel" not in footer and "Terminate" not in footer
            await pilot.press("x", "K")
            await pilot.pause()
            assert isinstance(app.screen, SessionsScreen)
            assert sum("read-only" in m for m in notifications(app)) == 2
    finally:
        h.close()


# --- regressions from a review: input from outside never breaks the screen -------------------


async def test_brackets_typed_into_the_filter_are_text(harness: Harness) -> None:
    app = harness.app
    async with app.run_test(size=(100, 30)) as pilot:
        await harness.ticks(2, pilot)
        await pilot.press("slash", "left_square_bracket", "slash", "right_square_bracket")
        await pilot.pause()
        assert app.is_running
        assert "[/]" in screen_text(app)


async def test_markup_in_a_page_or_an_error_is_shown_not_parsed() -> None:
    def page(n: int) -> bytes:
        route = 'route="/api/[$error]x[/]"'
        return (f'http_request_duration_seconds_bucket{{{route},le="+Inf"}} {n}\n'
                f"http_request_duration_seconds_count{{{route}}} {n}\n").encode()

    with LoopbackServer({"/metrics": Answer(body=page(0)),
                         "/api/health": Answer(body=b"{}")}) as s:
        target = config.resolve(config.Config(targets={"x": config.TargetConfig(
            base_url=s.url)}))
        clock = ManualClock()
        app = live_app(target, collecting=False, clock=clock)
        session = app.session
        assert isinstance(session, LiveSession)
        async with app.run_test(size=(120, 40)) as pilot:
            for n in (0, 50, 100):
                s.routes["/metrics"] = Answer(body=page(n))
                clock.advance(5.0)
                await session.tick()
            await pilot.pause()
            assert "/api/[$error]x[/]" in screen_text(app)
            s.routes["/metrics"] = Answer(body=b"http_requests_total [/]\n")
            await session.tick()
            await pilot.pause()
            assert session.internal_errors == []
            assert "unparsable page" in screen_text(app)


def test_a_theme_file_with_a_bad_variable_is_skipped_with_a_reason(tmp_path: Any) -> None:
    from sbtop.console.themes import load_themes

    (tmp_path / "x.toml").write_text('primary = "#112233"\n[variables]\nborder = "notacolour"\n')
    (tmp_path / "y.toml").write_text('primary = "#112233"\ndark = "no"\n')
    themes, problems = load_themes([tmp_path])
    assert themes == {}
    assert any("variables.border: not a colour" in p for p in problems)
    assert any("dark: expected true or false" in p for p in problems)


async def test_routes_are_marked_stale_and_panels_recover_while_paused(harness: Harness) -> None:
    app = harness.app
    async with app.run_test(size=(120, 40)) as pilot:
        await harness.ticks(2, pilot)
        await pilot.press("space")
        harness.clock.advance(stale_after(harness.session.refresh_s) + 0.1)
        harness.session.check_freshness()
        await pilot.pause()
        routes = app.query_one("#routes", Panel)
        assert routes.has_class("-stale")
        await harness.ticks(1, pilot)  # fresh data again, still paused
        assert not routes.has_class("-stale")
        assert not app.query_one("#latency", Panel).has_class("-stale")


async def test_a_faster_refresh_takes_effect_at_once() -> None:
    routes = {"/metrics": Answer(body=b"x 1\n"), "/api/health": Answer(body=b"{}")}
    with LoopbackServer(routes) as s:
        target = config.resolve(config.Config(targets={"x": config.TargetConfig(
            base_url=s.url)}))
        app = live_app(target, refresh_s=30.0)
        session = app.session
        assert isinstance(session, LiveSession)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.5)
            first = session.ticks
            await pilot.press("plus", "plus", "plus", "plus", "plus")
            assert session.refresh_s == 0.5
            # Two more ticks well before the old 30 s refresh would allow one: waited for,
            # not counted after a fixed pause a busy machine may overrun.
            await until(lambda: session.ticks >= first + 2, pilot, within_s=10)


@pytest.mark.parametrize("size", [(40, 12), (60, 20)])
async def test_small_terminals_keep_the_level_in_the_header(harness: Harness,
                                                             size: tuple[int, int]) -> None:
    app = harness.app
    harness.backend.set(error_rate=0.10)
    async with app.run_test(size=size) as pilot:
        await harness.ticks(3, pilot)
        first_line = screen_text(app).splitlines()[0]
        assert "CRIT" in first_line


async def test_main_screen_keys_do_nothing_under_a_chart(harness: Harness) -> None:
    app = harness.app
    async with app.run_test(size=(120, 40)) as pilot:
        await harness.ticks(2, pilot)
        await pilot.press("enter")
        assert isinstance(app.screen, ChartScreen)
        await pilot.press("space", "s")
        assert not app.paused
        assert "slowest" in str(app.query_one(RoutesPanel).border_title)


async def test_several_instances_are_listed_worst_first_and_one_stopped_shows_down() -> None:
    others = [SimulatedBackend(port=0, background=False, seed=s).start() for s in (2, 3)]
    h = Harness(production=False)
    fleet = [h.backend, *others]
    urls = [f"{b.url}/metrics" for b in fleet]
    w = h.session.wiring
    h.session.wiring = dataclasses.replace(w, collector=dataclasses.replace(
        w.collector, metrics_url=None, instances=config.instance_names(urls)))
    h.session.source = Collector(h.session.wiring.collector, h.clock, health_every_s=0)
    for b, ms in zip(fleet, (40, 900, 60), strict=True):
        b.set(rps=100, fixed_latency_ms=ms, error_rate=0.0)

    async def ticks(n: int, pilot: Any) -> None:
        for _ in range(n):
            for b in fleet:
                if b is not others[1]:
                    b.advance(1.0)
            h.clock.advance(1.0)
            await h.session.tick()
        await pilot.pause()

    try:
        async with h.app.run_test(size=(120, 40)) as pilot:
            await ticks(3, pilot)
            text = screen_text(h.app)
            assert "instances 3/3" in text and "Instances" in text
            slow = f"127.0.0.1:{others[0].port}"
            rows = [r for r in text.splitlines() if "127.0.0.1:" in r and " up " in r]
            assert slow in rows[0].split(" up ")[0] and "WARN" in rows[0]  # worst first
            others[1].stop()
            await ticks(1, pilot)
            text = screen_text(h.app)
            assert "instances 2/3 up" in text
            assert f"127.0.0.1:{others[1].port}" in text and "DOWN" in text
            assert "1 of 3 instances not answering" in text
    finally:
        h.close()
        for b in others:
            b.stop()


async def test_v_runs_the_checklist_and_v_runs_it_again_and_r_does_not(
        harness: Harness) -> None:
    from sbtop.checklist import STUDYBUDDY
    from sbtop.console.screens.verify import VerifyScreen
    from sbtop.demo.app_api import DEMO_EMAIL, DEMO_PASSWORD, DEMO_SESSION

    app = harness.app
    checklist = config.resolve(
        msgspec.structs.replace(config.parse({"verify": STUDYBUDDY}), targets={
            "demo": config.TargetConfig(base_url=harness.backend.url)}),
        probe_env={"STUDYBUDDY_VERIFY_EMAIL": DEMO_EMAIL,
                   "STUDYBUDDY_VERIFY_PASSWORD": DEMO_PASSWORD,
                   "STUDYBUDDY_SESSION_COOKIE": DEMO_SESSION}).verify
    harness.session.wiring = dataclasses.replace(harness.session.wiring, verify=checklist)
    async with app.run_test(size=(120, 40)) as pilot:
        await harness.ticks(12, pilot)
        await pilot.press("v")
        assert isinstance(app.screen, VerifyScreen)
        await app.screen.workers.wait_for_complete()
        await pilot.pause()
        text = screen_text(app)
        assert "11 passed, 0 failed" in text and "PASS  login" in text
        harness.backend.app.failing.add("/api/leaderboard")
        await pilot.press("r")  # restart, on the main screen only: nothing here
        await pilot.pause()
        assert isinstance(app.screen, VerifyScreen) and not app.screen.running
        assert "FAIL  leaderboard" not in screen_text(app)
        await pilot.press("v")
        await app.screen.workers.wait_for_complete()
        await pilot.pause()
        text = screen_text(app)
        assert "FAIL  leaderboard" in text and "expected 200, got 500" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, VerifyScreen)
