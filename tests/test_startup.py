"""The console's start-up: the screen comes first, then the session; what a console never
uses is never imported."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from sbtop import config
from sbtop.collector import Collector
from sbtop.console.app import SbtopApp
from sbtop.session.live import LiveSession
from sbtop.sources.http import tls_context
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


def test_the_trusted_cas_are_loaded_at_the_first_tls_handshake_and_still_refuse_a_stranger(
        tmp_path: Path) -> None:
    """An http:// target never loads the CA store (1.7 MB); the first https connection does,
    and a certificate no CA vouches for is refused as before, never let through unverified."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    ctx = tls_context()
    assert ctx.cert_store_stats()["x509_ca"] == 0

    async def get(url: str) -> None:
        async with httpx.AsyncClient(verify=ctx) as client:
            await client.get(url)

    with LoopbackServer({"/metrics": Answer(body=b"x 1\n")}) as plain:
        asyncio.run(get(plain.url + "/metrics"))
    assert ctx.cert_store_stats()["x509_ca"] == 0  # plain HTTP: nothing loaded
    with (LoopbackServer({"/metrics": Answer(body=b"x 1\n")}, tls=server_ctx) as srv,
          pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED")):
        asyncio.run(get(srv.url + "/metrics"))
    assert ctx.cert_store_stats()["x509_ca"] > 10  # certifi's CAs, at the handshake
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
