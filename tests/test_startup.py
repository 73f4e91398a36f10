"""The console's start-up: the screen comes first, then the session; what a console never
uses is never imported."""

from __future__ import annotations

import asyncio
import gc
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.app import App
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from sbtop import config, gc_hold
from sbtop.clock import ManualClock
from sbtop.collector import Collector
from sbtop.console.app import SbtopApp
from sbtop.console.widgets.keys import KeysFooter
from sbtop.engine.keys import Fig
from sbtop.session.live import LiveSession
from sbtop.sources.http import tls_context
from tests.console_harness import screen_text
from tests.servers import Answer, LoopbackServer
from tests.timers import T0, Timers
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


def _page(n: int) -> bytes:
    """A histogram page: n requests so far, all under 0.1 s."""
    labels = 'route="/a",method="GET",status_code="200"'
    return (f"# TYPE http_request_duration_seconds histogram\n"
            f'http_request_duration_seconds_bucket{{{labels},le="0.1"}} {n}\n'
            f'http_request_duration_seconds_bucket{{{labels},le="+Inf"}} {n}\n'
            f"http_request_duration_seconds_count{{{labels}}} {n}\n"
            f"http_request_duration_seconds_sum{{{labels}}} {n * 0.05}\n").encode()


class CountingPages:
    """A collector that notes when each scrape began (on the manual clock)."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        self.starts: list[float] = []

    async def __aenter__(self) -> Any:
        await self.collector.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.collector.__aexit__(*exc)

    async def observe(self) -> Any:
        self.starts.append(round(self.collector.clock.now()[0] - T0, 6))
        return await self.collector.observe()


async def _ticked(session: LiveSession, n: int) -> None:
    for _ in range(1000):
        if session.ticks >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{session.ticks} ticks, not {n}")


def _counting_target(url: str) -> Any:
    return config.resolve(config.Config(targets={"x": config.TargetConfig(base_url=url)}))


async def test_the_console_scrapes_again_half_a_second_after_its_first(tmp_path: Path) -> None:
    """The first figures need two scrapes: the console takes the second 0.5 s after the first
    (not a whole refresh later), the rates over the 0.5 s between them, then keeps the
    refresh's grid from the first. Nobody looking (`record`), the grid is kept from the start."""
    pages = [_page(20 * k) for k in range(1, 10)]  # 20 requests a scrape
    routes = {"/metrics": Answer(bodies=pages), "/api/health": Answer(body=b"{}")}
    with LoopbackServer(routes) as s:
        clock = ManualClock(T0)
        timers = Timers(clock)
        source = CountingPages(Collector(_counting_target(s.url).collector, clock))
        session = LiveSession(_counting_target(s.url), clock=clock, refresh_s=2.0,
                              source=source, wait=timers.wait, state_dir=tmp_path)
        app = SbtopApp(session)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(lambda: session.ticks == 1, pilot)
            await timers.run_until(T0 + 0.5)
            await until(lambda: session.ticks == 2, pilot)
            a = session.assessment
            assert a is not None
            # 20 requests in the 0.5 s between the scrapes: 40/s, never 20 over the refresh.
            assert a.figures[Fig.REQUESTS_PER_S].value == pytest.approx(40.0)
            await timers.run_until(T0 + 2.0)
            await until(lambda: session.ticks == 3, pilot)
            await timers.run_until(T0 + 4.0)
            await until(lambda: session.ticks == 4, pilot)
        assert source.starts == [0.0, 0.5, 2.0, 4.0]

    with LoopbackServer(routes) as s:
        clock = ManualClock(T0)
        timers = Timers(clock)
        source = CountingPages(Collector(_counting_target(s.url).collector, clock))
        headless = LiveSession(_counting_target(s.url), clock=clock, refresh_s=2.0,
                               source=source, wait=timers.wait, state_dir=tmp_path)
        async with headless:
            runner = asyncio.ensure_future(headless.run(max_ticks=3))
            for n, t in ((1, 2.0), (2, 4.0)):
                await _ticked(headless, n)
                await timers.run_until(T0 + t)
            assert await asyncio.wait_for(runner, 10) == 3
        assert source.starts == [0.0, 2.0, 4.0]


