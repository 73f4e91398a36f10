"""The actions layer against the Render-shaped control plane of the simulated backend: plans,
the gate, overrides, single flight, the lock, dry runs, the audit log, resuming after a stop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sbtop.actions.audit import AuditLog
from sbtop.actions.controller import Controller
from sbtop.actions.providers import ActionError, RenderProvider
from sbtop.actions.render import RenderSettings
from sbtop.actions.requests import Params
from sbtop.actions.state import StateStore
from sbtop.clock import ManualClock
from sbtop.demo.backend import SimulatedBackend
from sbtop.demo.render_api import API_KEY, SERVICE_ID, Failure
from sbtop.engine.figures import Figure
from sbtop.engine.gate import GateSettings
from sbtop.engine.levels import Level
from tests.control_plane import serving

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow


def figures(e5: float = 0.2, p95: float = 200.0) -> dict[str, Figure]:
    return {"error_rate_5xx_pct": Figure("error_rate_5xx_pct", e5, Level.OK, "%"),
            "latency_p95_ms": Figure("latency_p95_ms", p95, Level.OK, "ms")}


@pytest.fixture
def backend() -> Iterator[SimulatedBackend]:
    with serving(None, 0.05, 0.05, background=False) as b:
        yield b


def controller(b: SimulatedBackend, state_dir: Path, clock: ManualClock) -> Controller:
    provider = RenderProvider(RenderSettings(b.render_url, SERVICE_ID, API_KEY,
                                             poll_every_s=0.02))
    return Controller("production", True, provider, StateStore(state_dir, "production"),
                      AuditLog(state_dir / "audit.jsonl"), GateSettings(),
                      "PERF_OPTIMIZATIONS_ENABLED", clock)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_the_first_step_captures_the_baseline_then_steps_to_5(backend: SimulatedBackend,
                                                               tmp_path: Path) -> None:
    clock = ManualClock()
    c = controller(backend, tmp_path, clock)
    run(c.refresh())
    assert c.state.canary.percent == 0
    plan = c.plan("canary next", figures())
    assert plan.params == Params(flag="PERF_OPTIMIZATIONS_ENABLED", percent=5, from_percent=0)
    assert plan.params.shown() == {"flag": "PERF_OPTIMIZATIONS_ENABLED", "percent": 5, "from": 0}
    assert c.state.canary.baseline == {}  # planning changes nothing
    assert plan.gate is not None and plan.gate.open and not plan.needs_override
    text = "\n".join(plan.describe())
    assert "PRODUCTION" in text and "PUT " in text
    assert "/env-vars/PERF_OPTIMIZATIONS_ENABLED" in text
    outcome = run(c.execute(plan, figures=figures()))
    assert outcome.ok, outcome.text
    assert backend.knobs.canary_percent == 5
    assert c.state.canary.baseline["latency_p95_ms"] == 200.0
    assert c.state.canary.percent == 5 and c.state.canary.step_started_wall == clock.wall
    log = AuditLog(tmp_path / "audit.jsonl").read()
    assert [e["result"].split(":")[0] for e in log] == ["captured", "started",
                                                        "PERF_OPTIMIZATIONS_ENABLED=5"]
    assert log[-1]["ok"] is True and log[-1]["override"] is False and "duration_s" in log[-1]


def test_an_unfinished_soak_refuses_the_next_step_and_sends_nothing(
        backend: SimulatedBackend, tmp_path: Path) -> None:
    clock = ManualClock()
    c = controller(backend, tmp_path, clock)
    run(c.refresh())
    assert run(c.execute(c.plan("canary next", figures()))).ok
    clock.advance(600)  # 10 of the 30 soak minutes
    calls = len(backend.render.calls)
    plan = c.plan("canary next", figures())
    assert plan.needs_override and plan.params.percent == 25
    outcome = run(c.execute(plan))
    assert outcome.refused and "soak 30m00s: 20m00s left" in outcome.text
    assert len(backend.render.calls) == calls  # nothing sent
    assert backend.knobs.canary_percent == 5
    forced = run(c.execute(plan, override=True))
    assert forced.ok and backend.knobs.canary_percent == 25
    log = AuditLog(tmp_path / "audit.jsonl").read()
    assert log[-1]["override"] is True and any(e.get("refused") for e in log)


def test_a_regression_shuts_the_gate_even_after_the_soak(backend: SimulatedBackend,
                                                         tmp_path: Path) -> None:
    clock = ManualClock()
    c = controller(backend, tmp_path, clock)
    run(c.refresh())
    run(c.execute(c.plan("canary next", figures(p95=200.0)), figures=figures(p95=200.0)))
    clock.advance(1800)
    plan = c.plan("canary next", figures(p95=240.0, e5=1.5))
    failing = {cr.name for cr in plan.gate.failing}  # type: ignore[union-attr]
    assert failing == {"5xx", "p95"}
    assert run(c.execute(plan)).refused


def test_abort_turns_the_flag_off_without_a_gate(backend: SimulatedBackend,
                                                 tmp_path: Path) -> None:
    c = controller(backend, tmp_path, ManualClock())
    run(c.refresh())
    run(c.execute(c.plan("canary next", figures())))
    plan = c.plan("canary abort", figures(e5=50.0))
    assert plan.gate is None and not plan.needs_override
    assert run(c.execute(plan)).ok and backend.knobs.canary_percent == 0


def test_dry_run_sends_nothing_and_is_recorded(backend: SimulatedBackend, tmp_path: Path) -> None:
    c = controller(backend, tmp_path, ManualClock())
    calls = len(backend.render.calls)
    outcome = run(c.execute(c.plan("restart"), dry_run=True))
    assert outcome.ok and "nothing was sent" in outcome.text
    assert len(backend.render.calls) == calls and backend.restarts == 0
    assert AuditLog(tmp_path / "audit.jsonl").read()[-1]["dry_run"] is True


def test_a_second_action_while_one_runs_is_refused(backend: SimulatedBackend,
                                                   tmp_path: Path) -> None:
    backend.render.build_s = 0.5
    c = controller(backend, tmp_path, ManualClock())

    async def both() -> tuple[Any, Any]:
        await c.refresh()
        first = asyncio.create_task(c.execute(c.plan("canary next", figures())))
        await asyncio.sleep(0.1)
        second = await c.execute(c.plan("restart"))
        return await first, second

    first, second = run(both())
    assert first.ok
    assert second.refused and "canary next is still running" in second.text
    assert backend.restarts == 0


def test_another_sbtop_holding_the_lock_is_named(backend: SimulatedBackend,
                                                 tmp_path: Path) -> None:
    c = controller(backend, tmp_path, ManualClock())
    other = StateStore(tmp_path, "production")
    with other.locked("rollback"):
        outcome = run(c.execute(c.plan("restart")))
    assert outcome.refused and '"action": "rollback"' in outcome.text
    assert backend.restarts == 0


def test_after_a_stop_the_soak_clock_continues_and_an_interrupted_action_is_not_resent(
        backend: SimulatedBackend, tmp_path: Path) -> None:
    clock = ManualClock()
    c = controller(backend, tmp_path, clock)
    run(c.refresh())
    run(c.execute(c.plan("canary next", figures())))
    # sbtop dies in the middle of the next action: its in-flight record stays behind.
    state = c.store.load()
    state.in_flight = {"action": "canary next", "params": {"percent": 25},
                       "started_wall": clock.wall}
    c.store.save(state)
    clock.advance(900)
    again = controller(backend, tmp_path, clock)  # a new sbtop after the SSH drop
    note = again.recover()
    assert note is not None and "interrupted" in note
    assert again.recover() is None  # recorded once
    run(again.refresh())
    gate = again.gate(figures())
    assert gate.percent == 5 and gate.soak_left_s == 900  # 30 min soak, 15 min gone
    assert backend.knobs.canary_percent == 5  # the interrupted step was not sent again
    log = AuditLog(tmp_path / "audit.jsonl").read()
    assert log[-1]["result"].startswith("interrupted")


def test_the_top_of_the_ladder_cannot_step_further(backend: SimulatedBackend,
                                                   tmp_path: Path) -> None:
    c = controller(backend, tmp_path, ManualClock())
    run(c.refresh())
    run(c.execute(c.plan("canary set", figures(), percent=100), override=True))
    with pytest.raises(ActionError, match="top step"):
        c.plan("canary next", figures())


def test_a_failed_deploy_puts_the_flag_back_and_the_step_stays(backend: SimulatedBackend,
                                                               tmp_path: Path) -> None:
    c = controller(backend, tmp_path, ManualClock())
    run(c.refresh())
    backend.render.fail_next(Failure(500, "build machine lost", only="/deploys"))
    outcome = run(c.execute(c.plan("canary next", figures()), figures=figures()))
    assert not outcome.ok and "put back to 0" in outcome.text
    assert backend.render.env["PERF_OPTIMIZATIONS_ENABLED"] == "0"
    assert c.state.canary.percent == 0 and c.state.in_flight is None
    assert AuditLog(tmp_path / "audit.jsonl").read()[-1]["result"].startswith("failed: ")


def test_a_plan_made_before_another_sbtop_stepped_is_refused(backend: SimulatedBackend,
                                                             tmp_path: Path) -> None:
    c = controller(backend, tmp_path / "here", ManualClock())
    other = controller(backend, tmp_path / "there", ManualClock())
    run(c.refresh())
    run(other.refresh())
    plan = c.plan("canary next", figures())  # 0 -> 5
    assert run(other.execute(other.plan("canary set", figures(), percent=25),
                             override=True)).ok
    outcome = run(c.execute(plan, figures=figures()))
    assert outcome.refused and "at 25 % now, not 0 %" in outcome.text
    assert backend.knobs.canary_percent == 25


def test_a_gate_that_shut_after_the_plan_was_shown_refuses(backend: SimulatedBackend,
                                                           tmp_path: Path) -> None:
    clock = ManualClock()
    c = controller(backend, tmp_path, clock)
    run(c.refresh())
    run(c.execute(c.plan("canary next", figures()), figures=figures()))
    clock.advance(1800)
    plan = c.plan("canary next", figures())
    assert not plan.needs_override
    outcome = run(c.execute(plan, figures=figures(e5=3.0)))  # errors rose while it was shown
    assert outcome.refused and "shut since the plan was shown" in outcome.text
    assert backend.knobs.canary_percent == 5


def test_a_second_rollback_goes_further_back_not_forward_again(backend: SimulatedBackend,
                                                               tmp_path: Path) -> None:
    c = controller(backend, tmp_path, ManualClock())
    run(c.refresh())
    run(c.execute(c.plan("canary set", figures(), percent=5), override=True))  # dep-0002
    run(c.execute(c.plan("canary set", figures(), percent=25), override=True))  # dep-0003
    first = run(c.prepare("rollback"))
    assert first.params.target is not None and first.params.target.id == "dep-0002"
    assert "dep-0002" in "\n".join(first.describe())
    assert run(c.execute(first)).ok
    assert backend.knobs.canary_percent == 5
    second = run(c.prepare("rollback"))
    # Not dep-0003, the one just left.
    assert second.params.target is not None and second.params.target.id == "dep-0001"
    assert run(c.execute(second)).ok
    assert backend.knobs.canary_percent == 0


def test_a_rollback_target_that_changed_since_the_plan_is_refused(backend: SimulatedBackend,
                                                                  tmp_path: Path) -> None:
    c = controller(backend, tmp_path, ManualClock())
    run(c.refresh())
    run(c.execute(c.plan("canary set", figures(), percent=5), override=True))
    plan = run(c.prepare("rollback"))  # to dep-0001
    run(c.execute(c.plan("canary set", figures(), percent=25), override=True))
    outcome = run(c.execute(plan))
    assert not outcome.ok and "changed since it was shown" in outcome.text
    assert backend.knobs.canary_percent == 25


def test_a_corrupted_state_file_is_reported_and_replaced(backend: SimulatedBackend,
                                                         tmp_path: Path) -> None:
    (tmp_path / "state-production.json").write_text('{"canary": {"percent": "five", '
                                                    '"baseline": [1]}, "in_flight": 3}')
    c = controller(backend, tmp_path, ManualClock())
    assert "percent" in c.store.problem and "in_flight" in c.store.problem
    assert c.recover() is None
    run(c.refresh())
    assert c.state.canary.percent == 0  # read from the provider, not the broken file
    assert StateStore(tmp_path, "production").load().canary.percent == 0
    (tmp_path / "state-production.json").write_text("{torn")
    again = controller(backend, tmp_path, ManualClock())
    assert "unreadable" in again.store.problem and again.state.canary.percent is None


def test_an_unreadable_flag_makes_the_step_unknown_and_the_gate_shut(
        backend: SimulatedBackend, tmp_path: Path) -> None:
    clock = ManualClock()
    c = controller(backend, tmp_path, clock)
    run(c.refresh())
    run(c.execute(c.plan("canary next", figures()), figures=figures()))
    clock.advance(1800)
    assert c.gate(figures()).open
    backend.render.fail_next(Failure(503, "maintenance", only="/env-vars"))
    run(c.refresh())
    assert c.state.canary.read_error and "503" in c.state.canary.read_error
    gate = c.gate(figures())
    assert not gate.open and gate.percent is None
    with pytest.raises(ActionError, match="could not be read"):
        c.plan("canary next", figures())
    run(c.refresh())  # the next read works: known again, and the soak clock kept its start
    assert c.state.canary.read_error is None and c.gate(figures()).open


class _Broken(RenderProvider):
    async def run(self, action: str, params: Any, progress: Any = None) -> str:
        raise RuntimeError("provider bug")


def test_an_unexpected_provider_error_closes_the_record_and_the_state(
        backend: SimulatedBackend, tmp_path: Path) -> None:
    provider = _Broken(RenderSettings(backend.render_url, SERVICE_ID, API_KEY))
    c = Controller("production", True, provider, StateStore(tmp_path, "production"),
                   AuditLog(tmp_path / "audit.jsonl"), GateSettings(),
                   "PERF_OPTIMIZATIONS_ENABLED", ManualClock())
    outcome = run(c.execute(c.plan("restart")))
    assert not outcome.ok and "unexpected RuntimeError: provider bug" in outcome.text
    assert c.busy is None and StateStore(tmp_path, "production").load().in_flight is None
    assert run(c.execute(c.plan("restart"))).text.startswith("unexpected")  # not "busy"


def test_a_refused_sbtop_leaves_the_holders_name_on_the_lock(backend: SimulatedBackend,
                                                             tmp_path: Path) -> None:
    c = controller(backend, tmp_path, ManualClock())
    other = StateStore(tmp_path, "production")
    with other.locked("rollback"):
        assert run(c.execute(c.plan("restart"))).refused
        second = run(c.execute(c.plan("restart")))
        assert '"action": "rollback"' in second.text  # still named, not wiped by the refusal
    assert (tmp_path / "lock-production").read_text() == ""  # the holder cleared it


def test_an_action_cancelled_midway_is_recorded_as_interrupted(backend: SimulatedBackend,
                                                               tmp_path: Path) -> None:
    backend.render.build_s = 5.0
    c = controller(backend, tmp_path, ManualClock())

    async def cancel_midway() -> None:
        await c.refresh()
        task = asyncio.create_task(c.execute(c.plan("canary next", figures()),
                                             figures=figures()))
        # Cancelled once the action is under way (recorded in flight, the provider asked),
        # not after a guess at how long getting there takes on a busy machine.
        store = StateStore(tmp_path, "production")
        deadline = time.monotonic() + 30
        while store.load().in_flight is None:
            assert not task.done(), f"ended before it began: {task.result()}"
            assert time.monotonic() < deadline, "the action never started"
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(cancel_midway())
    assert c.busy is None and StateStore(tmp_path, "production").load().in_flight is None
    assert AuditLog(tmp_path / "audit.jsonl").read()[-1]["result"].startswith("interrupted")
    assert c.recover() is None  # recorded once, not again at the next start


CONTROL_PLANE_FAULTS = [
    ("401: a key the API refuses", None, "401"),
    ("409: a deploy already running", Failure(409, "deploy in progress", only="/deploys"),
     "409"),
    ("500 on the deploy", Failure(500, "internal error", only="/deploys"), "500"),
    ("a hanging API", Failure(200, hang_s=3.0, only="/deploys"), "no complete answer within 0.5 s"),
]


@pytest.mark.parametrize(("fault", "reason"), [c[1:] for c in CONTROL_PLANE_FAULTS],
                         ids=[c[0] for c in CONTROL_PLANE_FAULTS])
def test_a_failing_control_plane_ends_the_action_clearly_and_keeps_state_and_audit_consistent(
        backend: SimulatedBackend, tmp_path: Path, fault: Failure | None, reason: str) -> None:
    provider = RenderProvider(RenderSettings(backend.render_url, SERVICE_ID, API_KEY,
                                             timeout_s=0.5, poll_every_s=0.02))
    c = Controller("production", True, provider, StateStore(tmp_path, "production"),
                   AuditLog(tmp_path / "audit.jsonl"), GateSettings(),
                   "PERF_OPTIMIZATIONS_ENABLED", ManualClock())
    run(c.refresh())
    if fault is None:
        backend.render.api_key = "rnd_rotated"  # the key sbtop holds is no longer valid
    else:
        backend.render.fail_next(fault)
    outcome = run(c.execute(c.plan("canary next", figures()), figures=figures()))
    assert not outcome.ok and reason in outcome.text and "\n" not in outcome.text
    # The state on disk is what the controller holds: the step did not happen, nothing in flight.
    on_disk = StateStore(tmp_path, "production").load()
    assert on_disk.canary.percent == c.state.canary.percent == 0
    assert on_disk.in_flight is None and c.busy is None
    assert backend.render.env["PERF_OPTIMIZATIONS_ENABLED"] == "0"
    last = AuditLog(tmp_path / "audit.jsonl").read()[-1]
    # Failed, or refused before anything was sent (a flag that cannot be read is not stepped).
    assert last["action"] == "canary next" and last["result"].startswith(("failed: ", "refused: "))
    assert reason in last["result"]
    if "no complete answer" in reason:  # a deploy request that timed out may have been carried out
        assert "Render may have started a deploy with 5 anyway" in outcome.text
    # Nothing was sent twice: at most one deploy was asked for.
    assert sum(1 for m, p in backend.render.calls if m == "POST" and "/deploys" in p) <= 1


def test_429_with_a_reset_waits_and_the_step_is_taken_once(backend: SimulatedBackend,
                                                            tmp_path: Path) -> None:
    c = controller(backend, tmp_path, ManualClock())
    run(c.refresh())
    backend.render.fail_next(Failure(429, "rate limited", reset_s=0.2, only="/deploys"))
    outcome = run(c.execute(c.plan("canary next", figures()), figures=figures()))
    assert outcome.ok, outcome.text
    assert StateStore(tmp_path, "production").load().canary.percent == 5
    posts = [p for m, p in backend.render.calls if m == "POST" and p.endswith("/deploys")]
    assert len(posts) == 2  # the one refused with 429, then the one accepted: one deploy made
    assert AuditLog(tmp_path / "audit.jsonl").read()[-1]["result"].endswith("live")
