"""Providers' status pages ("is it us or them"): the Statuspage summary judged (pure), then
polled from a loopback server shaped like the API, with its failures, in `sbtop check` and in
the console's header."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from sbtop import check, config
from sbtop.config.errors import ConfigError
from sbtop.console.them import them_markup
from sbtop.engine.status_pages import (
    Malformed,
    PageReading,
    PageState,
    PageStatus,
    read_statuspage,
    summary,
    view,
    view_dict,
    view_line,
)
from sbtop.session.live import LiveSession
from sbtop.session.snapshot import Cause, Snapshot
from sbtop.sources.status_pages import StatusPoller
from sbtop.sources.status_settings import StatusPage, StatusPagesSettings
from tests.servers import Answer, LoopbackServer
from tests.waiting import app_until

SUMMARY = "/api/v2/summary.json"


def summary_doc(indicator: str = "none", *, incidents: list[dict[str, Any]] | None = None,
                maintenances: list[dict[str, Any]] | None = None,
                components: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A summary.json as Atlassian Statuspage serves it (trimmed to the keys sbtop reads and
    a few it does not)."""
    words = {"none": "All Systems Operational", "minor": "Minor Service Outage",
             "major": "Partial System Outage", "critical": "Major System Outage",
             "maintenance": "Service Under Maintenance"}
    return {
        "page": {"id": "abc", "name": "Render", "url": "https://status.render.com",
                 "time_zone": "Etc/UTC", "updated_at": "2026-12-07T01:00:00.000Z"},
        "status": {"indicator": indicator, "description": words.get(indicator, "?")},
        "components": components if components is not None else [
            {"id": "c1", "name": "Web Services", "status": "operational", "group": False}],
        "incidents": incidents or [],
        "scheduled_maintenances": maintenances or [],
    }


def incident(name: str, created: str, status: str = "investigating",
             impact: str = "minor") -> dict[str, Any]:
    return {"id": name[:8], "name": name, "status": status, "impact": impact,
            "created_at": created, "shortlink": "https://stspg.io/x1"}


def body(doc: Any) -> bytes:
    return json.dumps(doc).encode()


# --- the judgement (pure) -----------------------------------------------------------------

def test_an_operational_page_reads_operational_with_no_incident() -> None:
    r = read_statuspage(summary_doc())
    assert (r.state, r.indicator, r.incident) == (PageState.OPERATIONAL, "none", None)
    assert r.description == "All Systems Operational"


def test_a_degraded_page_names_its_newest_unresolved_incident() -> None:
    doc = summary_doc("minor", incidents=[
        incident("Older: slow builds", "2026-12-07T00:10:00Z"),
        incident("Newest: elevated 5xx in Oregon", "2026-12-07T00:50:00.000-00:00"),
        incident("Resolved already", "2026-12-07T00:55:00Z", status="resolved"),
    ], components=[{"name": "Web Services", "status": "partial_outage"},
                   {"name": "Builds", "status": "degraded_performance"},
                   {"name": "Dashboard", "status": "operational"}])
    r = read_statuspage(doc)
    assert r.state is PageState.DEGRADED
    assert r.incident == "Newest: elevated 5xx in Oregon"
    assert r.incident_url == "https://stspg.io/x1"
    assert set(r.affected) == {"Web Services", "Builds"}


@pytest.mark.parametrize("indicator", ["major", "critical"])
def test_a_major_or_critical_indicator_is_an_outage(indicator: str) -> None:
    doc = summary_doc(indicator, incidents=[incident("Database unreachable",
                                                     "2026-12-07T00:00:00Z", impact=indicator)])
    assert read_statuspage(doc).state is PageState.OUTAGE


def test_maintenance_under_way_is_maintenance_even_before_the_indicator_says_so() -> None:
    work = {"name": "Network upgrade in Frankfurt", "status": "in_progress",
            "scheduled_for": "2026-12-07T00:00:00Z", "shortlink": "https://stspg.io/m"}
    planned = dict(work, name="Later work", status="scheduled")
    assert read_statuspage(summary_doc("maintenance")).state is PageState.MAINTENANCE
    r = read_statuspage(summary_doc("none", maintenances=[work, planned]))
    assert (r.state, r.incident) == (PageState.MAINTENANCE, "Network upgrade in Frankfurt")
    assert read_statuspage(summary_doc("none", maintenances=[planned])).state \
        is PageState.OPERATIONAL


