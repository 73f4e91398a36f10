"""The console's start-up: the screen comes first, then the session; what a console never
uses is never imported."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

from sbtop import config
from sbtop.collector import Collector
from sbtop.console.app import SbtopApp
from sbtop.session.live import LiveSession
from tests.console_harness import screen_text
from tests.servers import Answer, LoopbackServer
from tests.waiting import app_until as until


class GatedStart:
    """A real collector whose start waits until the test lets it go (a slow TLS set-up or a
    slow state file, made deterministic)."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        self.go = asyncio.Event()
        self.started = False

    async def __aenter__(self) -> Any:
        await self.go.wait()
        await self.collector.__aenter__()
        self.started = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.collector.__aexit__(*exc)

    async def observe(self) -> Any:
        return await self.collector.observe()


async def test_the_screen_is_drawn_before_the_session_has_started() -> None:
    routes = {"/metrics": Answer(body=b"x 1\n"), "/api/health": Answer(body=b"{}")}
    with LoopbackServer(routes) as s:
        target = config.resolve(config.Config(targets={"x": config.TargetConfig(
            base_url=s.url)}))
        source = GatedStart(Collector(target.collector))
        session = LiveSession(target, refresh_s=1.0, source=source)
        app = SbtopApp(session)

        async def run() -> None:
            async with app.run_test(size=(120, 40)) as pilot:
                # The whole layout is there while the session has not even started.
                await until(lambda: "waiting for the first scrape" in screen_text(app), pilot)
                text = screen_text(app)
                assert "Latency" in text and "Routes" in text and not source.started
                assert session.ticks == 0
                source.go.set()
                await until(lambda: session.ticks >= 1, pilot)

        # Before, the app's mount waited for the session's start: no screen, ever, here.
        await asyncio.wait_for(run(), timeout=30)


def test_the_console_imports_no_database_driver_chart_library_or_http_cli_until_needed(
        ) -> None:
    """A console with no database and no chart open needs neither psycopg nor plotext, nor
    httpx's command-line client (click, pygments): a tenth of a second and several MB."""
    code = ("import sys\n"
            "import sbtop.console.app, sbtop.commands.demo, sbtop.demo.backend, sbtop.collector\n"
            "bad = [m for m in ('psycopg', 'plotext', 'click', 'pygments') if m in sys.modules]\n"
            "assert not bad, bad\n"
            "import sbtop.console.chart, sbtop.sources.database\n"
            "assert 'plotext' not in sys.modules  # until a chart is drawn\n")
    subprocess.run([sys.executable, "-c", code], check=True)
