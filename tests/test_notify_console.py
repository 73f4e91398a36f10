"""What to do now and who knows, in the console: the advice in a breached panel's border with
its key only where the key can act, the notification of an alert firing and of an action
finishing, the mute key, the contacts in the help; and the bell and OSC bytes as the real
console writes them into a real terminal (tmux, inside which they go through passthrough)."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import pytest
from textual.containers import VerticalScroll

from sbtop.console.app import SbtopApp
from sbtop.console.screens.action import ActionScreen
from sbtop.console.screens.help import HelpScreen
from sbtop.console.screens.sessions import SessionsScreen
from sbtop.console.widgets.panel import Panel
from sbtop.demo.render_api import Failure
from sbtop.engine.keys import Fig
from sbtop.engine.levels import Level
from sbtop.engine.settings import AlertRule
from sbtop.engine.transitions import EventKind, watch_ended
from sbtop.notify.settings import Contacts
from sbtop.session.live import LiveSession
from sbtop.sources.settings import DbSettings
from tests.console_harness import Harness, notifications, screen_text
from tests.servers import closed_port
from tests.tmux import Pane

pytestmark = pytest.mark.slow

SBTOP = Path(sys.executable).with_name("sbtop")


def subtitle(app: SbtopApp, panel: str) -> str:
    return str(app.query_one(f"#{panel}", Panel).border_subtitle)


async def test_a_breached_panel_says_what_to_do_now_and_offers_the_key(tmp_path: Path) -> None:
    h = Harness(production=False, state_dir=tmp_path)  # a provider: the deploy keys act
    h.backend.set(rps=20, error_rate=0.2, fixed_latency_ms=1500.0)
    try:
        async with h.app.run_test(size=(80, 24)) as pilot:
            await h.ticks(3, pilot)
            assert subtitle(h.app, "traffic") == "now: rollback immediately (b)"
            # No database polled here: the sessions key would do nothing, so words only.
            assert subtitle(h.app, "latency") == "now: check slow query logs"
            text = screen_text(h.app)
            assert "now: rollback immediately (b)" in text  # at 80x24 too
            h.backend.set(error_rate=0.002, fixed_latency_ms=None)
            await h.ticks(2, pilot, seconds=61.0)  # the window forgets the bad minute
            assert "now:" not in subtitle(h.app, "traffic")
    finally:
        h.close()


async def test_with_a_database_the_p95_advice_offers_d_which_opens_the_longest_sessions(
        pg_db: str) -> None:
    h = Harness()
    h.backend.set(rps=20, fixed_latency_ms=1500.0)
    w = h.session.wiring
    wiring = dataclasses.replace(w, collector=dataclasses.replace(
        w.collector, dsn=pg_db, db=DbSettings(only_database=True)))
    app = SbtopApp(LiveSession(wiring, clock=h.clock), collecting=False)
    h.session = app.session  # the ticks go to this one
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await h.ticks(3, pilot)
            assert subtitle(app, "latency") == "now: check slow query logs (d)"
            await pilot.press("d")
            await pilot.pause()
            assert isinstance(app.screen, SessionsScreen)
            assert "sorted by longest running" in screen_text(app)
    finally:
        h.close()


async def test_the_key_beside_restart_service_opens_the_restart_and_sockets_say_redis(
        tmp_path: Path) -> None:
    """Memory critical and sockets over 1,000 in one panel: the worse breach's advice, with
    its key, and the key does what the words say; alone, sockets ask for the Redis adapter."""
    h = Harness(production=False, state_dir=tmp_path)
    h.backend.set(rps=20, memory_mb=500.0, sockets=1500.0)
    try:
        async with h.app.run_test(size=(80, 24)) as pilot:
            await h.ticks(3, pilot)
            assert subtitle(h.app, "sockets") == "now: restart service (r)"
            await pilot.press("r")
            await pilot.pause()
            assert isinstance(h.app.screen, ActionScreen)
            assert "restart" in screen_text(h.app).lower()
            await pilot.press("escape")
            await pilot.pause()
            assert h.backend.restarts == 0
            h.backend.set(memory_mb=180.0)
            await h.ticks(2, pilot)
            assert subtitle(h.app, "sockets") == "now: enable Redis adapter"
    finally:
        h.close()


async def test_read_only_the_advice_is_words_only() -> None:
    h = Harness(read_only=True)
    h.backend.set(rps=100, error_rate=0.2)
    try:
        async with h.app.run_test(size=(120, 40)) as pilot:
            await h.ticks(3, pilot)
            assert subtitle(h.app, "traffic") == "now: rollback immediately"
    finally:
        h.close()


async def test_an_alert_firing_rings_through_the_notifier_and_m_mutes_it() -> None:
    h = Harness(production=False)
    h.backend.set(rps=20)
    # The runbook's HighErrorRate, held for 1 minute instead of 5 (fewer ticks to fire).
    rule = AlertRule("HighErrorRate", Fig.ERROR_RATE_5XX_PCT, ">", 1.0, 60.0, Level.CRITICAL,
                     "Error rate above 1%")
    w = h.session.wiring
    wiring = w.with_engine(dataclasses.replace(w.engine, alerts=(rule,)))
    app = SbtopApp(LiveSession(wiring, clock=h.clock), collecting=False)
    h.session = app.session  # the ticks go to this one
    written: list[str] = []
    try:
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            notifier = app.notifier
            assert notifier is not None
            notifier._write = written.append  # headless, the driver writes nowhere
            await h.ticks(2, pilot, seconds=30.0)
            assert written == []  # nothing changed yet
            h.backend.set(error_rate=0.2)
            await h.ticks(4, pilot, seconds=30.0)  # over 1 % for a minute: fires
            fired = [e for e in notifier.recent if e.kind is EventKind.ALERT_FIRING]
            assert [e.title for e in fired] == ["HighErrorRate firing on demo"]
            assert "now: rollback immediately" in fired[0].body
            assert len(written) == 1 and written[0].startswith(
                "\x07\x1b]777;notify;HighErrorRate firing on demo;")
            await pilot.press("m")
            assert notifier.muted and "muted" in notifications(app)[-1]
            h.backend.set(error_rate=0.002)
            await h.ticks(3, pilot, seconds=30.0)
            assert any(e.kind is EventKind.ALERT_RESOLVED for e in notifier.recent)
            assert len(written) == 1  # muted: told, but not written
    finally:
        h.close()


async def test_an_action_finishing_is_told(tmp_path: Path) -> None:
    h = Harness(production=False, state_dir=tmp_path)
    h.backend.set(rps=100)
    try:
        async with h.app.run_test(size=(120, 40)) as pilot:
            await h.ticks(2, pilot)
            await pilot.press("r", "y")
            await h.app.workers.wait_for_complete()
            await pilot.pause()
            assert h.backend.restarts == 1
            notifier = h.app.notifier
            assert notifier is not None
            done = [e for e in notifier.recent if e.kind is EventKind.ACTION_FINISHED]
            assert [e.title for e in done] == ["restart done on demo"]
            h.backend.render.fail_next(Failure(500, "render is down", only="/restart"))
            await pilot.press("r", "y")
            await h.app.workers.wait_for_complete()
            await pilot.pause()
            failed = [e for e in notifier.recent if e.kind is EventKind.ACTION_FINISHED][-1]
            assert failed.title == "restart FAILED on demo" and failed.level is Level.CRITICAL
            assert "render is down" in failed.body
    finally:
        h.close()


async def test_a_watch_period_ending_is_told_through_the_sessions_hook() -> None:
    h = Harness()
    written: list[str] = []
    try:
        async with h.app.run_test(size=(120, 40)) as pilot:
            notifier = h.app.notifier
            assert notifier is not None
            notifier._write = written.append
            # What the plan calls when a phase's watch period is over.
            h.session.announce(watch_ended("2. Prisma singleton", "5xx held under 1 %", "demo",
                                           ok=True))
            await pilot.pause()
            (e,) = notifier.recent
            assert e.kind is EventKind.WATCH_ENDED
            assert written == ["\x1b]777;notify;watch over: 2. Prisma singleton on demo;"
                               "5xx held under 1 %\x07\x1b]9;watch over: 2. Prisma singleton on "
                               "demo: 5xx held under 1 %\x07"]
    finally:
        h.close()


async def test_the_help_names_the_contacts_from_the_config() -> None:
    h = Harness()
    wiring = dataclasses.replace(h.session.wiring, contacts=Contacts(
        primary="Ada", secondary="Bo", escalation="Tech Lead",
        slack_channel="#studybuddy-alerts", status_page="status.studybuddy.com"))
    app = SbtopApp(LiveSession(wiring, clock=h.clock), collecting=False)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            text = screen_text(app)
            assert "On call: primary Ada, secondary Bo, escalation Tech Lead" in text
            assert "Tell: Slack #studybuddy-alerts, status page status.studybuddy.com" in text
            assert "t / m" in text
            # With the contacts under them, the keys still fit 80x24 without scrolling.
            assert app.screen.query_one(VerticalScroll).max_scroll_y == 0
    finally:
        h.close()


def test_the_real_console_writes_the_bell_and_osc_777_9_through_tmux_passthrough(
        tmp_path: Path) -> None:
    """`sbtop demo` in tmux, a restart confirmed: what the console wrote into the pane (tmux's
    pipe-pane, the bytes before tmux reads them) holds the bell and both notifications, each
    wrapped for tmux (the pane has $TMUX set, as any program inside tmux does)."""
    out = tmp_path / "pane.bytes"
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_STATE_HOME": str(tmp_path)}
    pane = Pane(f"{SBTOP} demo; sleep 30", size=(120, 40), env=env)
    try:
        pane.tmux("pipe-pane", "-o", "-t", "sbtop", f"cat >> {out}")
        pane.wait_for("health HTTP 200 OK")
        pane.wait_for("r Restart")
        pane.keys("r")
        pane.wait_for("go ahead")  # the plan, asking (the demo is not production: y)
        pane.keys("y")
        deadline = time.monotonic() + 60
        want = b"\x1bPtmux;\x1b\x1b]777;notify;restart done on demo;"
        while time.monotonic() < deadline:
            data = out.read_bytes() if out.exists() else b""
            if want in data:
                break
            time.sleep(0.2)
        assert want in data, data[-2000:]
        # Good news: no bell (an alarm), the desktop notification only.
        assert b"\x07\x1bPtmux;\x1b\x1b]777;notify;restart done" not in data
        assert b"\x1bPtmux;\x1b\x1b]9;restart done on demo: " in data
        pane.keys("q")
    finally:
        pane.close()


def test_an_alert_firing_rings_the_bell_in_a_real_terminal(tmp_path: Path) -> None:
    """The console on a served demo backend, with a rule that fires on the first window: the
    bytes the console wrote (pipe-pane) hold the bell, then OSC 777 and OSC 9 in passthrough."""
    port = closed_port()
    cfg = tmp_path / "sbtop.toml"
    cfg.write_text(f'''
[targets.t]
base_url = "http://127.0.0.1:{port}"

[[alerts]]
name = "TrafficSeen"
figure = "requests_per_s"
op = ">"
value = 0
for = "0s"
summary = "requests; are arriving \\u001b[2J"
''')
    out = tmp_path / "pane.bytes"
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_STATE_HOME": str(tmp_path)}
    pane = Pane(f"{SBTOP} demo --serve --port {port} >/dev/null 2>&1 & "
                f"{SBTOP} --config {cfg}; sleep 30", size=(100, 30), env=env)
    try:
        pane.tmux("pipe-pane", "-o", "-t", "sbtop", f"cat >> {out}")
        want = (b"\x07\x1bPtmux;\x1b\x1b]777;notify;TrafficSeen firing on t;"
                b"requests, are arriving [2J\x07\x1b\\")
        data = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            data = out.read_bytes() if out.exists() else b""
            if want in data:
                break
            time.sleep(0.2)
        assert want in data, data[-2000:]
        assert (b"\x1bPtmux;\x1b\x1b]9;TrafficSeen firing on t: requests, are arriving [2J"
                b"\x07\x1b\\") in data
        assert data.count(b"TrafficSeen firing") == 2  # told once (777 and 9), not per tick
        pane.keys("q")
    finally:
        pane.close()


async def test_the_help_fits_80x24_with_the_runbooks_own_contacts() -> None:
    """The contacts `sbtop init` and the demo write (the runbook's placeholders, the longest
    a new user sees) under every key, without scrolling."""
    from sbtop.deploy_plan import CONTACTS

    h = Harness()
    wiring = dataclasses.replace(h.session.wiring, contacts=Contacts(**CONTACTS))
    app = SbtopApp(LiveSession(wiring, clock=h.clock), collecting=False)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            text = screen_text(app)
            assert "escalation [Tech" in text and "status page status.studybuddy.com" in text
            assert " c / 0 " in text and " p " in text and " x / K " in text
            assert app.screen.query_one(VerticalScroll).max_scroll_y == 0
    finally:
        h.close()
