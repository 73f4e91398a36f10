"""The Plan view (`p`) driving a deploy window in the console, on the simulated backend with a
manual clock: the pre-flight with a failing item and a typed override, a phase watched to its
end and passed, a phase rolled back by its command, the canary phase and its ladder; the
header's compact line; the refusals (read-only, no plan) said, not silent."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from textual import events

from sbtop import config
from sbtop.actions.audit import AuditLog
from sbtop.clock import ManualClock
from sbtop.commands.targets import demo_target
from sbtop.console.replay import ReplayApp
from sbtop.console.screens.action import ActionScreen
from sbtop.console.screens.confirm import ConfirmScreen
from sbtop.console.screens.phase_action import PhaseActionScreen
from sbtop.console.screens.plan import PlanScreen
from sbtop.demo.backend import SimulatedBackend
from sbtop.deploy_plan import demo_plan
from sbtop.recording.meta import header
from sbtop.recording.reader import Recording
from sbtop.recording.writer import Recorder
from sbtop.session.live import LiveSession
from sbtop.session.replay import ReplaySession
from tests.console_harness import Harness, notifications, screen_text
from tests.tmux import Pane
from tests.waiting import app_until

pytestmark = pytest.mark.slow

SBTOP = Path(sys.executable).with_name("sbtop")


async def settle(h: Harness, pilot: Any) -> None:
    await h.app.workers.wait_for_complete()
    await pilot.pause()


def audit(state: Path) -> list[dict[str, Any]]:
    return AuditLog(state / "audit.jsonl").read()


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Harness]:
    """The demo's window (the runbook's pre-flight and five phases, harmless commands)."""
    h = Harness(production=False, state_dir=tmp_path, plan=demo_plan())
    h.backend.set(rps=100)
    try:
        yield h
    finally:
        h.close()


def one_phase(tmp_path: Path, **phase: Any) -> Harness:
    h = Harness(production=False, state_dir=tmp_path,
                plan={"phases": [{"name": "Prisma singleton", "risk": "low", "duration": "2m",
                                  "watch": "1m", "figures": ["error_rate_5xx_pct"],
                                  **phase}]})
    h.backend.set(rps=100)
    return h


async def test_a_failing_preflight_item_blocks_the_start_until_a_typed_override(
        demo: Harness, tmp_path: Path) -> None:
    app = demo.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(demo, pilot)
        await demo.ticks(3, pilot)
        assert "PRE-FLIGHT 8 of 8 open" in screen_text(app)  # the header's line
        await pilot.press("p")
        assert isinstance(app.screen, PlanScreen)
        # The live checks: the baseline is not captured yet, so that item fails.
        await pilot.press("f")
        await settle(demo, pilot)
        text = screen_text(app)
        assert "FAIL Baseline captured" in text and "ok   Figures OK now" in text
        # enter confirms the person's item under the cursor (the first open one).
        await pilot.press("enter")
        await settle(demo, pilot)
        assert "ok   All tests passing locally" in screen_text(app)
        assert audit(tmp_path)[-1]["action"] == "plan confirm All tests passing locally"
        # The phase keys act on the selected phase: down to phase 1, then start.
        while app.screen.selected_phase() is None:  # type: ignore[attr-defined]
            await pilot.press("j")
        await pilot.press("s")
        assert isinstance(app.screen, PhaseActionScreen) and app.screen.plan.needs_override
        assert "needs an override: pre-flight Baseline captured" in screen_text(app)
        await pilot.press("enter")  # an empty reason: no
        await settle(demo, pilot)
        assert isinstance(app.screen, PlanScreen)
        assert "PENDING" in screen_text(app) and "WATCHING" not in screen_text(app)
        assert audit(tmp_path)[-1]["result"] == "cancelled at the confirmation"
        await pilot.press("s", *"baseline comes with the first canary step", "enter")
        await settle(demo, pilot)
        await demo.ticks(1, pilot)
        text = screen_text(app)
        assert "WATCHING" in text and "59s left of 1m" in text
        assert "b rolls it back: runs echo demo: npx prisma" in text  # the rollback at hand
        started = [e for e in audit(tmp_path) if e["action"].startswith("plan start")]
        assert started[-1]["override"] == "baseline comes with the first canary step"
        await pilot.press("i")  # the items again: the failing one stands overridden
        assert "overridden by" in screen_text(app)
        await pilot.press("escape")
        assert "PLAN 1/5 Database indexes: watching 59s left" in screen_text(app)


async def test_a_phase_watched_to_its_end_is_ready_and_passes_without_an_override(
        tmp_path: Path) -> None:
    h = one_phase(tmp_path)
    app = h.app
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(h, pilot)
            await h.ticks(2, pilot)
            await pilot.press("p", "s")
            assert isinstance(app.screen, PhaseActionScreen)
            assert not app.screen.typed  # nothing open: y goes ahead
            await pilot.press("y")
            await settle(h, pilot)
            await h.ticks(1, pilot, seconds=30)  # the manual clock: half the watch at once
            text = screen_text(app)
            assert "30s left of 1m" in text
            assert "ok   now 5xx" in text  # its criterion, judged live
            await h.ticks(1, pilot, seconds=30)
            assert "ready to pass (P)" in screen_text(app)
            await pilot.press("P")
            assert isinstance(app.screen, PhaseActionScreen) and not app.screen.typed
            await pilot.press("y")
            await settle(h, pilot)
            assert "PASSED" in screen_text(app)
            entry = audit(tmp_path)[-1]
            assert entry["action"] == "plan pass phase 1 Prisma singleton" and entry["ok"]
            assert not entry.get("override")
            await pilot.press("escape")
            assert "PLAN done 1/1" in screen_text(app)
    finally:
        h.close()


async def test_a_phase_rolled_back_by_its_command(tmp_path: Path) -> None:
    marker = tmp_path / "rolled-back"
    h = one_phase(tmp_path, rollback=[sys.executable, "-c",
                                      f"open({str(marker)!r}, 'w').write('done')"])
    app = h.app
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(h, pilot)
            await h.ticks(2, pilot)
            await pilot.press("p", "s", "y")
            await settle(h, pilot)
            await h.ticks(5, pilot)
            assert "b rolls it back: runs" in screen_text(app)
            await pilot.press("b")
            assert isinstance(app.screen, PhaseActionScreen)
            assert "plan rollback phase 1 Prisma singleton" in screen_text(app)
            await pilot.press("n")  # no: nothing runs
            await settle(h, pilot)
            assert not marker.exists()
            await pilot.press("b", "y")
            await settle(h, pilot)
            assert marker.read_text() == "done"
            assert "ROLLED BACK" in screen_text(app)
            assert any("succeeded" in n for n in notifications(app))
            await pilot.press("escape")
            assert "PLAN 1 rolled back" in screen_text(app)
    finally:
        h.close()


async def test_the_canary_phase_shows_the_ladder_and_steps_it(tmp_path: Path) -> None:
    h = one_phase(tmp_path, name="Optimized routes", canary=True)
    app = h.app
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(h, pilot)
            await h.ticks(3, pilot)
            await pilot.press("p")
            assert "flag 0%" in screen_text(app)  # the canary phase selected: its ladder
            await pilot.press("s", "y")
            await settle(h, pilot)
            await h.ticks(1, pilot)
            text = screen_text(app)
            assert "flag 0%" in text and "next 5%: gate OPEN" in text  # the canary panel
            assert "canary at 0 %, next step 5 %" in text  # the phase's own criterion
            assert "FAILING" not in text  # on its way up the ladder, not failing
            assert "c Canary" in text
            await pilot.press("c")
            assert isinstance(app.screen, ActionScreen)  # the canary's own confirmation
            await pilot.press("y")
            await settle(h, pilot)
            assert h.backend.knobs.canary_percent == 5
            await h.ticks(1, pilot)
            assert "flag 5%" in screen_text(app)
            # The footer as the phase stands once the step is done: its keys back (the view
            # came back under the question while the step ran, and its footer kept that).
            # (The footer is made again after the draw that changed its keys: waited for.)
            await app_until(lambda: "P Pass" in screen_text(app)
                            and "b Roll back" in screen_text(app), pilot)
    finally:
        h.close()


async def test_read_only_the_view_shows_the_window_and_the_keys_say_why(
        tmp_path: Path) -> None:
    h = Harness(production=False, plan=demo_plan(), read_only=True, state_dir=tmp_path)
    try:
        async with h.app.run_test(size=(80, 24)) as pilot:
            await settle(h, pilot)
            await h.ticks(2, pilot)
            await pilot.press("p")
            text = screen_text(h.app)
            assert "Database indexes" in text and "s Start" not in text
            await pilot.press("j", "s")
            await pilot.pause()
            assert isinstance(h.app.screen, PlanScreen)
            assert any("read-only" in n for n in notifications(h.app))
    finally:
        h.close()


async def test_without_a_plan_p_says_how_to_configure_one(tmp_path: Path) -> None:
    h = Harness(production=False, state_dir=tmp_path)
    try:
        async with h.app.run_test(size=(80, 24)) as pilot:
            await settle(h, pilot)
            await pilot.press("p")
            await pilot.pause()
            assert not isinstance(h.app.screen, PlanScreen)
            assert any("no deploy plan configured" in n for n in notifications(h.app))
    finally:
        h.close()


def test_the_plan_view_in_a_real_terminal(tmp_path: Path) -> None:
    pane = Pane(f"{SBTOP} demo --state-dir {tmp_path}; echo sbtop-exited-$?; sleep 30")
    try:
        pane.wait_for("PRE-FLIGHT")  # the header's line
        pane.keys("p")
        pane.wait_for("Deploy window")
        pane.wait_for("Database indexes")
        # Down the demo's 8 items to phase 1 (the cursor starts on the first open item).
        for _ in range(8):
            pane.keys("j")
        pane.keys("s")
        pane.wait_for("needs an override")
        pane.keys(*"tmux run, items open", "Enter")
        screen = pane.wait_for("left of 1m")
        assert "WATCHING" in screen
        pane.keys("Escape")
        pane.wait_for("PLAN 1/5")
        pane.keys("q")
        assert "sbtop-exited-0" in pane.wait_for("sbtop-exited-")
    finally:
        pane.close()


def test_a_whole_deploy_window_in_a_real_terminal(tmp_path: Path) -> None:
    """`sbtop --config` in tmux on the simulated backend (serving in this process), the
    watches and soaks a few seconds of the real clock: the pre-flight (the baseline item
    fails, a person's item confirmed), phase 1 started with a typed override, its command
    run, its watch counted down to the end and passed; phase 2 rolled back by its command;
    phase 3's canary stepped to the top with c; passed; the checklist (v); quit."""
    import tomli_w

    from sbtop.checklist import STUDYBUDDY
    from sbtop.demo.app_api import DEMO_EMAIL, DEMO_PASSWORD, DEMO_SESSION
    from sbtop.demo.render_api import API_KEY, SERVICE_ID

    ran, rolled = tmp_path / "ran", tmp_path / "rolled-back"

    def touch(path: Path) -> list[str]:
        return [sys.executable, "-c", f"open({str(path)!r}, 'a').write('x')"]

    backend = SimulatedBackend(port=0).start()
    cfg = tmp_path / "sbtop.toml"
    cfg.write_text(tomli_w.dumps({
        "targets": {"demo": {
            "base_url": backend.url, "gzip": False, "production": False,
            "render": {"service_id": SERVICE_ID, "api_key_env": "SBTOP_DEMO_RENDER_KEY",
                       "api_url": backend.url + "/v1"}}},
        "canary": {"soak": {"5": "3s", "25": "3s"}},
        "verify": STUDYBUDDY,
        "plan": {
            "preflight": [{"name": "All tests passing locally"},
                          {"name": "Baseline captured", "check": "baseline"}],
            "phases": [
                {"name": "Database indexes", "watch": "8s", "figures": ["error_rate_5xx_pct"],
                 "run": touch(ran)},
                {"name": "Prisma singleton", "watch": "3s", "rollback": touch(rolled)},
                {"name": "Optimized routes", "watch": "3s", "canary": True}]}}))
    env = {"SBTOP_DEMO_RENDER_KEY": API_KEY, "STUDYBUDDY_VERIFY_EMAIL": DEMO_EMAIL,
           "STUDYBUDDY_VERIFY_PASSWORD": DEMO_PASSWORD,
           "STUDYBUDDY_SESSION_COOKIE": DEMO_SESSION,
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    pane = Pane(f"{SBTOP} --config {cfg} --state-dir {tmp_path}; echo sbtop-exited-$?; "
                "sleep 30", size=(120, 40), env=env)
    try:
        pane.wait_for("PRE-FLIGHT 2 of 2 open")
        pane.keys("p")
        pane.wait_for("Deploy window")
        pane.keys("f")
        pane.wait_for("FAIL Baseline captured")
        pane.keys("Enter")  # the cursor is on the person's item
        pane.wait_for("ok   All tests passing locally")
        pane.wait_for("▶ FAIL Baseline captured")  # on to the next open item
        pane.keys("j")  # past it, to phase 1
        pane.wait_for("▶ 1 Database indexes")
        pane.keys("s")
        pane.wait_for("needs an override: pre-flight Baseline captured")
        pane.keys(*"tmux: the first step takes it", "Enter")
        pane.wait_for("left of 8s")  # the countdown, live
        assert ran.exists()
        pane.wait_for("ready to pass (P)", timeout=30)
        pane.keys("P")
        pane.wait_for("plan pass phase 1")
        pane.keys("y")
        pane.wait_for("▶ 2 Prisma singleton")  # the cursor follows the next phase
        pane.keys("s")
        pane.wait_for("plan start phase 2")
        pane.keys("y")
        pane.wait_for("b rolls it back: runs")
        pane.keys("b")
        pane.wait_for("plan rollback phase 2")
        pane.keys("y")
        pane.wait_for("ROLLED BACK")
        assert rolled.exists()
        pane.keys("s")
        pane.wait_for("plan start phase 2")
        pane.keys("y")
        pane.wait_for("ready to pass (P)", timeout=30)
        pane.keys("P")
        pane.wait_for("plan pass phase 2")
        pane.keys("y")
        pane.wait_for("▶ 3 Optimized routes")
        pane.keys("s")
        pane.wait_for("plan start phase 3")
        pane.keys("y")
        pane.wait_for("flag 0%")
        for step in (5, 25, 100):
            pane.wait_for(f"next {step}%: gate OPEN", timeout=60)
            pane.keys("c")
            pane.wait_for("canary next on target demo")
            pane.keys("y")
            pane.wait_for(f"flag {step}%", timeout=60)
        pane.wait_for("ready to pass (P)", timeout=30)
        pane.keys("P")
        pane.wait_for("plan pass phase 3")
        pane.keys("y")
        pane.wait_for("done: all 3 phases passed")
        pane.keys("Escape")
        pane.wait_for("PLAN done 3/3")
        pane.keys("v")
        pane.wait_for("11 passed, 0 failed", timeout=60)
        pane.keys("Escape")
        pane.wait_gone("11 passed, 0 failed")
        pane.keys("q")
        assert "sbtop-exited-0" in pane.wait_for("sbtop-exited-")
    finally:
        pane.close()
        backend.stop()


async def test_a_replay_shows_the_window_as_recorded_and_acts_on_nothing(
        tmp_path: Path) -> None:
    backend = SimulatedBackend(port=0, background=False).start()
    path = tmp_path / "window.sbrec"
    try:
        clock = ManualClock()
        wiring = demo_target(backend.url)
        recorder = Recorder(path, header(wiring.recording, 1.0, clock.now()[1]), 10**8)
        live = LiveSession(wiring, clock=clock, deploy=True, state_dir=tmp_path,
                           recorder=recorder)
        live.subscribe(lambda _u: None)
        await live.start()

        async def ticks(n: int) -> None:
            for _ in range(n):
                backend.advance(1.0)
                clock.advance(1.0)
                await live.tick()

        await ticks(3)
        assert live.actions is not None
        plan = live.actions.plan_prepare("start", "1")
        assert (await live.actions.plan_execute(plan, override="replay test: items open")).ok
        await ticks(10)
        live.close_recorder()
        await live.close()
    finally:
        backend.stop()
    app = ReplayApp(ReplaySession(Recording(path)))
    async with app.run_test(size=(120, 40)) as pilot:
        app.player.playing = False
        app.player.go_to(len(app.player.rec) - 1, rebuild=True)
        await pilot.pause()
        await pilot.press("p")
        assert isinstance(app.screen, PlanScreen)
        text = screen_text(app)
        assert "WATCHING" in text and "Database indexes" in text and "left of 1m" in text
        assert "P Pass" not in text and "b Roll back" not in text  # nothing acts here
        await pilot.press("P")
        await pilot.pause()
        assert any("nothing is acted on from a recording" in n for n in notifications(app))


async def test_production_needs_the_name_and_then_the_reason_typed(tmp_path: Path) -> None:
    h = Harness(production=True, state_dir=tmp_path, plan=demo_plan())
    try:
        async with h.app.run_test(size=(80, 24)) as pilot:
            await settle(h, pilot)
            await h.ticks(2, pilot)
            await pilot.press("p", *"j" * 8, "s")
            assert isinstance(h.app.screen, PhaseActionScreen)
            await pilot.press(*"wrong", "enter")  # not the name: no
            await settle(h, pilot)
            assert "PENDING" in screen_text(h.app) and "WATCHING" not in screen_text(h.app)
            await pilot.press("s", *"demo", "enter", *"pre-flight by hand today", "enter")
            await settle(h, pilot)
            assert "WATCHING" in screen_text(h.app)
            await pilot.press("escape")
            # The header's line comes after the level (a narrow screen cuts it first).
            top = screen_text(h.app).splitlines()[0]
            assert top.index("OK") < top.index("PLAN 1/5")
    finally:
        h.close()


async def test_quitting_while_a_phase_command_runs_asks_first(tmp_path: Path) -> None:
    started = tmp_path / "started"
    h = one_phase(tmp_path, run=[sys.executable, "-c",
                                 f"import time; open({str(started)!r}, 'w').close(); "
                                 "time.sleep(60)"])
    app = h.app
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(h, pilot)
            await pilot.press("p")
            assert "reading its record" in screen_text(app)  # before the first figures
            await h.ticks(2, pilot)
            await pilot.press("s", "y")
            await app_until(started.exists, pilot)
            # The view's head says what runs (redrawn each second while it does).
            await app_until(lambda: "RUNNING plan start phase 1 Prisma singleton"
                            in screen_text(app), pilot)
            # Single flight: no phase key acts (none in the footer); pressed, it says why.
            assert "b Roll back" not in screen_text(app) and "s Start" not in screen_text(app)
            await pilot.press("b")
            await pilot.pause()
            assert isinstance(app.screen, PlanScreen)
            assert any("plan start phase 1 Prisma singleton is still running" in n
                       for n in notifications(app))
            await pilot.press("q")  # in the view, q goes back to the panels
            await pilot.press("q")
            assert isinstance(app.screen, ConfirmScreen)
            assert "plan start phase 1 Prisma singleton is still running" in screen_text(app)
            await pilot.press("n")
            assert not isinstance(app.screen, ConfirmScreen)
    finally:
        h.close()


async def test_at_80x24_no_notification_covers_the_plan_view(demo: Harness) -> None:
    """The view fills the screen: a notice arriving while it is open waits until it closes
    (the pre-flight's own result is in the view)."""
    from textual.widgets._toast import Toast

    app = demo.app
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(demo, pilot)
        await demo.ticks(3, pilot)
        await pilot.press("p")
        assert isinstance(app.screen, PlanScreen)
        app.notify("a notice arriving while the view is open", timeout=30)
        await pilot.pause()
        assert [t for t in app.screen.query(Toast) if t.display] == []
        assert "a notice arriving" not in screen_text(app)
        assert "Database indexes" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, PlanScreen)


async def test_r_in_the_plan_view_starts_a_new_window_confirmed_the_old_record_archived(
        tmp_path: Path) -> None:
    h = one_phase(tmp_path)
    app = h.app
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(h, pilot)
            await h.ticks(2, pilot)
            await pilot.press("p")
            assert "New window" not in screen_text(app)  # nothing recorded: not offered
            await pilot.press("s", "y")
            await settle(h, pilot)
            await h.ticks(2, pilot)
            assert "WATCHING" in screen_text(app) and "New window" in screen_text(app)
            await pilot.press("R")
            assert isinstance(app.screen, PhaseActionScreen)
            assert "plan reset on target" in screen_text(app)
            await pilot.press("n")  # no: nothing changes
            await settle(h, pilot)
            assert "WATCHING" in screen_text(app)
            assert not list(tmp_path.glob("plan-*.*Z.json"))
            await pilot.press("R", "y")
            await settle(h, pilot)
            await h.ticks(1, pilot)
            assert "WATCHING" not in screen_text(app)
            assert len(list(tmp_path.glob("plan-*.*Z.json"))) == 1
            entries = audit(tmp_path)
            assert [e["result"] for e in entries if e["action"] == "plan reset"] == [
                "cancelled at the confirmation",
                f"a new deploy window: the old record archived as {entries[-1]['archived']}"]
    finally:
        h.close()


async def test_keys_typed_ahead_of_a_phase_confirmation_going_leave_the_plan_view_open(
        tmp_path: Path) -> None:
    """`y` then `n` reach the confirmation before it has gone (a fast typist, a paste): the
    first answer stands, and the second no longer pops the Plan view under it (the keys after
    it then landed on the panels, where `b` is the deploy's rollback)."""
    h = one_phase(tmp_path)
    app = h.app
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(h, pilot)
            await h.ticks(2, pilot)
            await pilot.press("p", "s")
            question = app.screen
            assert isinstance(question, PhaseActionScreen)
            for key in "yn":  # both queued at the question before it handles the first
                question.post_message(events.Key(key, key))
            await settle(h, pilot)
            assert isinstance(app.screen, PlanScreen)
            assert "WATCHING" in screen_text(app)
            assert [e["action"] for e in audit(tmp_path)] == ["plan start phase 1 Prisma singleton"]
    finally:
        h.close()


async def test_keys_typed_ahead_of_the_canary_phase_confirmation_leave_the_plan_view_open(
        tmp_path: Path) -> None:
    h = one_phase(tmp_path, name="Optimized routes", canary=True)
    app = h.app
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(h, pilot)
            await h.ticks(3, pilot)
            await pilot.press("p", "c")
            question = app.screen
            assert isinstance(question, ActionScreen)
            for key in "yn":
                question.post_message(events.Key(key, key))
            await app_until(lambda: h.backend.knobs.canary_percent == 5, pilot)
            await settle(h, pilot)
            assert isinstance(app.screen, PlanScreen)
    finally:
        h.close()


async def test_at_80_columns_the_rollback_at_hand_and_a_failing_items_detail_wrap_whole(
        demo: Harness) -> None:
    """Phase 1's rollback command names the SQL file it runs, and the failing baseline item says
    what to do: at 80 columns both were cut at the screen's edge ('--file infra/roll',
    'press B in th'). Each wraps at a word under itself: every word is on the screen."""
    app = demo.app
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(demo, pilot)
        await demo.ticks(3, pilot)
        await pilot.press("p", "f")
        await settle(demo, pilot)
        words = " ".join(screen_text(app).split())
        assert ("no baseline captured (press B in the console, or the first canary step "
                "takes one)") in words
        while app.screen.selected_phase() is None:  # type: ignore[attr-defined]
            await pilot.press("j")
        await pilot.press("s", *"tmux: items by hand", "enter")
        await settle(demo, pilot)
        await demo.ticks(1, pilot)
        text = screen_text(app)
        assert all(len(line) <= 80 for line in text.splitlines())
        words = " ".join(text.split())
        assert ("b rolls it back: runs echo demo: npx prisma db execute --file "
                "infra/rollback/drop_indexes.sql") in words
        assert "drops the indexes (DROP INDEX CONCURRENTLY IF EXISTS ...); then npx" in words


async def test_help_in_the_plan_view_says_the_views_keys_not_the_panels(
        demo: Harness) -> None:
    """In the view `b` rolls back the selected phase and `s` starts it; the panels' help said
    `b` rolls back the deploy and `s` sorts the routes. `?` shows the view's keys, whole at
    80x24; read-only leaves out the keys that act."""
    app = demo.app
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(demo, pilot)
        await demo.ticks(2, pilot)
        await pilot.press("p", "question_mark")
        await pilot.pause()
        text = screen_text(app)
        assert "Plan view keys" in text
        assert "roll the selected phase back" in text and "start the selected phase" in text
        assert "roll back to the last deploy that was live" not in text
        assert "routes: sort" not in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, PlanScreen)