@pytest.mark.parametrize(("doc", "said"), [
    ([1, 2, 3], "not a JSON object"),
    ({"page": {}}, "no status.indicator"),
    ({"status": {"indicator": 3}}, "no status.indicator"),
    ({"status": {"indicator": "purple"}}, "unknown status.indicator 'purple'"),
    ({"status": {"indicator": "none"}, "incidents": "lots"}, "incidents is not a list"),
])
def test_an_answer_of_the_wrong_shape_is_malformed_and_says_why(doc: Any, said: str) -> None:
    with pytest.raises(Malformed, match=said):
        read_statuspage(doc)


def test_hostile_text_on_a_page_is_shown_escaped_and_cut() -> None:
    title = "\x1b]52;c;cm0gLXJmIH4=\x07Outage \u202egnp.exe\n" + "A" * 50_000
    doc = summary_doc("major", incidents=[incident(title, "2026-12-07T00:00:00Z")],
                      components=[{"name": "\x1b[2JWeb", "status": "major_outage"}])
    doc["status"]["description"] = "\x9b31mred"
    r = read_statuspage(doc)
    assert r.incident is not None
    assert "\x1b" not in r.incident and "\u202e" not in r.incident and "\n" not in r.incident
    assert r.incident.startswith("\\x1b]52;c;") and "\\u202e" in r.incident
    assert len(r.incident) < 300 and "more characters" in r.incident
    assert r.affected == ("\\x1b[2JWeb",) and r.description == "\\x9b31mred"
    # The header escapes markup too: a title is never a tag.
    page = PageStatus("Evil [b]page[/b]", "u").answered(
        PageReading(PageState.OUTAGE, "major", incident="[$error]x[/] \\[y]"), 100.0)
    markup = them_markup((page,), 100.0)
    assert "\\[b]" in markup and "\\[$error]" in markup


def test_a_failed_poll_is_unknown_with_its_reason_and_the_last_answers_age() -> None:
    good = PageReading(PageState.DEGRADED, "minor", incident="Slow deploys")
    page = PageStatus("Render", "u", stale_after_s=300).answered(good, 1000.0)
    assert view(page, 1010.0).state is PageState.DEGRADED
    failed = page.failed("timeout: no complete answer within 5 s", 1120.0)
    v = view(failed, 1180.0)
    # Never the old answer passed off as current: unknown, and the old answer said as old.
    assert (v.state, v.incident, v.last_state) == (PageState.UNKNOWN, None, PageState.DEGRADED)
    assert v.error == "timeout: no complete answer within 5 s" and v.answered_age_s == 180.0
    assert view_line(v) == ("Render: unknown: timeout: no complete answer within 5 s "
                            "(last answer 3 min ago: degraded)")
    d = view_dict(v)
    assert {k: d[k] for k in ("name", "state", "indicator", "incident", "error")} == {
        "name": "Render", "state": "unknown", "indicator": None, "incident": None,
        "error": "timeout: no complete answer within 5 s"}
    assert d["checked"] == "1970-01-01T00:18:40Z" and d["last_state"] == "degraded"


def test_an_answer_older_than_two_missed_polls_is_not_current() -> None:
    page = PageStatus("Vercel", "u", stale_after_s=300).answered(
        PageReading(PageState.OPERATIONAL, "none"), 1000.0)
    assert view(page, 1299.0).state is PageState.OPERATIONAL
    v = view(page, 1400.0)
    assert (v.state, v.error) == (PageState.UNKNOWN, "no answer for 7 min")
    never = view(PageStatus("Vercel", "u"), 5.0)
    assert (never.state, never.error) == (PageState.UNKNOWN, "not checked yet")