async def test_the_footer_composes_its_keys_once_and_again_only_when_they_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Textual's footer composed the keys three times over the first frames (each time the
    screen said its bindings may have changed), the whole screen drawn before the last. Here
    once at start; moving between panels (the same keys) composes nothing; a key that goes
    away is gone from the footer."""
    composed: list[int] = []
    recompose = Footer.recompose

    async def counted(self: Footer) -> None:
        composed.append(1)
        await recompose(self)

    monkeypatch.setattr(Footer, "recompose", counted)
    with LoopbackServer({"/metrics": Answer(body=b"x 1\n")}) as s:
        session = LiveSession(_counting_target(s.url), state_dir=tmp_path)
        app = SbtopApp(session, collecting=False)
        async with app.run_test(size=(120, 40)) as pilot:
            footer = app.query_one(Footer)

            def keys() -> str:
                return " ".join(str(k.description) for k in footer.query(FooterKey))

            await until(lambda: "Quit" in keys() and "Chart" in keys(), pilot)
            for _ in range(10):
                await pilot.pause(0.02)
            assert len(composed) == 1, composed
            await pilot.press("tab")  # the next panel: the same keys
            for _ in range(10):
                await pilot.pause(0.02)
            assert len(composed) == 1 and app.focused is not None
            assert app.focused.id != "latency"
            checked = app.check_action
            monkeypatch.setattr(app, "check_action", lambda action, parameters: (
                False if action == "help" else checked(action, parameters)))
            app.refresh_bindings()
            await until(lambda: "Help" not in keys(), pilot)
            assert "Quit" in keys() and len(composed) == 2


def test_the_collector_held_for_a_start_is_let_go_and_one_turned_off_elsewhere_stays_off(
        ) -> None:
    assert gc.isenabled()
    try:
        gc_hold.hold()
        assert not gc.isenabled()
        gc_hold.release()
        assert gc.isenabled()
        gc.disable()  # someone else's: not ours to turn on
        gc_hold.hold()
        gc_hold.release()
        assert not gc.isenabled()
    finally:
        gc.enable()


async def test_the_console_lets_the_collector_go_once_its_first_screen_is_drawn(
        tmp_path: Path) -> None:
    with LoopbackServer({"/metrics": Answer(body=b"x 1\n")}) as s:
        app = SbtopApp(LiveSession(_counting_target(s.url), state_dir=tmp_path),
                       collecting=False)
        gc_hold.hold()  # as `sbtop` does before importing the console
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                await until(gc.isenabled, pilot)
                assert "Latency" in screen_text(app)
        finally:
            gc_hold.release()
            gc.enable()


async def test_the_theme_and_the_layout_are_in_place_before_the_widgets_are_styled(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Set once the screen was up, the theme had the stylesheet read and applied to every
    widget again, and the layout's classes restyled them all again, before and after the first
    frame. Now neither happens to a composed screen."""
    restyled: list[int] = []
    refresh_css = App.refresh_css

    def counted(self: App[Any], animate: bool = True) -> None:
        restyled.append(len(self.screen_stack[0].children) if self.screen_stack else 0)
        refresh_css(self, animate=animate)

    monkeypatch.setattr(App, "refresh_css", counted)
    seen: list[frozenset[str]] = []
    compose = KeysFooter.compose

    def composing(self: KeysFooter) -> Any:
        seen.append(frozenset(self.screen.classes))
        return compose(self)

    monkeypatch.setattr(KeysFooter, "compose", composing)
    with LoopbackServer({"/metrics": Answer(body=b"x 1\n")}) as s:
        app = SbtopApp(LiveSession(_counting_target(s.url), state_dir=tmp_path),
                       collecting=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(lambda: "Quit" in screen_text(app), pilot)
            assert app.theme == "dark"
        assert all(n == 0 for n in restyled), restyled
        assert seen and {"-standard", "-calm"} <= seen[0]


def test_the_demo_loads_prometheus_client_with_its_first_page_not_before_the_console(
        ) -> None:
    """The simulated backend's registry (prometheus_client: some 40 ms) is made when the
    first page is asked for, which is after the console's first frame, not before it."""
    code = ("import sys\n"
            "import sbtop.commands.demo, sbtop.demo.server, sbtop.demo.status_pages\n"
            "from sbtop.demo.backend import fleet\n"
            "backends = fleet(1)\n"
            "backends[0].start()\n"
            "assert 'prometheus_client' not in sys.modules\n"
            "page = backends[0].metrics_page()\n"
            "assert b'process_resident_memory_bytes' in page\n"
            "assert 'prometheus_client' in sys.modules\n"
            "backends[0].stop()\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_console_imports_httpx_with_its_first_client_after_the_first_frame() -> None:
    """httpx (some 17 ms) loads when the session makes its client, right after the first
    frame; nothing the console imports before it loads httpx."""
    code = ("import sys\n"
            "import sbtop.cli, sbtop.commands.console, sbtop.commands.demo, sbtop.console.app\n"
            "import sbtop.demo.backend, sbtop.demo.server, sbtop.session.live, sbtop.collector\n"
            "import sbtop.actions.providers, sbtop.actions.render, sbtop.notify.webhook\n"
            "assert 'httpx' not in sys.modules\n"
            "from sbtop.sources.http import make_client\n"
            "from sbtop.sources.settings import HttpSettings\n"
            "make_client(HttpSettings())\n"
            "assert 'httpx' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(("argv", "held"), [
    (["demo"], True), ([], True), (["demo", "--serve"], False), (["check"], False)])
def test_the_collector_is_held_for_a_console_only(monkeypatch: pytest.MonkeyPatch,
                                                   argv: list[str], held: bool) -> None:
    """Held from the command line's start until the console's first full screen; never for a
    command without a console (`demo --serve` runs a server until Ctrl-C)."""
    import sbtop.cli

    seen: list[bool] = []
    monkeypatch.setattr(sbtop.cli, "_run", lambda _args: seen.append(gc.isenabled()) or 0)
    monkeypatch.setattr(sys, "stderr", sys.stderr)  # main wraps it; put back after
    monkeypatch.setattr(sys, "stdout", sys.stdout)
    assert sbtop.cli.main(argv) == 0
    assert seen == [not held] and gc.isenabled()


async def test_the_routes_panel_shows_its_routes_at_the_early_second_scrape() -> None:
    """The route table redraws every 5 s, but while it has no route to show, every tick: at the
    second scrape half a second after the first, the routes come with the other figures (it
    said "waiting for a second scrape" beside them for a whole refresh)."""
    from tests.console_harness import Harness

    h = Harness(theme="dark")
    try:
        async with h.app.run_test(size=(120, 40)) as pilot:
            h.backend.set(rps=100, error_rate=0.03)
            await h.ticks(1, pilot, 0.0)
            await h.ticks(1, pilot, 0.5)
            text = screen_text(h.app)
            assert "req/s" in text and "waiting for a second scrape" not in text, text
            assert "/api/" in text  # the routes' rows
    finally:
        h.close()