async def test_read_only_the_plan_views_help_lists_no_key_that_acts(tmp_path: Path) -> None:
    h = Harness(production=False, plan=demo_plan(), read_only=True, state_dir=tmp_path)
    try:
        async with h.app.run_test(size=(80, 24)) as pilot:
            await settle(h, pilot)
            await h.ticks(2, pilot)
            await pilot.press("p", "question_mark")
            await pilot.pause()
            text = screen_text(h.app)
            assert "Plan view keys" in text and "show or hide the pre-flight items" in text
            assert "start the selected phase" not in text and "New window" not in text
            assert "a new deploy window" not in text
    finally:
        h.close()


async def test_b_on_the_failing_baseline_item_captures_it_and_the_item_turns_ok(
        demo: Harness) -> None:
    """The baseline item's detail says "press B"; in the view B did nothing (the panels'
    key, held while a view is open). On that item it is in the footer, captures the baseline
    (confirmed, as on the panels) and checks the items again."""
    app = demo.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(demo, pilot)
        await demo.ticks(5, pilot)
        await pilot.press("p", "f")
        await settle(demo, pilot)
        assert "FAIL Baseline captured" in screen_text(app)
        assert "B Baseline" not in screen_text(app)  # the cursor is elsewhere
        while app.screen.selected_item() != "Baseline captured":  # type: ignore[attr-defined]
            await pilot.press("j")
        assert "B Baseline" in screen_text(app)
        await pilot.press("B")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(demo, pilot)
        await app_until(lambda: "ok   Baseline captured" in screen_text(app), pilot)
        assert isinstance(app.screen, PlanScreen)