def test_the_header_summary_names_the_provider_that_matters_most() -> None:
    def v(name: str, state: PageState, title: str | None = None) -> Any:
        return view(PageStatus(name, "u").answered(
            PageReading(state, "x", incident=title), 0.0), 0.0)

    ok = v("Render", PageState.OPERATIONAL)
    assert summary([]) == "" and summary([ok, ok]) == "ok"
    assert summary([ok, v("Vercel", PageState.DEGRADED, "Slow builds"),
                    v("CockroachDB Cloud", PageState.OUTAGE, "Region down")]) == \
        "CockroachDB Cloud outage — Region down (+1)"
    unknown = view(PageStatus("Vercel", "u"), 0.0)
    assert summary([ok, unknown]) == "ok, 1 unknown" and summary([unknown]) == "unknown"
    # Unreachable is quiet: muted, not an alarm colour.
    assert them_markup((PageStatus("Vercel", "u"),), 0.0).startswith("[$text-muted]")


# --- the config ---------------------------------------------------------------------------

def test_status_pages_come_from_the_config_and_none_are_polled_without_it() -> None:
    cfg = config.parse({"targets": {"p": {"base_url": "http://127.0.0.1:9"}}})
    assert config.resolve(cfg).status_pages.pages == ()
    cfg = config.parse({"targets": {"p": {"base_url": "http://127.0.0.1:9"}},
                        "status_pages": [{"name": "Render", "url": "https://status.render.com",
                                          "interval_s": 60}]})
    (page,) = config.resolve(cfg).status_pages.pages
    assert page.json_url == "https://status.render.com/api/v2/summary.json"
    assert (page.interval_s, page.timeout_s, page.max_bytes) == (60, 5.0, 512 * 1024)


def test_init_and_the_example_name_the_runbooks_three_pages() -> None:
    import tomllib
    from pathlib import Path

    from sbtop import starter

    for text in (starter.starter_text(), (Path(__file__).parent.parent /
                                          "config.example.toml").read_text()):
        pages = config.parse(tomllib.loads(text)).status_pages
        assert [(p.name, p.url) for p in pages] == [
            ("Render", "https://status.render.com"),
            ("CockroachDB Cloud", "https://status.cockroachlabs.cloud"),
            ("Vercel", "https://www.vercel-status.com")]


@pytest.mark.parametrize(("pages", "said"), [
    ([{"url": "https://status.render.com"}], r"status_pages\[0\]\.name: every status page"),
    ([{"name": "R", "url": "status.render.com"}], r"status_pages\[0\]\.url: expected an http"),
    ([{"name": "R", "url": "https://x", "kind": "statuspag"}], "did you mean 'statuspage'"),
    ([{"name": "R", "url": "https://x", "interval_s": 1}], "between 30 and 3600"),
    ([{"name": "R", "url": "https://x"}, {"name": "R", "url": "https://y"}], "used twice"),
])
def test_a_bad_status_page_entry_is_one_clear_line(pages: list[dict[str, Any]],
                                                     said: str) -> None:
    with pytest.raises(ConfigError, match=said):
        config.parse({"status_pages": pages})


# --- polled from a loopback server ----------------------------------------------------------

def settings_for(url: str, **page: Any) -> StatusPagesSettings:
    return StatusPagesSettings((StatusPage("Render", url, **page),))


async def poll_once(url: str, **page: Any) -> PageStatus:
    async with StatusPoller(settings_for(url, **page)) as poller:
        return await poller.poll(poller.settings.pages[0])


@pytest.mark.slow
async def test_each_state_is_read_from_a_page_shaped_like_statuspage() -> None:
    docs = {"ok": summary_doc(), "minor": summary_doc("minor", incidents=[
        incident("Elevated latency", "2026-12-07T00:00:00Z")]),
        "major": summary_doc("major"), "maint": summary_doc("maintenance")}
    routes = {f"/{k}{SUMMARY}": Answer(body=body(d), content_type="application/json")
              for k, d in docs.items()}
    with LoopbackServer(routes) as s:
        got = {k: await poll_once(f"{s.url}/{k}") for k in docs}
    assert {k: p.reading.state for k, p in got.items() if p.reading} == {
        "ok": PageState.OPERATIONAL, "minor": PageState.DEGRADED, "major": PageState.OUTAGE,
        "maint": PageState.MAINTENANCE}
    assert got["minor"].reading is not None
    assert got["minor"].reading.incident == "Elevated latency"
    assert all(p.error is None for p in got.values())


