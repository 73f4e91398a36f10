"""The demo's providers: the simulated backend serves Render's and Vercel's status pages in
Statuspage's shape, `sbtop demo` and `sbtop check --demo` poll them, and the render-incident
scenario makes Render's page degraded with an incident for the header to name."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from sbtop import config
from sbtop.commands.targets import demo_target
from sbtop.console.app import SbtopApp
from sbtop.console.them import them_markup
from sbtop.demo.backend import SimulatedBackend
from sbtop.demo.status_pages import INCIDENT, page_url
from sbtop.engine.status_pages import PageState, read_statuspage, view
from sbtop.session.live import LiveSession
from sbtop.sources.status_pages import StatusPoller
from tests.cli import clean_env, run_sbtop
from tests.console_harness import screen_text
from tests.servers import closed_port
from tests.waiting import app_until, until

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow


async def test_the_demo_serves_render_and_vercel_pages_as_statuspage_does() -> None:
    with SimulatedBackend(port=0, background=False) as b:
        wiring = demo_target(b.url)
        assert [(p.name, p.json_url) for p in wiring.status_pages.pages] == [
            ("Render", f"{b.url}/__sbtop/status/render/api/v2/summary.json"),
            ("Vercel", f"{b.url}/__sbtop/status/vercel/api/v2/summary.json")]
        async with StatusPoller(wiring.status_pages) as poller:
            pages = await poller.poll_all()
            assert [view(p, p.checked_wall or 0).state for p in pages] == [
                PageState.OPERATIONAL, PageState.OPERATIONAL]
            b.set(render_incident=1)
            render, vercel = await poller.poll_all()
            assert render.reading is not None and vercel.reading is not None
            assert (render.reading.state, render.reading.incident) == (PageState.DEGRADED,
                                                                       INCIDENT)
            assert render.reading.affected == ("Web Services",)
            assert vercel.reading.state is PageState.OPERATIONAL
            assert them_markup((render, vercel), render.checked_wall or 0) == \
                f"[b $text-warning]them: Render degraded — {INCIDENT}[/]"
            b.set(render_incident=2)
            render, _ = await poller.poll_all()
            assert render.reading is not None and render.reading.state is PageState.OUTAGE


def test_the_demo_page_is_no_other_path_and_reads_as_statuspage() -> None:
    with SimulatedBackend(port=0, background=False) as b:
        assert b.status_page("/__sbtop/status/cockroach/api/v2/summary.json") is None
        assert b.status_page("/__sbtop/status/render") is None
        page = b.status_page("/__sbtop/status/render/api/v2/summary.json")
        assert page is not None and read_statuspage(json.loads(page)).state is \
            PageState.OPERATIONAL
        # And left out on request (the README's console capture).
        assert demo_target(b.url, status_pages=False).status_pages.pages == ()


async def test_the_demo_console_header_names_renders_incident() -> None:
    with SimulatedBackend(port=0, background=False) as b:
        b.set(render_incident=1)
        wiring = demo_target(b.url, ui=config.UiConfig())
        session = LiveSession(wiring)
        app = SbtopApp(session, collecting=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await session.tick()
            await session.status_pages.poll_all()
            session.pages_polled()
            await app_until(lambda: "them: Render degraded — Elevated latency"
                            in screen_text(app).splitlines()[0], pilot)


def test_check_demo_polls_the_demos_pages() -> None:
    r = run_sbtop("check", "--demo", "--window", "1", "--json")
    assert r.returncode in (0, 1), r.stderr
    pages = json.loads(r.stdout)["status_pages"]
    assert [(p["name"], p["state"], p["incident"]) for p in pages] == [
        ("Render", "operational", None), ("Vercel", "operational", None)]


def test_the_render_incident_scenario_serves_a_degraded_render_page(tmp_path: Path) -> None:
    port = closed_port()
    log = tmp_path / "serve.out"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "sbtop", "demo", "--serve", "--port",
                                 str(port), "--scenario", "render-incident"], stdout=out,
                                stderr=subprocess.STDOUT, env=clean_env())
    url = f"http://127.0.0.1:{port}"
    try:
        until(lambda: "Ctrl-C stops it." in log.read_text(), 30, "the demo serving")
        assert f"status   {page_url(url, 'render')}" in log.read_text()
        with urllib.request.urlopen(page_url(url, "render") + "/api/v2/summary.json",
                                    timeout=30) as answer:
            reading = read_statuspage(json.loads(answer.read()))
        assert (reading.state, reading.incident) == (PageState.DEGRADED, INCIDENT)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
