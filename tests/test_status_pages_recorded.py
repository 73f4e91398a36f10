"""Providers' status pages after the fact and as events: what each poll changed ("Render went
degraded", pure), the pages in recordings (written by the session beside the ticks, read
back, checked), shown by `sbtop replay` as they were then, listed by `sbtop timeline`; old
recordings without them still read."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from sbtop import config
from sbtop.clock import ManualClock
from sbtop.console.replay import ReplayApp
from sbtop.console.them import them_markup
from sbtop.engine.page_changes import PageChange, PageWatch
from sbtop.engine.status_pages import PageReading, PageState, PageStatus
from sbtop.recording import status_pages as page_lines
from sbtop.recording.meta import header
from sbtop.recording.reader import Recording
from sbtop.recording.timeline import markdown, page_rows
from sbtop.recording.writer import Recorder
from sbtop.session.live import LiveSession
from sbtop.session.replay import ReplaySession
from sbtop.session.snapshot import Cause, Snapshot
from tests.console_harness import screen_text
from tests.recordings import write_recording
from tests.servers import Answer, LoopbackServer
from tests.test_status_pages import body, incident, summary_doc
from tests.waiting import app_until

PATH = "/render/api/v2/summary.json"
# Outside text with Markdown, a table's bar and a terminal escape in it: made safe once.
TITLE = "Deploys *failing* | see [x](http://evil)\x1b[31m"


def _page(state: PageState | None, wall: float = 100.0, *, incident_title: str | None = None,
          error: str | None = None) -> PageStatus:
    p = PageStatus("Render", "u", stale_after_s=250.0)
    if state is not None:
        p = p.answered(PageReading(state, "x", incident=incident_title), wall)
    if error is not None:
        p = p.failed(error, wall)
    return p


# --- what a poll changed (pure) -------------------------------------------------------------

def test_a_page_going_degraded_is_one_change_with_its_title_and_what_it_was() -> None:
    watch = PageWatch()
    assert watch.update([_page(None)], 0.0) == ()  # not polled yet: nothing to compare
    assert watch.update([_page(PageState.OPERATIONAL, 10.0)], 10.0) == ()  # the start
    assert watch.update([_page(PageState.OPERATIONAL, 20.0)], 20.0) == ()  # no change
    (c,) = watch.update([_page(PageState.DEGRADED, 30.0, incident_title="API slow")], 30.0)
    assert c == PageChange("Render", 30.0, PageState.OPERATIONAL, PageState.DEGRADED,
                           "API slow")
    assert c.trouble and c.text == "Render degraded — API slow (was operational)"
    (c,) = watch.update([_page(PageState.DEGRADED, 40.0, incident_title="DB slow")], 40.0)
    assert c.text == "Render still degraded — new incident: DB slow"
    (c,) = watch.update([_page(PageState.OPERATIONAL, 50.0)], 50.0)
    assert not c.trouble and c.recovered
    assert c.text == "Render operational again (was degraded)"


def test_a_failed_poll_is_a_change_once_not_once_per_reason() -> None:
    watch = PageWatch()
    watch.update([_page(PageState.OPERATIONAL, 10.0)], 10.0)
    (c,) = watch.update([_page(PageState.OPERATIONAL, 10.0, error="HTTP 500")], 20.0)
    assert c.after is PageState.UNKNOWN and c.text == "Render unknown: HTTP 500 (was operational)"
    assert not c.trouble and not c.recovered
    assert watch.update([_page(PageState.OPERATIONAL, 10.0, error="timeout")], 30.0) == ()


def test_trouble_at_the_first_answer_is_news_and_all_well_is_not() -> None:
    (c,) = PageWatch().update([_page(PageState.OUTAGE, 10.0, incident_title="Down")], 10.0)
    assert c.before is None and c.text == "Render outage — Down"
    assert PageWatch().update([_page(None, error="cannot connect")], 10.0) == ()


# --- recordings -----------------------------------------------------------------------------

def _record(path: Path, s: LoopbackServer) -> None:
    """A session recording 24 ticks 5 s apart while Render's page is polled before ticks
    0, 2, 4 and 6 (5, 15 and 25 s after the first): operational, degraded (an incident),
    failing, operational; then never again (its poller stopped): the last answer ages."""
    wiring = config.resolve(config.parse({
        "targets": {"x": {"base_url": s.url}},
        "status_pages": [{"name": "Render", "url": s.url + "/render", "interval_s": 30}]}))
    clock = ManualClock()
    recorder = Recorder(path, header(wiring.recording, 5.0, clock.wall))
    session = LiveSession(wiring, clock=clock, refresh_s=5.0, recorder=recorder,
                          health_every_s=0)
    answers = {0: Answer(body=body(summary_doc())),
               2: Answer(body=body(summary_doc("minor", incidents=[
                   incident(TITLE, "2026-12-07T00:00:00Z")]))),
               4: Answer(status=500),
               6: Answer(body=body(summary_doc()))}

    async def go() -> None:
        async with session:
            for i in range(24):
                if i in answers:
                    s.routes[PATH] = answers[i]
                    await session.status_pages.poll_all()
                clock.advance(5.0)
                await session.tick()

    asyncio.run(go())
    recorder.close()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pages") / "deploy.sbrec"
    routes = {"/metrics": Answer(body=b"x 1\n"), "/api/health": Answer(body=b"{}")}
    with LoopbackServer(routes) as s:
        _record(path, s)
    return path


@pytest.mark.slow
def test_the_pages_polled_beside_the_ticks_are_recorded_and_read_back(recorded: Path) -> None:
    with Recording(recorded) as rec:
        assert len(rec) == 24 and rec.problem is None
        states = [rec.status_pages(i)[0] for i in (1, 3, 5, 7)]
        assert [p.reading.state if p.reading else None for p in states] == [
            PageState.OPERATIONAL, PageState.DEGRADED, PageState.DEGRADED,
            PageState.OPERATIONAL]
        degraded = states[1]
        assert degraded.reading is not None
        # Read as written: the title made safe once, when the page was read.
        assert degraded.reading.incident == "Deploys *failing* | see [x](http://evil)\\x1b[31m"
        assert states[2].error == "HTTP 500" and states[2].reading == degraded.reading
        # No URL in a recording, and a line only when a poll changed something (4 polls).
        assert degraded.url == "" and len(rec.status_page_changes()) == 4


@pytest.mark.slow
def test_the_timeline_lists_each_change_of_a_page_with_its_title(recorded: Path) -> None:
    with Recording(recorded) as rec:
        rows = page_rows(rec)
        start = rec.walls[0]
        assert [(r.wall - start, r.what) for r in rows] == [
            (5.0, "status page Render degraded — Deploys *failing* | see "
                   "[x](http://evil)\\x1b[31m (was operational)"),
            (15.0, "status page Render unknown: HTTP 500 (was degraded)"),
            (25.0, "status page Render operational again (was unknown)"),
        ]
        text = markdown(rec)
    line = next(x for x in text.splitlines() if "degraded" in x)
    # Nothing in the title is read as Markdown or as a table's column.
    assert ("| 5s | status page Render degraded — Deploys \\*failing\\* \\| "
            "see \\[x\\](http://evil)\\\\x1b\\[31m (was operational) |  |") in line
    assert "\x1b" not in text


@pytest.mark.slow
async def test_replay_shows_the_pages_as_they_were_at_the_tick_shown(recorded: Path) -> None:
    rec = Recording(recorded)
    session = ReplaySession(rec)
    shown: list[Snapshot] = []
    session.subscribe(lambda u: shown.append(u) if isinstance(u, Snapshot) else None)

    def header_at(i: int) -> str:
        session.go_to(i, rebuild=True)
        s = shown[-1]
        return them_markup(s.status_pages, s.wall)

    assert header_at(1) == "[$text-muted]them: ok[/]"
    # The title as text, never as markup: its brackets escaped.
    assert header_at(3) == ("[b $text-warning]them: Render degraded — Deploys *failing* | see "
                            "\\[x](http://evil)\\x1b\\[31m[/]")
    assert header_at(5) == "[$text-muted]them: unknown[/]"  # the poll failed then
    assert header_at(7) == "[$text-muted]them: ok[/]"  # answered 10 s before: current then
    # 90 s after the last answer (two polls missed): old then, so unknown, never "ok".
    assert header_at(23) == "[$text-muted]them: unknown[/]"
    app = ReplayApp(ReplaySession(rec))
    async with app.run_test(size=(120, 40)) as pilot:
        app.player.playing = False
        app.player.go_to(3, rebuild=True)
        await app_until(lambda: "them: Render degraded — Deploys *failing*"
                        in screen_text(app).splitlines()[0], pilot)
        app.player.go_to(7, rebuild=True)
        await app_until(lambda: "them: ok" in screen_text(app).splitlines()[0], pilot)
    rec.close()


@pytest.mark.slow
def test_a_recording_from_before_status_pages_reads_and_shows_none(tmp_path: Path) -> None:
    path = tmp_path / "old.sbrec"
    write_recording(path, ticks=5, step=1.0)  # ticks as sbtop wrote them before: no "p"
    with Recording(path) as rec:
        assert len(rec) == 5 and rec.problem is None
        assert rec.status_pages(4) == () and rec.status_page_changes() == []
        assert page_rows(rec) == [] and "status page" not in markdown(rec)
        session = ReplaySession(rec)
        shown: list[Snapshot] = []
        session.subscribe(lambda u: shown.append(u) if isinstance(u, Snapshot) else None)
        session.go_to(4, rebuild=True)
        assert shown[-1].status_pages == ()
        assert them_markup(shown[-1].status_pages, shown[-1].wall) == ""


@pytest.mark.parametrize(("pages", "said"), [
    ("Render", "p is 'Render', not a list"),
    ([{"name": 3}], "p[0].name is 3, not text"),
    ([{"name": "R", "reading": {"state": "purple"}, "answered": 1.0}],
     "p[0].reading.state is 'purple', not a page's state"),
    ([{"name": "R", "checked": -5}], "p[0].checked is -5, not a time a clock could show"),
    ([{"name": "R", "reading": {"state": "outage"}}],
     "p[0] has a reading but no time it was answered"),
])
@pytest.mark.slow
def test_pages_not_as_sbtop_writes_them_skip_the_tick_saying_why(
        recorded: Path, tmp_path: Path, pages: Any, said: str) -> None:
    with Recording(recorded) as good:
        a = good.assessment(0)
    path = tmp_path / "bad.sbrec"
    r = Recorder(path, header(config.resolve(config.Config(), url="http://x").recording,
                              1.0, a.wall))
    r.tick(a, None, page_lines.encode((_page(PageState.OPERATIONAL),)))
    r.tick(a, None, pages)
    r.close()
    with Recording(path) as rec:
        assert len(rec) == 1 and rec.problem is not None and said in rec.problem, rec.problem
        assert rec.status_pages(0)[0].reading is not None


def test_a_page_round_trips_through_a_line_exactly() -> None:
    p = _page(PageState.DEGRADED, 123.5, incident_title="t")
    p = p.failed("timeout", 150.0)
    (back,) = page_lines.decode(json.loads(json.dumps(page_lines.encode((p,)))))
    assert back == PageStatus("Render", "", p.reading, 123.5, 150.0, "timeout", 250.0)


# --- the event a notifier acts on -------------------------------------------------------------

@pytest.mark.slow
async def test_the_poll_that_changes_a_page_publishes_the_change() -> None:
    routes = {"/metrics": Answer(body=b"x 1\n"), "/api/health": Answer(body=b"{}"),
              PATH: Answer(body=body(summary_doc()))}
    with LoopbackServer(routes) as s:
        wiring = config.resolve(config.parse({
            "targets": {"x": {"base_url": s.url}},
            "status_pages": [{"name": "Render", "url": s.url + "/render"}]}))
        session = LiveSession(wiring)
        polled: list[Snapshot] = []
        session.subscribe(lambda u: polled.append(u) if isinstance(u, Snapshot)
                          and u.cause is Cause.STATUS_PAGES else None)
        async with session:
            outage = summary_doc("major", incidents=[
                incident("API outage", "2026-12-07T00:00:00Z")])
            for doc in (summary_doc(), outage, outage):
                s.routes[PATH] = Answer(body=body(doc))
                await session.status_pages.poll_all()
                session.pages_polled()
    assert [tuple(c.text for c in u.page_changes) for u in polled] == [
        (), ("Render outage — API outage (was operational)",), ()]


@pytest.mark.slow
async def test_sbtop_record_polls_the_pages_with_nobody_looking(tmp_path: Path) -> None:
    """`sbtop record` has no face subscribed: the pages are polled all the same, beside the
    ticks, and the ticks after the answer carry it."""
    routes = {"/metrics": Answer(body=b"x 1\n"), "/api/health": Answer(body=b"{}"),
              PATH: Answer(body=body(summary_doc("minor", incidents=[
                  incident("API slow", "2026-12-07T00:00:00Z")])))}
    path = tmp_path / "r.sbrec"
    with LoopbackServer(routes) as s:
        wiring = config.resolve(config.parse({
            "targets": {"x": {"base_url": s.url}},
            "status_pages": [{"name": "Render", "url": s.url + "/render"}]}))
        recorder = Recorder(path, header(wiring.recording, 0.05, 0.0))
        session = LiveSession(wiring, refresh_s=0.05, recorder=recorder,
                              stop_with_recorder=True)
        async with session:
            run = asyncio.create_task(session.run())
            await asyncio.wait_for(_until(lambda: session.status_pages.statuses()[0].reading
                                          is not None), timeout=20)
            ticks = recorder.ticks
            await asyncio.wait_for(_until(lambda: recorder.ticks > ticks), timeout=20)
            session.stop()
            await run
    with Recording(path) as rec:
        (page,) = rec.status_pages(len(rec) - 1)
        assert page.reading is not None and page.reading.incident == "API slow"


async def _until(done: Any) -> None:
    while not done():
        await asyncio.sleep(0.01)


def test_a_provider_going_into_trouble_and_out_of_it_is_news_its_first_answer_is_not() -> None:
    from sbtop.engine.transitions import EventKind, page_events

    def change(before: PageState | None, after: PageState) -> PageChange:
        return PageChange("Render", 0.0, before, after, incident="Deploys delayed")

    first = change(None, PageState.DEGRADED)  # on the screen already: a baseline
    lost = change(PageState.OPERATIONAL, PageState.UNKNOWN)  # our network's news
    (down,) = page_events([first, lost, change(PageState.OPERATIONAL, PageState.DEGRADED)],
                          "production")
    assert down.kind is EventKind.STATUS_PAGE and down.level.value == "warning"
    assert down.title == "status page: Render degraded (watching production)"
    assert down.body == "Render degraded — Deploys delayed (was operational)"
    (up,) = page_events([change(PageState.DEGRADED, PageState.OPERATIONAL)])
    assert up.level.value == "ok" and up.body == "Render operational again (was degraded)"


def test_a_failed_poll_between_two_answers_neither_repeats_trouble_nor_hides_recovery(
        ) -> None:
    # Our network drops a poll: Render degraded, unknown, degraded again rang (and posted)
    # twice; degraded, unknown, operational never told the recovery.
    from sbtop.engine.page_changes import PageWatch
    from sbtop.engine.status_pages import PageReading, PageStatus
    from sbtop.engine.transitions import Event
    from sbtop.notify.notifier import Notifier
    from sbtop.notify.settings import NotifySettings

    told: list[Event] = []
    n = Notifier(NotifySettings(bell=False, desktop=()), write=None, say=lambda _t: None,
                 now=lambda: 0.0)
    n.event = told.append  # type: ignore[method-assign]
    watch, page = PageWatch(), PageStatus("Render", "u", stale_after_s=1e9)
    ok = PageReading(PageState.OPERATIONAL, "none")
    bad = PageReading(PageState.DEGRADED, "minor", incident="Deploys delayed")
    steps = [page.answered(ok, 1.0)]
    steps.append(steps[-1].answered(bad, 2.0))
    steps.append(steps[-1].failed("timeout", 3.0))
    steps.append(steps[-1].answered(bad, 4.0))
    steps.append(steps[-1].failed("connection refused", 5.0))
    steps.append(steps[-1].answered(ok, 6.0))
    for i, p in enumerate(steps, 1):
        n.pages_changed(watch.update([p], float(i)), "production")
    assert [(e.title, e.level.value) for e in told] == [
        ("status page: Render degraded (watching production)", "warning"),
        ("status page: Render operational (watching production)", "ok")]


@pytest.mark.slow
async def test_the_webhook_hears_a_provider_go_down_from_a_headless_session() -> None:
    """`sbtop record` on the jump box: "Render went down" reaches #studybuddy-alerts."""
    import dataclasses

    from sbtop.notify import headless
    from sbtop.notify.settings import NotifySettings

    hook = "/hooks/T000/B000/secret"
    routes = {"/metrics": Answer(body=b"x 1\n"), "/api/health": Answer(body=b"{}"),
              PATH: Answer(body=body(summary_doc())), hook: Answer(200, b"ok")}
    with LoopbackServer(routes) as s:
        wiring = config.resolve(config.parse({
            "targets": {"x": {"base_url": s.url}},
            "status_pages": [{"name": "Render", "url": s.url + "/render"}]}))
        wiring = dataclasses.replace(wiring, notify=NotifySettings(webhook_url=s.url + hook))
        session = LiveSession(wiring)
        said: list[str] = []
        notifier = headless.attach(session, said.append)
        assert notifier is not None
        async with session:
            outage = summary_doc("major", incidents=[
                incident("API outage", "2026-12-07T00:00:00Z")])
            for doc in (summary_doc(), outage):
                s.routes[PATH] = Answer(body=body(doc))
                await session.status_pages.poll_all()
                session.pages_polled()
            await notifier.close()
        texts = [json.loads(r["body"])["text"] for r in s.settled() if r["path"] == hook]
    assert texts == ["[WARN] status page: Render outage (watching x)\n"
                     "Render outage — API outage (was operational)"], said