@pytest.mark.slow
async def test_bad_answers_are_unknown_with_a_reason_and_keep_the_last_good_one() -> None:
    with LoopbackServer({SUMMARY: Answer(body=body(summary_doc("minor")))}) as s:
        async with StatusPoller(settings_for(s.url)) as poller:
            page = poller.settings.pages[0]
            assert (await poller.poll(page)).error is None
            reasons = {}
            for name, answer in {
                "500": Answer(500, b"oops"),
                "not json": Answer(body=b"<html>Status</html>"),
                "wrong shape": Answer(body=b'{"status": "fine"}'),
                "404": Answer(404, b""),
                "too large": Answer(body=b" " * (600 * 1024)),
            }.items():
                s.routes[SUMMARY] = answer
                got = await poller.poll(page)
                reasons[name] = got.error
                # The last good answer stays, as the last good answer (not as the state now).
                assert got.reading is not None and got.reading.state is PageState.DEGRADED
                assert view(got, got.checked_wall or 0).state is PageState.UNKNOWN
    assert reasons == {
        "500": "HTTP 500",
        "not json": "unexpected answer: not JSON",
        "wrong shape": "unexpected answer: not a Statuspage summary: no status.indicator",
        "404": "HTTP 404: no status JSON at this URL (check url and kind)",
        "too large": "answer too large: over 512 kB",
    }


@pytest.mark.slow
async def test_an_endless_body_is_cut_off_at_the_cap_not_read_to_the_end() -> None:
    with LoopbackServer({SUMMARY: Answer(endless=True)}) as s:
        got = await poll_once(s.url, max_bytes=64 * 1024)
        assert got.error == "answer too large: over 64 kB"
        assert s.settled()[0]["hung_up"]


@pytest.mark.slow
async def test_a_slow_page_is_cut_off_at_its_timeout() -> None:
    with LoopbackServer({SUMMARY: Answer(body=body(summary_doc()), trickle_s=0.05)}) as s:
        got = await poll_once(s.url, timeout_s=0.3)
        assert got.error == "timeout: no complete answer within 0.3 s"
        s.assert_cut_off(0.3)


@pytest.mark.slow
async def test_redirects_are_followed_a_few_times_and_loops_are_refused() -> None:
    routes = {SUMMARY: Answer(redirect_to="/moved.json"),
              "/moved.json": Answer(body=body(summary_doc("minor"))),
              "/loop/api/v2/summary.json": Answer(redirect_to="/loop/api/v2/summary.json")}
    with LoopbackServer(routes) as s:
        moved = await poll_once(s.url)
        loop = await poll_once(f"{s.url}/loop")
        down = await poll_once(s.url + "/x.json")  # a full JSON URL is taken as given
    assert moved.reading is not None and moved.reading.state is PageState.DEGRADED
    assert loop.error == "too many redirects (a redirect loop?)"
    assert down.error is not None and down.error.startswith("HTTP 404")


@pytest.mark.slow
async def test_the_timeout_bounds_the_whole_answer_redirects_included() -> None:
    """Three slow redirects, each quicker than the timeout, all together slower: the page is
    cut off at its timeout, as a single slow answer is, not held for a timeout per hop."""
    routes = {SUMMARY: Answer(redirect_to="/a.json", delay_s=0.2),
              "/a.json": Answer(redirect_to="/b.json", delay_s=0.2),
              "/b.json": Answer(redirect_to="/c.json", delay_s=0.2),
              "/c.json": Answer(body=body(summary_doc()), content_type="application/json")}
    with LoopbackServer(routes) as s:
        got = await poll_once(s.url, timeout_s=0.5)
    assert got.error == "timeout: no complete answer within 0.5 s" and got.reading is None


