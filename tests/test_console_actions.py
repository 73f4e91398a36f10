"""The deploy keys in the console: the plan first, cancel by default, the target's name typed
for production or an override, read-only, single flight; against the Render-shaped API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sbtop.actions.audit import AuditLog
from sbtop.console.screens.action import ActionScreen
from sbtop.console.screens.actions_log import ActionLogScreen
from sbtop.console.screens.confirm import ConfirmScreen
from tests.console_harness import Harness, notifications, screen_text
from tests.waiting import app_until

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow


async def settle(h: Harness, pilot: object) -> None:
    await h.app.workers.wait_for_complete()
    await pilot.pause()  # type: ignore[attr-defined]


@pytest.fixture
async def staging(tmp_path: Path) -> AsyncIterator[Harness]:
    h = Harness(production=False, state_dir=tmp_path)
    h.backend.set(rps=100)
    try:
        yield h
    finally:
        h.close()


def audit(tmp_path: Path) -> list[dict[str, object]]:
    return AuditLog(tmp_path / "audit.jsonl").read()


async def test_c_shows_the_plan_and_no_cancels_sending_nothing(staging: Harness,
                                                              tmp_path: Path) -> None:
    app = staging.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(staging, pilot)
        await staging.ticks(3, pilot)
        assert "flag 0%" in screen_text(app)
        calls = len(staging.backend.render.calls)
        await pilot.press("c")
        assert isinstance(app.screen, ActionScreen)
        text = screen_text(app)
        assert "canary next on target demo via render" in text and "env-vars" in text
        await pilot.press("n")
        await settle(staging, pilot)
        assert not isinstance(app.screen, ActionScreen)
        assert len(staging.backend.render.calls) == calls
        assert audit(tmp_path)[-1]["result"] == "cancelled at the confirmation"


async def test_y_steps_the_canary_and_the_panel_and_header_follow(staging: Harness,
                                                                 tmp_path: Path) -> None:
    app = staging.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(staging, pilot)
        await staging.ticks(3, pilot)
        await pilot.press("c", "y")
        await settle(staging, pilot)
        assert staging.backend.knobs.canary_percent == 5
        await staging.ticks(1, pilot)
        text = screen_text(app)
        assert "canary 5%" in text and "flag 5%" in text and "soak" in text
        assert staging.session.history.markers[-1].label == "canary next"
        await pilot.press("a")
        assert isinstance(app.screen, ActionLogScreen)
        assert "canary next" in screen_text(app)


async def test_a_shut_gate_needs_the_name_typed_and_is_recorded_as_an_override(
        staging: Harness, tmp_path: Path) -> None:
    app = staging.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(staging, pilot)
        await staging.ticks(3, pilot)
        await pilot.press("c", "y")
        await settle(staging, pilot)
        await staging.ticks(1, pilot)
        assert "gate SHUT" in screen_text(app)  # 30 min soak at 5 %
        await pilot.press("c")
        assert isinstance(app.screen, ActionScreen) and app.screen.typed
        assert "override" in screen_text(app)
        await pilot.press("y")  # a y is not the name: nothing happens
        await pilot.press(*"wrong", "enter")
        await settle(staging, pilot)
        assert staging.backend.knobs.canary_percent == 5
        await pilot.press("c", *"demo", "enter")
        await settle(staging, pilot)
        assert staging.backend.knobs.canary_percent == 25
        assert audit(tmp_path)[-1]["override"] is True


async def test_production_needs_the_name_typed(tmp_path: Path) -> None:
    h = Harness(production=True, state_dir=tmp_path)
    try:
        async with h.app.run_test(size=(120, 40)) as pilot:
            await settle(h, pilot)
            await pilot.press("r")
            assert isinstance(h.app.screen, ActionScreen) and h.app.screen.typed
            assert "PRODUCTION" in screen_text(h.app)
            await pilot.press("escape")
            await settle(h, pilot)
            assert h.backend.restarts == 0
            await pilot.press("r", *"demo", "enter")
            await settle(h, pilot)
            assert h.backend.restarts == 1
    finally:
        h.close()


async def test_a_second_action_while_one_runs_is_refused(staging: Harness) -> None:
    staging.backend.render.build_s = 2.0
    app = staging.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(staging, pilot)
        await staging.ticks(3, pilot)
        await pilot.press("c", "y")
        # The step under way (the controller holds it), not a guess at how long that takes.
        await app_until(lambda: staging.session.actions.busy == "canary next", pilot)
        await pilot.press("r")
        await pilot.pause()
        assert not isinstance(app.screen, ActionScreen)
        assert any("canary next is still running" in m
                   for m in notifications(app))
        await settle(staging, pilot)
        assert staging.backend.restarts == 0 and staging.backend.knobs.canary_percent == 5


async def test_read_only_shows_the_canary_and_its_gate_and_the_deploy_keys_say_read_only(
        tmp_path: Path) -> None:
    from sbtop.actions.state import CanaryState, StateStore, TargetState

    h = Harness(production=False, state_dir=tmp_path, read_only=True)
    # What the deploying sbtop keeps: the canary at 5 % for a minute, its baseline taken.
    StateStore(tmp_path, "demo").save(TargetState(canary=CanaryState(
        percent=5, step_started_wall=h.clock.now()[1] - 60, baseline={"latency_p95_ms": 200.0})))
    h.backend.set(rps=100)
    try:
        async with h.app.run_test(size=(120, 40)) as pilot:
            await h.ticks(3, pilot)
            text = screen_text(h.app)
            assert "flag 5%" in text and "gate SHUT" in text and "soak" in text
            assert "read-only" in text  # the panel says where the step comes from
            footer = text.splitlines()[-1]
            assert "Canary" not in footer and "Restart" not in footer and "Help" in footer
            await pilot.press("c", "r", "b", "0", "B")
            await pilot.pause()
            assert not isinstance(h.app.screen, (ActionScreen, ConfirmScreen))
            said = [m for m in notifications(h.app) if "read-only: actions are off" in m]
            assert len(said) == 5
            assert h.backend.restarts == 0 and h.backend.render.calls == []
            # The deploying sbtop's action log, read.
            AuditLog(tmp_path / "audit.jsonl").append({
                "target": "demo", "action": "restart", "params": {}, "result": "done by ann"})
            await pilot.press("a")
            await pilot.pause()
            assert isinstance(h.app.screen, ActionLogScreen)
            assert "done by ann" in screen_text(h.app)
    finally:
        h.close()


async def test_read_only_without_a_state_file_says_so_and_makes_no_directory(
        tmp_path: Path) -> None:
    # Read-only never asks the provider: "reading the flag from the provider" (or "until the
    # flag is read") promised what would never happen; and a look made the directory.
    state_dir = tmp_path / "nobody-deployed-yet"
    h = Harness(production=False, state_dir=state_dir, read_only=True)
    h.backend.set(rps=100)
    try:
        async with h.app.run_test(size=(120, 40)) as pilot:
            await h.ticks(3, pilot)
            text = screen_text(h.app)
            assert "no state file from a deploying sbtop" in text, text
            assert "from the provider" not in text and "until the flag is read" not in text
            assert not state_dir.exists()
    finally:
        h.close()


async def test_the_bad_canary_scenario_turns_the_gate_red_and_a_rollback_recovers(
        tmp_path: Path) -> None:
    h = Harness(production=False, state_dir=tmp_path)
    h.backend.set(rps=200, canary_regresses_at=25)  # `sbtop demo --scenario bad-canary`
    app = h.app
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(h, pilot)
            await h.ticks(13, pilot, seconds=5.0)
            await pilot.press("c", "y")
            await settle(h, pilot)
            await h.ticks(13, pilot, seconds=5.0)
            session = h.session
            gate = session.gate()
            assert gate is not None and gate.failing[0].name == "soak"  # 5 % is fine otherwise
            await pilot.press("c", *"demo", "enter")  # step to 25 % as an override
            await settle(h, pilot)
            assert h.backend.knobs.canary_percent == 25
            await h.ticks(13, pilot, seconds=5.0)
            gate = session.gate()
            assert gate is not None and {"5xx", "p95"} <= {c.name for c in gate.failing}
            text = screen_text(app)
            assert "FAIL 5xx" in text and "FAIL p95" in text
            await pilot.press("b", "y")
            await settle(h, pilot)
            # Back to the deploy that was live before: the 5 % one, which was healthy.
            assert h.backend.knobs.canary_percent == 5
            await h.ticks(13, pilot, seconds=5.0)
            gate = session.gate()
            assert gate is not None
            failing = {c.name for c in gate.failing}
            assert "5xx" not in failing and "p95" not in failing
    finally:
        h.close()


async def test_q_while_an_action_runs_asks_and_quitting_records_it_as_interrupted(
        staging: Harness, tmp_path: Path) -> None:
    staging.backend.render.build_s = 5.0
    app = staging.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(staging, pilot)
        await staging.ticks(3, pilot)
        await pilot.press("c", "y")
        # The step under way (the controller holds it), not a guess at how long that takes.
        await app_until(lambda: staging.session.actions.busy == "canary next", pilot)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "canary next is still running" in screen_text(app)
        await pilot.press("n")  # the default: stay
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen) and app.is_running
        await pilot.press("q", "y")
        await pilot.pause(0.5)
    assert audit(tmp_path)[-1]["result"].startswith("interrupted")
    controller = staging.session.actions.controller
    assert controller is not None and controller.store.load().in_flight is None


async def test_an_unreadable_flag_is_said_and_no_next_step_is_promised(staging: Harness) -> None:
    from sbtop.demo.render_api import Failure

    app = staging.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(staging, pilot)
        await staging.ticks(2, pilot)
        staging.backend.render.fail_next(Failure(503, "maintenance", only="/env-vars"))
        app._read_flag()  # what the session does every 30 s
        await settle(staging, pilot)
        await staging.ticks(1, pilot)
        text = screen_text(app)
        assert "flag unknown" in text and "flag not read" in text and "503" in text
        assert "top of the ladder" not in text


async def test_b_captures_the_baseline_again_only_when_confirmed_and_overrides_in_a_canary(
        staging: Harness, tmp_path: Path) -> None:
    app = staging.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(staging, pilot)
        await staging.ticks(3, pilot)
        await pilot.press("c", "y")  # the first step captures the baseline
        await settle(staging, pilot)
        await staging.ticks(1, pilot)
        controller = staging.session.actions.controller
        assert controller is not None
        before = dict(controller.state.canary.baseline)
        assert before
        await pilot.press("B")
        assert isinstance(app.screen, ConfirmScreen)
        text = screen_text(app)
        # What it replaces, and why it is an override at 5 %.
        assert "the baseline now: p95" in text and "The canary is at 5 %" in text
        await pilot.press("n")
        await settle(staging, pilot)
        assert controller.state.canary.baseline == before
        await pilot.press("B", "y")
        await settle(staging, pilot)
        last = audit(tmp_path)[-1]
        assert last["action"] == "canary baseline" and last["override"] is True
        assert last["result"] == "captured"


# --- keys and dialogs (issue 18) -------------------------------------------------------------


@pytest.mark.parametrize("key", ["c", "B"])
async def test_enter_on_a_dialog_answers_no_and_goes_no_further(staging: Harness,
                                                                key: str) -> None:
    from sbtop.console.screens.chart import ChartScreen

    app = staging.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(staging, pilot)
        await staging.ticks(3, pilot)
        await pilot.press(key)
        await settle(staging, pilot)
        assert isinstance(app.screen, (ActionScreen, ConfirmScreen))
        await pilot.press("enter")
        await settle(staging, pilot)
        # Answered (no), and the panel focused behind did not open its chart.
        assert len(app.screen_stack) == 1 and not isinstance(app.screen, ChartScreen)
        assert not any("no history chart" in m for m in notifications(app))
        assert staging.backend.knobs.canary_percent == 0


@pytest.mark.parametrize("key", ["question_mark", "a", "v"])
async def test_keys_on_a_view_stay_in_it(staging: Harness, key: str) -> None:
    app = staging.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(staging, pilot)
        await staging.ticks(3, pilot)
        await pilot.press(key)
        await pilot.pause()
        view = app.screen
        theme = app.theme
        calls = len(staging.backend.render.calls)
        await pilot.press("enter", "c", "r", "b", "0", "B", "space", "s")
        await settle(staging, pilot)
        assert app.screen is view and len(app.screen_stack) == 2
        assert not app.paused and app.theme == theme
        assert len(staging.backend.render.calls) == calls and staging.backend.restarts == 0


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_footer_shows_the_deploy_keys_that_can_act(
        staging: Harness, size: tuple[int, int]) -> None:
    # Whole at 80 columns too (it was cut at "v V"), with the routes panel focused as well.
    from sbtop.console.widgets.routes import RoutesPanel

    app = staging.app
    async with app.run_test(size=size) as pilot:
        await settle(staging, pilot)
        for focus in (False, True):
            if focus:
                app.query_one(RoutesPanel).focus()
                await pilot.pause()
            footer = screen_text(app).splitlines()[-1]
            for item in ("q Quit", "? Help", "c Canary", "0 Abort", "r Restart", "b Rollback",
                         "B Baseline", "v Verify"):
                assert item in footer, (item, footer)


async def test_ctrl_c_while_an_action_runs_asks_and_a_second_ctrl_c_quits(
        staging: Harness, tmp_path: Path) -> None:
    staging.backend.render.build_s = 5.0
    app = staging.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(staging, pilot)
        await staging.ticks(3, pilot)
        await pilot.press("c", "y")
        await app_until(lambda: staging.session.actions.busy == "canary next", pilot)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and app.is_running
        assert "canary next is still running" in screen_text(app)
        await pilot.press("ctrl+c")
        await pilot.pause(0.5)
    assert not app.is_running
    assert audit(tmp_path)[-1]["result"].startswith("interrupted")


async def test_the_quit_question_goes_away_when_the_action_it_was_about_ends(
        staging: Harness) -> None:
    # It said "restart is still running ... recorded as interrupted" long after the action
    # had finished.
    staging.backend.render.build_s = 1.0
    app = staging.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(staging, pilot)
        await staging.ticks(3, pilot)
        await pilot.press("c", "y")
        await app_until(lambda: staging.session.actions.busy == "canary next", pilot)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await settle(staging, pilot)  # the step ends
        await app_until(lambda: not isinstance(app.screen, ConfirmScreen), pilot)
        assert app.is_running and "still running" not in screen_text(app)


async def test_the_header_says_which_action_runs_and_for_how_long(staging: Harness) -> None:
    from sbtop.console.widgets.panel import Line

    staging.backend.render.build_s = 1.5
    app = staging.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(staging, pilot)
        await staging.ticks(3, pilot)
        assert "ACTION" not in screen_text(app)
        await pilot.press("c", "y")
        await app_until(lambda: staging.session.actions.busy == "canary next", pilot)
        await pilot.pause()
        assert "ACTION: canary next running" in screen_text(app).splitlines()[0]
        await settle(staging, pilot)
        assert staging.backend.knobs.canary_percent == 5
        assert "ACTION" not in screen_text(app)
        assert app.query_one("#hd-action", Line).text == ""


async def test_at_80x24_the_override_dialog_is_whole_and_no_notification_covers_it(
        staging: Harness) -> None:
    from textual.containers import VerticalScroll
    from textual.widgets import Input
    from textual.widgets._toast import Toast

    app = staging.app
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(staging, pilot)
        await staging.ticks(3, pilot)
        await pilot.press("c", "y")
        await settle(staging, pilot)
        await staging.ticks(1, pilot)
        await pilot.press("c")
        await settle(staging, pilot)
        assert isinstance(app.screen, ActionScreen) and app.screen.typed
        app.notify("a notice arriving while the question is open", timeout=30)
        await pilot.pause()
        text = screen_text(app)
        # The whole plan on the screen, the gate line to its end, without scrolling.
        assert app.screen.query_one(VerticalScroll).max_scroll_y == 0
        assert "db: no database" in text and "Type the target's name" in text
        prompt = app.screen.query_one(Input).region
        shown = [t for t in app.screen.query(Toast) if t.display and t.region.overlaps(prompt)]
        assert shown == []


async def test_the_action_log_has_one_row_per_action_with_its_result(
        staging: Harness) -> None:
    app = staging.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(staging, pilot)
        await staging.ticks(3, pilot)
        await pilot.press("c", "y")
        await settle(staging, pilot)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ActionLogScreen)
        text = screen_text(app)
        steps = [ln for ln in text.splitlines() if "canary next" in ln]
        assert len(steps) == 1, steps  # 'started' and its result: one row
        assert "0 → 5 %" in steps[0] and "live" in steps[0]
        # The baseline taken before the first step, its figures rounded.
        base = next(ln for ln in text.splitlines() if "canary baseline" in ln)
        assert " ms" in base and ".25 ms" not in base and "p95 " in base


def test_action_log_rows_fold_a_started_line_into_its_result() -> None:
    from sbtop.console.screens.actions_log import rows

    entries = [
        {"time": "2026-12-06T22:23:01Z", "user": "ann", "target": "demo",
         "action": "canary baseline", "result": "captured",
         "params": {"latency_p95_ms": 231.25, "error_rate_5xx_pct": 0.0}},
        {"time": "2026-12-06T22:23:01Z", "user": "ann", "target": "demo",
         "action": "canary next", "params": {"flag": "F", "percent": 5, "from": 0},
         "override": True, "result": "started"},
        {"time": "2026-12-06T22:23:09Z", "user": "ann", "target": "demo",
         "action": "canary next", "params": {"flag": "F", "percent": 5, "from": 0},
         "override": True, "result": "F=5: deploy dep-2 live", "ok": True, "duration_s": 8.2},
        {"time": "2026-12-06T22:30:00Z", "user": "bob", "target": "demo", "action": "restart",
         "params": {}, "result": "started"},
    ]
    got = rows(entries)
    assert [(r.time, r.action, r.params, r.took, r.result) for r in got] == [
        ("12-06 22:23:01", "canary baseline", "p95 231 ms, 5xx 0.00 %", "", "captured"),
        ("12-06 22:23:01", "canary next", "0 → 5 %", "8s", "OVERRIDE deploy dep-2 live"),
        ("12-06 22:30:00", "restart", "", "", "started; no result recorded (sbtop stopped?)"),
    ]


async def test_at_80x24_the_canary_panel_shows_every_gate_criterion_whole(
        staging: Harness) -> None:
    # The gate's line was cut at 80 columns ("(baseline 222 +"): what does not fit goes on a
    # second line, each criterion whole.
    app = staging.app
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(staging, pilot)
        await staging.ticks(3, pilot)
        await pilot.press("c", "y")
        await settle(staging, pilot)
        await staging.ticks(2, pilot)
        text = screen_text(app)
        rows = [r.strip("│║ ") for r in text.splitlines()]
        shown = " ".join(rows)
        assert "must be <=" in shown and "(baseline" in shown, text
        assert "+10%)" in shown, text  # the p95 criterion to its end