async def test_a_whole_deploy_window_driven_from_the_plan_view(tmp_path: Path) -> None:
    """One window from the keys alone, on the simulated backend and a manual clock: the
    pre-flight checked (the baseline item fails) and a person's item confirmed; phase 1
    started over the failing item with a typed override, its run command run, watched to the
    end of its minute and passed; phase 2 rolled back by its command, started again, passed;
    phase 3's canary stepped up its ladder with the canary's own key and gate to the top, then
    passed; the header says the window is done; the post-deployment checklist run (v)."""
    from sbtop.checklist import STUDYBUDDY
    from sbtop.console.screens.verify import VerifyScreen
    from sbtop.demo.app_api import DEMO_EMAIL, DEMO_PASSWORD, DEMO_SESSION

    ran, rolled = tmp_path / "ran", tmp_path / "rolled-back"

    def touch(path: Path) -> list[str]:
        return [sys.executable, "-c", f"open({str(path)!r}, 'a').write('x')"]

    plan = {
        "preflight": [{"name": "All tests passing locally"},
                      {"name": "Baseline captured", "check": "baseline"}],
        "phases": [
            {"name": "Database indexes", "watch": "1m", "figures": ["error_rate_5xx_pct"],
             "run": touch(ran)},
            {"name": "Prisma singleton", "watch": "1m", "rollback": touch(rolled)},
            {"name": "Optimized routes", "watch": "1m", "canary": True}]}
    h = Harness(production=False, state_dir=tmp_path, plan=plan,
                canary=config.CanaryConfig(soak={"5": "20s", "25": "20s"}))
    h.backend.set(rps=100)
    checklist = config.resolve(
        msgspec.structs.replace(config.parse({"verify": STUDYBUDDY}), targets={
            "demo": config.TargetConfig(base_url=h.backend.url)}),
        probe_env={"STUDYBUDDY_VERIFY_EMAIL": DEMO_EMAIL,
                   "STUDYBUDDY_VERIFY_PASSWORD": DEMO_PASSWORD,
                   "STUDYBUDDY_SESSION_COOKIE": DEMO_SESSION}).verify
    h.session.wiring = dataclasses.replace(h.session.wiring, verify=checklist)
    app = h.app

    async def answer(*keys: str) -> None:
        await pilot.press(*keys)
        await settle(h, pilot)

    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(h, pilot)
            await h.ticks(3, pilot)
            await answer("p", "f")  # pre-flight: the live item checked
            assert "FAIL Baseline captured" in screen_text(app)
            await answer("enter")  # the person's item, under the cursor
            assert "ok   All tests passing locally" in screen_text(app)
            assert "PRE-FLIGHT 1 item failing" not in screen_text(app)  # the view, not header

            # Phase 1: over the failing item, typed; its command runs; watched; passed.
            while app.screen.selected_phase() is None:  # type: ignore[attr-defined]
                await pilot.press("j")
            await pilot.press("s")
            assert isinstance(app.screen, PhaseActionScreen) and app.screen.plan.needs_override
            await answer(*"the first canary step takes it", "enter")
            assert ran.exists()
            await h.ticks(1, pilot, seconds=30)
            assert "30s left of 1m" in screen_text(app) and "ok   now 5xx" in screen_text(app)
            await h.ticks(1, pilot, seconds=30)
            assert "ready to pass (P)" in screen_text(app)
            await answer("P", "y")
            assert "PASSED" in screen_text(app)

            # Phase 2: the cursor followed to it; started, rolled back by its command.
            await answer("s", "y")
            await h.ticks(2, pilot, seconds=5)
            assert "b rolls it back: runs" in screen_text(app)
            await answer("b", "y")
            assert rolled.exists() and "ROLLED BACK" in screen_text(app)
            await answer("s", "y")
            await h.ticks(2, pilot, seconds=30)
            await answer("P", "y")

            # Phase 3: the canary ladder, stepped by its own key through its gate.
            await answer("s", "y")
            await h.ticks(2, pilot)
            assert "flag 0%" in screen_text(app) and "FAILING" not in screen_text(app)
            for step in (5, 25, 100):
                await pilot.press("c")
                assert isinstance(app.screen, ActionScreen) and not app.screen.typed
                await answer("y")
                await app_until(lambda s=step: h.backend.knobs.canary_percent == s, pilot)
                await h.ticks(5, pilot, seconds=5)  # the step soaks (20 s here)
            assert "flag 100%" in screen_text(app)
            await h.ticks(3, pilot, seconds=20)
            assert "ready to pass (P)" in screen_text(app)
            await answer("P", "y")
            await answer("escape")
            assert "PLAN done 3/3" in screen_text(app)

            await pilot.press("v")  # the post-deployment checklist
            assert isinstance(app.screen, VerifyScreen)
            await app.screen.workers.wait_for_complete()
            await pilot.pause()
            assert "11 passed, 0 failed" in screen_text(app)
            done = [e["action"] for e in audit(tmp_path) if e.get("ok")]
            assert done.count("canary next") == 3, done
            assert "plan rollback phase 2 Prisma singleton" in done
            assert done[-1] == "plan pass phase 3 Optimized routes"
    finally:
        h.close()


async def test_the_watch_countdown_moves_each_second_between_slower_ticks(
        tmp_path: Path) -> None:
    """At a 10 s refresh (or a target that hangs a tick) the countdown stood still between
    ticks, then jumped: '57s left' for ten seconds. The session's check each second (the
    data's freshness) shows the window again while a watch counts down and its last look is a
    second old; at the 1 s refresh a tick has done so already."""
    h = one_phase(tmp_path)
    app = h.app
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(h, pilot)
            h.session.set_refresh(10.0)
            await h.ticks(2, pilot)
            await pilot.press("p", "s", "y")
            await settle(h, pilot)
            await h.ticks(1, pilot)
            assert "59s left of 1m" in screen_text(app)
            for left in (56, 53):
                h.clock.advance(3.0)  # no tick: the next is seconds away
                h.session.check_freshness()
                await pilot.pause()
                assert f"{left}s left of 1m" in screen_text(app), left
                assert f"watching: {left}s left" in screen_text(app)  # the view's head
            await pilot.press("escape")
            h.clock.advance(3.0)
            h.session.check_freshness()
            await pilot.pause()
            assert "watching 50s left" in screen_text(app)  # the header's line
    finally:
        h.close()