async def test_a_redirect_from_https_to_http_is_not_followed() -> None:
    from sbtop.sources.status_pages import _Failed, _next

    assert _next("https://vercel.com/status", "https://www.vercel-status.com/x") == \
        "https://www.vercel-status.com/x"
    with pytest.raises(_Failed, match="from https to http"):
        _next("https://status.example/api/v2/summary.json", "http://evil.example/")


@pytest.mark.slow
async def test_an_unreachable_page_is_a_quiet_reason_not_an_exception() -> None:
    from tests.servers import closed_port

    got = await poll_once(f"http://127.0.0.1:{closed_port()}")
    assert got.error == "connection refused" and got.reading is None


@pytest.mark.slow
async def test_a_hung_status_page_never_holds_the_tick() -> None:
    """The page never answers (its timeout far away): ticks go on, one after another, and
    the page is shown unknown once its poll gives up."""
    routes = {"/metrics": Answer(body=b"x 1\n"), "/api/health": Answer(body=b"{}"),
              SUMMARY: Answer(hang=True)}
    with LoopbackServer(routes) as s:
        wiring = config.resolve(config.parse({
            "targets": {"x": {"base_url": s.url}},
            "status_pages": [{"name": "Render", "url": s.url, "timeout_s": 60}]}))
        session = LiveSession(wiring, refresh_s=0.1)
        published: list[Snapshot] = []
        session.subscribe(lambda u: published.append(u) if isinstance(u, Snapshot) else None)
        async with session:
            run = asyncio.create_task(session.run(max_ticks=5))
            await asyncio.wait_for(run, timeout=30)
            # Five ticks came while the page's one request was still held.
            assert session.ticks == 5
            assert s.requests and all(r["ended"] is None for r in s.requests
                                      if r["path"] == SUMMARY)
        (page,) = published[-1].status_pages
        assert view(page, 0.0).error == "not checked yet"


@pytest.mark.slow
async def test_the_session_publishes_each_poll_for_the_header() -> None:
    routes = {"/metrics": Answer(body=b"x 1\n"), "/api/health": Answer(body=b"{}"),
              SUMMARY: Answer(body=body(summary_doc("major", incidents=[
                  incident("API outage", "2026-12-07T00:00:00Z")])))}
    with LoopbackServer(routes) as s:
        wiring = config.resolve(config.parse({
            "targets": {"x": {"base_url": s.url}},
            "status_pages": [{"name": "Render", "url": s.url}]}))
        session = LiveSession(wiring, refresh_s=0.2)
        polled: list[Snapshot] = []
        session.subscribe(lambda u: polled.append(u) if isinstance(u, Snapshot)
                          and u.cause is Cause.STATUS_PAGES else None)
        async with session:
            run = asyncio.create_task(session.run())
            await asyncio.wait_for(_until_async(lambda: bool(polled)), timeout=20)
            session.stop()
            await run
    (page,) = polled[0].status_pages
    assert page.reading is not None and page.reading.incident == "API outage"
    assert them_markup(polled[0].status_pages, polled[0].wall) == \
        "[b $text-error]them: Render outage — API outage[/]"


async def _until_async(done: Any) -> None:
    while not done():
        await asyncio.sleep(0.02)


@pytest.mark.slow
async def test_the_console_header_says_whose_page_is_red_within_80_columns() -> None:
    from sbtop.console.app import SbtopApp
    from tests.console_harness import screen_text

    title = "Elevated error rates for web services in Oregon and Frankfurt regions"
    routes = {"/metrics": Answer(body=b"x 1\n"), "/api/health": Answer(body=b"{}"),
              SUMMARY: Answer(body=body(summary_doc("minor", incidents=[
                  incident(title, "2026-12-07T00:00:00Z")])))}
    with LoopbackServer(routes) as s:
        wiring = config.resolve(config.parse({
            "targets": {"production": {"base_url": s.url, "production": True}},
            "status_pages": [{"name": "Render", "url": s.url}]}))
        session = LiveSession(wiring, deploy=True)
        app = SbtopApp(session, collecting=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await session.tick()
            await session.status_pages.poll_all()
            session.publish_snapshot(Cause.STATUS_PAGES)

            def header() -> str:
                return screen_text(app).splitlines()[0]

            await app_until(lambda: "them: Render degraded — Elev" in header(), pilot)
            # Cut to its share of the line: the level and the refresh keep their room.
            await app_until(lambda: "every 1s" in header(), pilot)
            assert "…" in header() and title not in header()
            assert "PRODUCTION" in header() and "UNKN" in header()
            # All clear again: the part says so in a word.
            s.routes[SUMMARY] = Answer(body=body(summary_doc()))
            await session.status_pages.poll_all()
            session.publish_snapshot(Cause.STATUS_PAGES)
            await app_until(lambda: "them: ok" in screen_text(app), pilot)


# --- sbtop check ----------------------------------------------------------------------------

@pytest.mark.slow
async def test_check_reports_each_page_and_a_providers_outage_leaves_the_exit_code() -> None:
    routes = {"/metrics": Answer(body=b"x 1\n"), "/api/health": Answer(body=b"{}"),
              "/render" + SUMMARY: Answer(body=body(summary_doc("critical", incidents=[
                  incident("Deploys failing", "2026-12-07T00:00:00Z")]))),
              "/vercel" + SUMMARY: Answer(500, b"")}
    with LoopbackServer(routes) as s:
        base = {"targets": {"x": {"base_url": s.url}}}
        plain = config.resolve(config.parse(base))
        with_pages = config.resolve(config.parse({**base, "status_pages": [
            {"name": "Render", "url": f"{s.url}/render"},
            {"name": "Vercel", "url": f"{s.url}/vercel"}]}))
        a0, none = await check.run_with_status_pages(plain, 0.05)
        a, pages = await check.run_with_status_pages(with_pages, 0.05)
    assert none == () and json.loads(check.as_json(a0, none))["status_pages"] == []
    assert a.level == a0.level  # context, not a verdict
    doc = json.loads(check.as_json(a, pages))
    render, vercel = doc["status_pages"]
    assert {k: render[k] for k in ("name", "state", "indicator", "incident", "error")} == {
        "name": "Render", "state": "outage", "indicator": "critical",
        "incident": "Deploys failing", "error": None}
    assert render["checked"] is not None
    assert (vercel["state"], vercel["error"]) == ("unknown", "HTTP 500")
    assert check.STATUS_PAGES_NOTE in doc["notes"]
    text = check.as_text(a, s.url, pages)
    assert "  status page Render: outage (critical) — Deploys failing https://stspg.io/x1" in text
    assert "  status page Vercel: unknown: HTTP 500" in text


# --- another kind of page: Instatus ---------------------------------------------------------

def instatus_doc(status: str, incidents: list[dict[str, Any]] | None = None,
                 maintenances: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"page": {"name": "Acme", "url": "https://acme.instatus.com", "status": status},
            "activeIncidents": incidents or [], "activeMaintenances": maintenances or []}


def test_an_instatus_page_is_read_by_its_own_adapter() -> None:
    from sbtop.engine.status_pages import read

    assert read("instatus", instatus_doc("UP")).state is PageState.OPERATIONAL
    minor = {"name": "Slow API", "started": "2026-12-07T00:00:00Z", "status": "INVESTIGATING",
             "impact": "PARTIALOUTAGE", "url": "https://acme.instatus.com/i/1"}
    major = dict(minor, name="API down", impact="MAJOROUTAGE", started="2026-12-07T00:30:00Z")
    r = read("instatus", instatus_doc("HASISSUES", [minor, major]))
    assert (r.state, r.incident, r.incident_url) == (PageState.OUTAGE, "API down",
                                                     "https://acme.instatus.com/i/1")
    assert read("instatus", instatus_doc("HASISSUES", [minor])).state is PageState.DEGRADED
    work = {"name": "DB upgrade", "start": "2026-12-07T00:00:00Z", "status": "INPROGRESS"}
    r = read("instatus", instatus_doc("UNDERMAINTENANCE", maintenances=[work]))
    assert (r.state, r.incident) == (PageState.MAINTENANCE, "DB upgrade")
    with pytest.raises(Malformed, match=r"no page\.status"):
        read("instatus", summary_doc())  # a Statuspage answer given to the wrong kind
    assert StatusPage("Acme", "https://acme.instatus.com", "instatus").json_url == \
        "https://acme.instatus.com/summary.json"


def test_odd_but_valid_json_never_breaks_the_reader() -> None:
    """Dates a clock cannot place, items of the wrong types, thousands of incidents: read,
    or refused in words, never an exception other than Malformed."""
    odd: list[Any] = [
        summary_doc("minor", incidents=[
            {"name": "year one", "created_at": "0001-01-01T00:00:00"},
            {"name": ["not", "text"], "created_at": 5}, "a string", None,
            {"name": "far", "created_at": "9999-12-31T23:59:59+14:00", "status": {"x": 1}}]),
        summary_doc("none", components=[{"name": 7, "status": ["x"]}, 3, {"group": True}]),
        summary_doc("major", incidents=[incident(f"n{i}", "2026-12-07T00:00:00Z")
                                        for i in range(5000)]),
        {"status": {"indicator": "none", "description": {"nested": True}}},
    ]
    for doc in odd:
        r = read_statuspage(doc)
        assert isinstance(r.state, PageState)
    assert read_statuspage(odd[0]).incident == "far"


@pytest.mark.parametrize("created", [None, "2026-12-07T01:00:00Z"])
def test_incidents_of_the_same_age_show_the_one_the_page_lists_first(
        created: str | None) -> None:
    # Statuspage lists incidents newest first: with no date, or the same one, its order says
    # which is newest.
    dated = {} if created is None else {"created_at": created}
    doc = {"status": {"indicator": "minor"},
           "incidents": [{"name": "Newest", "status": "investigating", **dated},
                         {"name": "Older", "status": "identified", **dated}]}
    assert read_statuspage(doc).incident == "Newest"


@pytest.mark.parametrize("title", ["Degraded C:\\", "API [v2]\\", "\\"])
def test_an_incident_title_ending_in_a_backslash_cannot_eat_the_headers_closing_tag(
        title: str) -> None:
    # Textual's markup reads a backslash before "[" as an escape: a title ending in one
    # showed "[/]" in the header and left the outage colour running into the rest of it.
    from textual.content import Content

    reading = PageReading(PageState.OUTAGE, "major", incident=title)
    page = PageStatus("Render", "https://status.example").answered(reading, 100.0)
    shown = Content.from_markup(them_markup((page,), 110.0) + " after")
    assert shown.plain.removesuffix(" after").rstrip(" ") == f"them: Render outage — {title}"
    assert "[/]" not in shown.plain
    assert not any(span.end > len(shown.plain) - len(" after") for span in shown.spans)


@pytest.mark.slow
async def test_a_subscriber_failing_on_a_poll_does_not_stop_the_polls() -> None:
    # A bug of ours in whatever acts on a poll (the notifier's summing once raised) ended
    # the page's loop for good: the header went unknown for the rest of the session.
    import dataclasses

    routes = {"/metrics": Answer(body=b"x 1\n"), "/api/health": Answer(body=b"{}"),
              SUMMARY: Answer(body=body(summary_doc()))}
    with LoopbackServer(routes) as s:
        wiring = config.resolve(config.parse({
            "targets": {"x": {"base_url": s.url}},
            "status_pages": [{"name": "Render", "url": s.url}]}))
        fast = tuple(dataclasses.replace(p, interval_s=0.05) for p in wiring.status_pages.pages)
        wiring = dataclasses.replace(wiring, status_pages=StatusPagesSettings(fast))
        session = LiveSession(wiring, refresh_s=0.2)

        def broken(u: object) -> None:
            if isinstance(u, Snapshot) and u.cause is Cause.STATUS_PAGES:
                raise RuntimeError("a subscriber's bug")

        session.subscribe(broken)
        async with session:
            run = asyncio.create_task(session.run())
            polls = lambda: sum(1 for r in s.requests if r["path"] == SUMMARY)  # noqa: E731
            await asyncio.wait_for(_until_async(lambda: polls() >= 3), timeout=30)
            session.stop()
            await run
        assert any("a subscriber's bug" in e for e in session.internal_errors)
