"""The deploy window as a plan: the pure judgement (watch countdown, during/end criteria,
where the window stands), the record in the state directory, the controller's start / pass /
rollback / confirm with their overrides, locks and audit lines, and the config's words."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest

from sbtop.actions.audit import AuditLog
from sbtop.actions.phases import PhaseRequest, PlanController, PlanError
from sbtop.actions.plan_state import PlanStore
from sbtop.clock import ManualClock
from sbtop.config import ConfigError
from sbtop.config.files import parse
from sbtop.config.plan import plan_settings
from sbtop.engine.figures import Figure, judge
from sbtop.engine.keys import Fig
from sbtop.engine.settings import EngineSettings
from sbtop.engine.window import (
    LOOK_EVERY_S,
    CriterionSettings,
    ItemKind,
    PhaseRecord,
    PhaseSettings,
    PhaseView,
    PlanSettings,
    PlanState,
    PreflightSettings,
    Status,
    When,
    breaches,
    judge_window,
    to_dict,
    watch_end,
)

SETTINGS = EngineSettings()


def figs(p95: float | None = 200.0, e5: float | None = 0.1) -> dict[str, Figure]:
    return {Fig.LATENCY_P95_MS: judge(Fig.LATENCY_P95_MS, p95, SETTINGS),
            Fig.ERROR_RATE_5XX_PCT: judge(Fig.ERROR_RATE_5XX_PCT, e5, SETTINGS)}


INDEXES = PhaseSettings(
    "Database indexes", watch_s=600.0, figures=(Fig.ERROR_RATE_5XX_PCT,),
    criteria=(CriterionSettings(Fig.LATENCY_P95_MS, "<", 500.0, When.END),
              CriterionSettings(Fig.ERROR_RATE_5XX_PCT, "<", 1.0, When.DURING)),
    run=("true",), rollback=("true",))
SINGLETON = PhaseSettings("Prisma singleton", watch_s=120.0, rollback_note="revert the commit")
PLAN = PlanSettings(
    (INDEXES, SINGLETON),
    (PreflightSettings("Database backup completed"),
     PreflightSettings("Target answers", ItemKind.COMMAND, command=("true",))))


def controller(tmp_path: Path, clock: ManualClock, settings: PlanSettings = PLAN
               ) -> PlanController:
    return PlanController("staging", False, settings, PlanStore(tmp_path, "staging"),
                          AuditLog(tmp_path / "audit.jsonl"), clock)


def audit(tmp_path: Path) -> list[dict[str, object]]:
    return AuditLog(tmp_path / "audit.jsonl").read()


def watched(c: PlanController, clock: ManualClock, seconds: float,
            figures: dict[str, Figure] | None = None, every: float = 10.0) -> None:
    """`seconds` go by while a console looks every `every` seconds, as its ticks do."""
    for _ in range(round(seconds / every)):
        clock.advance(every)
        c.record_breaches(figs() if figures is None else figures)


# --- the pure judgement --------------------------------------------------------------------


def test_a_fresh_window_stands_before_pre_flight_and_phase_one() -> None:
    w = judge_window(PLAN, PlanState(), figs(), 0.0)
    assert w.current is None and w.next is not None and w.next.number == 1
    assert w.stands == "pre-flight: 2 of 2 items open; next: phase 1/2 Database indexes"
    assert [i.shown for i in w.preflight] == ["not confirmed", "not checked"]


def test_the_watch_counts_down_and_end_criteria_are_judged_only_when_it_is_over() -> None:
    state = PlanState()
    rec = state.phases.setdefault(INDEXES.name, PhaseRecord())
    rec.status, rec.started_wall, rec.watch_from_wall = Status.WATCHING, 1000.0, 1000.0
    rec.looked_wall, rec.unseen_s = 1000.0 + 600, 30.0  # a console looked all along
    during = judge_window(PLAN, state, figs(p95=700.0), 1000.0 + 240).current
    assert during is not None and during.watch_left_s == 360.0
    # p95 may rise while the index builds: not judged until the end.
    end = [c for c in during.criteria if c.when is When.END]
    assert [c.passed for c in end] == [None]
    assert during.verdict == "watching: 6m00s left" and not during.ready
    over = judge_window(PLAN, state, figs(p95=700.0), 1000.0 + 600).current
    assert over is not None and over.watch_over and not over.ready
    assert over.verdict.startswith("FAILING: p95 700 ms, must be < 500 ms")
    back = judge_window(PLAN, state, figs(p95=300.0), 1000.0 + 601).current
    assert back is not None and back.ready and back.verdict == "watch over: ready to pass"


def test_a_during_breach_is_remembered_after_the_figure_recovers() -> None:
    state = PlanState({INDEXES.name: PhaseRecord(Status.WATCHING, 0.0, 0.0)})
    found = breaches(PLAN, state, figs(e5=2.0), 30.0)
    assert set(found[INDEXES.name]) == {"error_rate_5xx_pct < 1 (during)"}
    state.phases[INDEXES.name].breaches.update(found[INDEXES.name])
    later = judge_window(PLAN, state, figs(e5=0.1), 700.0).current
    assert later is not None and not later.ready
    broke = [c for c in later.criteria if c.breach is not None]
    assert broke[0].shown.endswith("broke during the watch (2.00%)")
    assert breaches(PLAN, state, figs(e5=3.0), 40.0) == {}  # the first breach counts


def test_an_unknown_figure_is_not_a_breach_but_fails_an_end_criterion() -> None:
    state = PlanState({INDEXES.name: PhaseRecord(Status.WATCHING, 0.0, 0.0)})
    assert breaches(PLAN, state, figs(p95=None, e5=None), 10.0) == {}
    view = judge_window(PLAN, state, figs(p95=None), 601.0).current
    assert view is not None
    p95 = next(c for c in view.criteria if c.when is When.END)
    assert p95.passed is False and "unknown" in p95.shown


def test_the_plan_as_json_names_phases_states_and_the_countdown() -> None:
    state = PlanState({INDEXES.name: PhaseRecord(Status.WATCHING, 1_800_000_000.0,
                                                 1_800_000_000.0)})
    d = to_dict(judge_window(PLAN, state, figs(), 1_800_000_060.0))
    json.dumps(d, allow_nan=False)
    assert d["current"] == "Database indexes"
    assert d["phases"][0]["watch_left_s"] == 540.0
    assert d["phases"][0]["started"] == "2027-01-15T08:00:00Z"
    assert d["phases"][1]["status"] == "pending"


# --- the record and the controller ---------------------------------------------------------


def test_a_phase_cannot_start_with_open_pre_flight_items_without_a_typed_override(
        tmp_path: Path) -> None:
    clock = ManualClock()
    c = controller(tmp_path, clock)
    plan = c.plan(PhaseRequest.START, "1", figs())
    assert plan.needs_override
    assert any("Database backup completed" in w for w in plan.why_override)
    refused = asyncio.run(c.execute(plan))
    assert refused.refused and "typed override" in refused.text
    short = asyncio.run(c.execute(plan, override="yes"))
    assert short.refused and "at least" in short.text
    done = asyncio.run(c.execute(plan, override="backup taken by the DBA at 01:00"))
    assert done.ok, done.text
    rec = c.reload().phase(INDEXES.name)
    assert rec.status is Status.WATCHING and rec.override == "backup taken by the DBA at 01:00"
    lines = audit(tmp_path)
    assert [e.get("refused") for e in lines[:2]] == [True, True]
    assert lines[-1]["override"] == "backup taken by the DBA at 01:00"
    assert lines[-1]["phase"] == INDEXES.name and lines[-1]["ok"] is True


def test_confirmed_items_and_a_passed_check_let_a_phase_start_without_override(
        tmp_path: Path) -> None:
    c = controller(tmp_path, ManualClock())
    assert c.confirm("Database backup completed").ok
    c.record_checks({"Target answers": (True, "true succeeded")})
    plan = c.plan("start", "Database indexes", figs())
    assert not plan.needs_override
    refused = c.confirm("Target answers")
    assert refused.refused and "checked by sbtop" in refused.text
    state = c.reload()
    assert state.item("Database backup completed").by  # who confirmed it
    assert state.item("Database backup completed").wall == ManualClock().wall


def test_the_record_survives_a_new_process_and_passes_after_the_watch(tmp_path: Path) -> None:
    clock = ManualClock()
    c = controller(tmp_path, clock)
    c.confirm("1")
    c.record_checks({"Target answers": (True, "")})
    assert asyncio.run(c.execute(c.plan("start", "1", figs()))).ok
    watched(c, clock, 300)
    early = c.plan("pass", "1", figs())
    assert early.why_override == ("the watch is not over (5m00s left)",)
    watched(c, clock, 310)
    again = controller(tmp_path, clock)  # a new sbtop after an SSH drop
    assert again.window(figs()).current is not None
    ready = again.plan("pass", "Database indexes", figs())
    assert not ready.needs_override
    assert asyncio.run(again.execute(ready)).ok
    w = controller(tmp_path, clock).window(figs())
    assert w.phases[0].status is Status.PASSED and w.next is not None
    assert w.stands == "next: phase 2/2 Prisma singleton"


def test_a_failing_run_command_fails_the_phase_and_its_rollback_command_runs(
        tmp_path: Path) -> None:
    marker = tmp_path / "rolled-back"
    phase = PhaseSettings("Indexes", watch_s=60.0, run=("false",),
                          rollback=("touch", str(marker)))
    c = controller(tmp_path, ManualClock(), PlanSettings((phase,)))
    out = asyncio.run(c.execute(c.plan("start", "1")))
    assert not out.ok and "exited 1" in out.text
    assert c.reload().phase("Indexes").status is Status.FAILED
    back = asyncio.run(c.execute(c.plan("rollback", "Indexes")))
    assert back.ok and marker.exists()
    assert c.reload().phase("Indexes").status is Status.ROLLED_BACK
    assert [e["result"] for e in audit(tmp_path) if e.get("action") ==
            "plan rollback phase 1 Indexes"] == ["started", back.text]


def test_another_phase_in_hand_refuses_a_start_and_a_rollback_by_hand_is_recorded(
        tmp_path: Path) -> None:
    c = controller(tmp_path, ManualClock(), PlanSettings((INDEXES, SINGLETON)))
    asyncio.run(c.execute(c.plan("start", "1")))
    with pytest.raises(PlanError, match="is watching: pass it or roll it back first"):
        c.plan("start", "2")
    asyncio.run(c.execute(c.plan("pass", "1", figs()), override="the watch was fine here"))
    assert c.reload().phase(INDEXES.name).override == "pass: the watch was fine here"
    asyncio.run(c.execute(c.plan("start", "2")))
    plan = c.plan("rollback", "Prisma singleton")
    assert plan.argv == () and plan.notes == ("roll it back by hand: revert the commit",)
    out = asyncio.run(c.execute(plan))
    assert out.ok and "rolled back (by hand)" in out.text
    with pytest.raises(PlanError, match="nothing to roll back"):
        c.plan("rollback", "2")


def test_single_flight_a_second_sbtop_is_refused_while_one_acts(tmp_path: Path) -> None:
    c = controller(tmp_path, ManualClock(), PlanSettings((INDEXES,)))
    plan = c.plan("start", "1")
    other = PlanStore(tmp_path, "staging")
    with other.locked("canary next"):
        out = asyncio.run(c.execute(plan))
    assert out.refused and "another sbtop is acting on staging" in out.text
    c.busy = "plan start phase 1"
    assert asyncio.run(c.execute(plan)).text == "refused: plan start phase 1 is still running"


def test_a_dry_run_changes_nothing_and_is_audited(tmp_path: Path) -> None:
    c = controller(tmp_path, ManualClock(), PlanSettings((INDEXES,)))
    out = asyncio.run(c.execute(c.plan("start", "1"), dry_run=True))
    assert out.ok and out.text.startswith("dry run")
    assert c.reload().phase(INDEXES.name).status is Status.PENDING
    assert audit(tmp_path)[-1]["dry_run"] is True


def test_a_damaged_phase_record_is_dropped_alone_with_a_note(tmp_path: Path) -> None:
    store = PlanStore(tmp_path, "staging")
    store.path.write_text(json.dumps({"phases": {
        "A": {"status": "passed", "ended_wall": 5.0}, "B": {"status": "exploded"}}}))
    state = store.load()
    assert state.phase("A").status is Status.PASSED
    assert state.phase("B").status is Status.PENDING
    assert "phases.B" in store.problem


def test_a_record_with_nan_or_an_impossible_time_is_dropped_not_a_traceback(
        tmp_path: Path) -> None:
    # A hand-edited record: NaN in a watch's start, a time past the year 5000, an Infinity
    # breach. Read as they were, the judged window could not be written (check --json, the
    # next save) and the times could not be shown: each phase is dropped alone, with a note.
    store = PlanStore(tmp_path, "staging")
    store.path.write_text(
        '{"phases": {"Database indexes": {"status": "watching", "started_wall": 1e300,'
        ' "watch_from_wall": NaN}, "Prisma singleton": {"status": "watching",'
        ' "started_wall": 5.0, "watch_from_wall": 5.0, "breaches": {"x": {"wall": 6.0,'
        ' "value": Infinity}}}}, "preflight": {"Database backup completed":'
        ' {"ok": true, "wall": -1e20}}}')
    state = store.load()
    assert state.phases == {} and state.preflight == {}
    assert "phases.Database indexes" in store.problem and "phases.Prisma singleton" in \
        store.problem and "preflight.Database backup completed" in store.problem
    w = judge_window(PLAN, state, figs(), 1_800_000_000.0)
    json.dumps(to_dict(w), allow_nan=False)
    store.save(state)


# --- the config ----------------------------------------------------------------------------


def test_the_config_builds_phases_with_durations_criteria_and_commands() -> None:
    cfg = parse({"plan": {"phases": [
        {"name": "Database indexes", "risk": "low", "duration": ["5m", "10m"],
         "watch": "10m", "figures": ["latency_p95_ms"],
         "criteria": [{"figure": "latency_p95_ms", "op": "<", "value": 500,
                       "judged": "end"}],
         "run": ["true"], "rollback": ["true"]},
        {"name": "Prisma singleton", "duration": "2m", "canary": True}],
        "preflight": [{"name": "backup"}, {"name": "indexes", "check": "sql",
                                           "sql": "SELECT true"}]}})
    s = plan_settings(cfg.plan)
    assert s is not None
    first = s.phases[0]
    assert (first.duration_min_s, first.duration_max_s, first.watch_s) == (300, 600, 600)
    assert first.criteria[0].when is When.END and s.phases[1].canary
    assert s.preflight[1].kind is ItemKind.SQL


@pytest.mark.parametrize(("plan", "message"), [
    ({"phases": [{"name": ""}]}, "plan.phases[0].name: every phase needs a name"),
    ({"phases": [{"name": "a"}, {"name": "A"}]}, "plan.phases[1].name: 'A' is used twice"),
    ({"phases": [{"name": "a", "risk": "huge"}]}, "plan.phases[0].risk: expected low, medium, "
     "high, got the string 'huge'"),
    ({"phases": [{"name": "a", "duration": ["10m", "5m"]}]}, "the least is more than the most"),
    ({"phases": [{"name": "a", "watch": "soon"}]}, "plan.phases[0].watch"),
    ({"phases": [{"name": "a", "figures": ["latency_p59_ms"]}]},
     "plan.phases[0].figures: unknown figure 'latency_p59_ms' (did you mean"),
    ({"phases": [{"name": "a", "criteria": [{"figure": "latency_p95_ms", "op": "=="}]}]},
     "plan.phases[0].criteria[0].op: expected one of >, >=, <, <="),
    ({"phases": [{"name": "a", "criteria": [{"figure": "latency_p95_ms",
                                             "judged": "after"}]}]},
     "criteria[0].judged: expected during or end"),
    ({"phases": [{"name": "a", "canary": True}, {"name": "b", "canary": True}]},
     "only one phase can be the canary"),
    ({"preflight": [{"name": "x", "check": "sq"}]}, "plan.preflight[0].check: expected one of"),
    ({"preflight": [{"name": "x", "check": "sql"}]}, "plan.preflight[0].sql: check = \"sql\" "
     "needs the query"),
    ({"phases": [{"name": "a", "run": "npm run build"}]}, "plan.phases[0].run"),
    # The record is read back with control characters escaped: such a name lost its record.
    ({"phases": [{"name": "Socket.IO\thandlers"}]}, "plan.phases[0].name: 'Socket.IO\\\\t"),
    ({"preflight": [{"name": "Backup\ndone"}]}, "plan.preflight[0].name: 'Backup\\\\n"),
    # No program can be handed a NUL: said when the file is read, not when the phase starts.
    ({"phases": [{"name": "a", "rollback": ["git", "check\x00out"]}]},
     "plan.phases[0].rollback[1]: holds a NUL byte"),
    ({"preflight": [{"name": "x", "check": "command", "command": ["te\x00st"]}]},
     "plan.preflight[0].command[0]: holds a NUL byte"),
    ({"phases": [{"name": "a", "watch": float("inf")}]},
     "plan.phases[0].watch: expected a finite number of seconds, got inf"),
])
def test_a_bad_plan_in_the_config_is_one_line_naming_the_key(
        plan: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=None) as e:
        parse({"plan": plan})
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_the_example_config_init_and_the_demo_carry_the_runbooks_window() -> None:
    import tomllib

    from sbtop import starter
    from sbtop.deploy_plan import demo_plan, runbook_plan

    example = tomllib.loads((Path(__file__).parent.parent / "config.example.toml").read_text())
    assert (plan_settings(parse({"plan": example["plan"]}).plan)
            == plan_settings(parse({"plan": runbook_plan()}).plan))
    init = plan_settings(parse(tomllib.loads(starter.starter_text())).plan)
    assert init is not None
    assert [p.name for p in init.phases] == ["Database indexes", "Prisma singleton",
                                             "Optimized routes", "Socket.IO handlers",
                                             "Frontend"]
    assert [p.watch_s for p in init.phases] == [600, 300, 900, 600, 300]
    assert [p.risk for p in init.phases] == ["low", "low", "medium", "medium", "low"]
    assert [p.canary for p in init.phases] == [False, False, True, False, False]
    demo = plan_settings(parse({"plan": demo_plan()}).plan)
    assert demo is not None
    # The demo's commands are harmless: each only echoes what a real window would run.
    assert all(p.run[:1] in ((), ("echo",)) and p.rollback[:1] in ((), ("echo",))
               for p in demo.phases)
    assert all(i.command[:1] in ((), ("echo",)) and not i.sql for i in demo.preflight)


def test_a_phase_left_running_by_a_dead_sbtop_is_recorded_as_interrupted(
        tmp_path: Path) -> None:
    clock = ManualClock()
    c = controller(tmp_path, clock, PlanSettings((INDEXES,)))
    state = PlanState({INDEXES.name: PhaseRecord(Status.RUNNING, clock.wall)})
    c.store.save(state)
    note = controller(tmp_path, clock, PlanSettings((INDEXES,))).recover()
    assert note is not None and "interrupted" in note
    rec = c.reload().phase(INDEXES.name)
    assert rec.status is Status.FAILED and rec.result is not None
    assert "interrupted" in rec.result
    assert audit(tmp_path)[-1]["ok"] is False
    assert controller(tmp_path, clock, PlanSettings((INDEXES,))).recover() is None


def test_breaches_are_written_once_by_the_deploying_sbtop(tmp_path: Path) -> None:
    clock = ManualClock()
    c = controller(tmp_path, clock, PlanSettings((INDEXES,)))
    asyncio.run(c.execute(c.plan("start", "1")))
    clock.advance(30)
    assert c.record_breaches(figs(e5=2.5))
    assert not c.record_breaches(figs(e5=3.0))  # nothing new: nothing written
    kept = c.reload().phase(INDEXES.name).breaches
    assert {k: v.value for k, v in kept.items()} == {
        "error_rate_5xx_pct < 1 (during)": 2.5}


def test_a_rollback_and_a_new_start_between_two_reads_are_both_events(tmp_path: Path) -> None:
    from sbtop.session.plan import changes

    clock = ManualClock()
    phase = PhaseSettings("Singleton", watch_s=60.0, rollback=("true",))
    c = controller(tmp_path, clock, PlanSettings((phase,)))
    asyncio.run(c.execute(c.plan("start", "1")))
    before = c.reload()
    clock.advance(10)
    asyncio.run(c.execute(c.plan("rollback", "1")))
    clock.advance(1)
    asyncio.run(c.execute(c.plan("start", "1")))
    events = changes(before, c.reload(), figs())
    assert [(e["status"], e["was"]) for e in events] == [
        ("running", "watching"), ("rolled back", "running"), ("watching", "rolled back")]
    assert events[1]["wall"] == ManualClock().wall + 10
    assert events[1]["figures"] == {"latency_p95_ms": 200.0, "error_rate_5xx_pct": 0.1}


def test_a_commands_output_is_shown_as_escapes(tmp_path: Path) -> None:
    phase = PhaseSettings("Indexes", run=("printf", "done\x1b]52;c;aGk=\x07"))
    c = controller(tmp_path, ManualClock(), PlanSettings((phase,)))
    out = asyncio.run(c.execute(c.plan("start", "1")))
    assert out.ok and "\x1b" not in out.text and "\\x1b]52" in out.text


def test_pre_flight_results_are_not_recorded_while_another_sbtop_acts(tmp_path: Path) -> None:
    c = controller(tmp_path, ManualClock())
    with PlanStore(tmp_path, "staging").locked("canary next"), \
            pytest.raises(PlanError, match="not recorded: another sbtop is acting"):
        c.record_checks({"Target answers": (True, "")})
    assert c.reload().item("Target answers").ok is None


def test_on_production_the_command_line_asks_for_the_targets_name(tmp_path: Path) -> None:
    from sbtop.actions.plan_commands import plan_main
    from sbtop.config import resolve
    from sbtop.engine.assessment import Assessment

    cfg = parse({"targets": {"prod": {"base_url": "http://127.0.0.1:9", "production": True}},
                 "plan": {"phases": [{"name": "Indexes", "rollback": ["true"]}]}})
    wiring = resolve(cfg)
    assert wiring.production and wiring.plan is not None
    store = PlanStore(tmp_path, "prod")
    store.save(PlanState({"Indexes": PhaseRecord(Status.WATCHING, 1.0, 1.0)}))

    async def no_figures(_s: float) -> Assessment:
        raise AssertionError("a rollback reads no figures")

    said: list[str] = []

    def rollback(answer: str) -> int:
        asked: list[str] = []

        def ask(prompt: str) -> str:
            asked.append(prompt)
            return answer

        code = asyncio.run(plan_main(wiring, "rollback", "Indexes", state_dir=tmp_path,
                                     assess=no_figures, ask=ask, out=said.append))
        assert asked == ["PRODUCTION: type the target's name (prod) to go ahead: "]
        return code

    assert rollback("y") == 1 and said[-1] == "cancelled: nothing was run"
    assert store.load().phase("Indexes").status is Status.WATCHING
    assert AuditLog(tmp_path / "audit.jsonl").read()[-1]["result"] == (
        "cancelled at the confirmation")
    assert rollback("prod") == 0
    assert store.load().phase("Indexes").status is Status.ROLLED_BACK


def test_the_command_lines_demo_config_has_the_demos_plan() -> None:
    import tomllib

    from sbtop.deploy_plan import demo_plan

    docs = tomllib.loads((Path(__file__).parent.parent / "docs" / "demo.toml").read_text())
    assert (plan_settings(parse({"plan": docs["plan"]}).plan)
            == plan_settings(parse({"plan": demo_plan()}).plan))


def test_replay_rebuilds_the_record_from_the_events_up_to_the_tick_shown() -> None:
    from sbtop.recording.plan_events import spans, state_at
    from sbtop.recording.reader import Event

    def ev(wall: float, status: str, was: str, result: str | None = None) -> Event:
        return Event(wall, "plan", {"phase": "Indexes", "status": status, "was": was,
                                    "by": "ana", "result": result})

    events = [ev(10, "running", "pending", "start: true"), ev(12, "watching", "running"),
              ev(40, "running", "watching", "rollback: drop"),
              ev(41, "rolled back", "running"), ev(50, "running", "rolled back", "start: true"),
              ev(51, "failed", "running", "true exited 1"),
              ev(55, "running", "failed", "rollback: drop"),
              ev(56, "failed", "running", "rollback failed: drop exited 1"),
              ev(60, "running", "failed", "start: true"), ev(61, "watching", "running")]
    at = state_at(events, 45).phase("Indexes")
    assert (at.status, at.started_wall, at.ended_wall) == (Status.ROLLED_BACK, 10, 41)
    again = state_at(events, 70).phase("Indexes")
    assert (again.status, again.started_wall, again.watch_from_wall) == (Status.WATCHING, 60, 61)
    assert [(s.how, s.started, s.ended) for s in spans(events)] == [
        ("rolled back", 10, 41), ("failed", 50, 51), ("open", 60, None)]


def test_a_watch_over_with_its_figures_unknown_is_not_a_pass_without_an_override(
        tmp_path: Path) -> None:
    # The watched figures could not be read (the target down at the pass, no console
    # looking during the watch): nothing was judged, so a plain pass would be a pass on no data.
    clock = ManualClock()
    phase = PhaseSettings("Prisma singleton", watch_s=60.0,
                          figures=(Fig.ERROR_RATE_5XX_PCT, Fig.LATENCY_P95_MS))
    c = controller(tmp_path, clock, PlanSettings((phase,)))
    assert asyncio.run(c.execute(c.plan("start", "1"))).ok
    clock.advance(61.0)
    w = c.window(figs(p95=None, e5=None))
    assert w.current is not None and not w.current.ready
    assert w.current.verdict.startswith("watch over, not judged: 5xx unknown")
    for figures in (figs(p95=None, e5=None), {}):
        p = c.plan("pass", "1", figures)
        assert p.needs_override and all("not judged" in x for x in p.why_override)
    refused = asyncio.run(c.execute(c.plan("pass", "1", {})))
    assert refused.refused and c.reload().phase("Prisma singleton").status is Status.WATCHING
    ready = c.plan("pass", "1", figs())
    assert not ready.needs_override and c.window(figs()).current.ready  # type: ignore[union-attr]


@pytest.mark.parametrize("typed", ["²", "①", "٣"])
def test_a_phase_or_item_typed_as_an_odd_digit_is_no_such_phase_not_a_traceback(
        tmp_path: Path, typed: str) -> None:
    c = controller(tmp_path, ManualClock())
    with pytest.raises(PlanError, match="no phase"):
        c.plan("start", typed)
    with pytest.raises(PlanError, match="no pre-flight item"):
        c.confirm(typed)
    assert PLAN.phase(" 2 ") is SINGLETON and PLAN.phase("2") is SINGLETON


def test_plan_status_shows_a_rollback_argv_as_it_runs_not_joined_by_spaces() -> None:
    # ["sh", "-c", "echo rolled; exit 3"] joined by spaces reads as two commands.
    from sbtop.actions.plan_commands import status_lines

    phase = PhaseSettings("A", rollback=("sh", "-c", "echo rolled; exit 3"))
    state = PlanState({"A": PhaseRecord(Status.WATCHING, 0.0, 0.0)})
    lines = status_lines(judge_window(PlanSettings((phase,)), state, figs(), 10.0), "x")
    assert "      rollback: sh -c 'echo rolled; exit 3'" in lines


def test_a_pre_flight_dry_run_runs_no_command_and_records_nothing(tmp_path: Path) -> None:
    from sbtop.actions.plan_commands import plan_main
    from sbtop.config import resolve
    from sbtop.engine.assessment import Assessment

    ran = tmp_path / "ran"
    cfg = parse({"targets": {"x": {"base_url": "http://127.0.0.1:9"}},
                 "plan": {"phases": [{"name": "A"}], "preflight": [
                     {"name": "touch", "check": "command", "command": ["touch", str(ran)]}]}})

    async def no_figures(_s: float) -> Assessment:
        raise AssertionError("a dry run reads no figures")

    said: list[str] = []
    code = asyncio.run(plan_main(resolve(cfg), "preflight", None, state_dir=tmp_path,
                                 assess=no_figures, dry_run=True, out=said.append))
    assert code == 0 and not ran.exists()
    assert said[-2:] == [f"  touch: would run touch {ran} (no shell, timeout 30 s)",
                         "dry run: nothing was run or recorded"]
    assert PlanStore(tmp_path, "x").load().item("touch").ok is None
    assert audit(tmp_path)[-1]["dry_run"] is True


def test_a_read_only_plan_status_changes_no_record(tmp_path: Path) -> None:
    # The console's read-only session leaves a dead sbtop's running phase alone; the command
    # line's read-only status wrote it failed (and the audit) all the same.
    from sbtop.actions.plan_commands import plan_main
    from sbtop.config import resolve
    from sbtop.engine.assessment import Assessment
    from sbtop.engine.levels import Level
    from sbtop.engine.routes import Routes

    cfg = parse({"targets": {"x": {"base_url": "http://127.0.0.1:9"}},
                 "plan": {"phases": [{"name": "A", "run": ["true"]}]}})
    store = PlanStore(tmp_path, "x")
    store.save(PlanState({"A": PhaseRecord(Status.RUNNING, 1.0)}))
    before = store.path.read_bytes()

    async def assess(_s: float) -> Assessment:
        return Assessment("x", 1, 1.0, 1_800_000_000.0, Level.OK, {}, Routes(), (), {})

    said: list[str] = []
    code = asyncio.run(plan_main(resolve(cfg), "status", None, state_dir=tmp_path,
                                 assess=assess, out=said.append, read_only=True))
    assert code == 0 and store.path.read_bytes() == before
    assert not (tmp_path / "audit.jsonl").exists() and not any("note:" in x for x in said)


def test_plan_status_on_the_command_line_is_a_look_that_remembers_a_breach(
        tmp_path: Path) -> None:
    # No console ran during the watch: a 5xx breach seen by `sbtop plan status` must still
    # stop a plain pass after the figure recovered.
    from sbtop.actions.plan_commands import plan_main
    from sbtop.config import resolve
    from sbtop.engine.assessment import Assessment
    from sbtop.engine.levels import Level
    from sbtop.engine.routes import Routes

    cfg = parse({"targets": {"x": {"base_url": "http://127.0.0.1:9"}},
                 "plan": {"phases": [{"name": "A", "watch": "1m", "criteria": [
                     {"figure": "error_rate_5xx_pct", "op": "<", "value": 1,
                      "judged": "during"}]}]}})
    clock = ManualClock()
    store = PlanStore(tmp_path, "x")
    store.save(PlanState({"A": PhaseRecord(Status.WATCHING, clock.wall, clock.wall)}))
    e5 = [2.0]

    async def assess(_s: float) -> Assessment:
        return Assessment("x", 1, 1.0, clock.wall, Level.OK, figs(e5=e5[0]), Routes(), (), {})

    def run(verb: str, name: str | None = None, **kw: object) -> tuple[int, list[str]]:
        said: list[str] = []
        code = asyncio.run(plan_main(resolve(cfg), verb, name, state_dir=tmp_path,
                                     assess=assess, out=said.append, clock=clock,
                                     yes=True, **kw))  # type: ignore[arg-type]
        return code, said

    clock.advance(10.0)
    assert run("status")[0] == 2
    e5[0] = 0.1
    clock.advance(60.0)
    code, said = run("status")
    assert code == 2 and any("broke during the watch (2.00%)" in x for x in said)
    code, said = run("pass", "A")
    assert code == 1 and store.load().phase("A").status is Status.WATCHING


def test_a_pass_confirmed_after_a_breach_was_recorded_meanwhile_is_refused(
        tmp_path: Path) -> None:
    # The pass was shown ready; while the person read the confirmation, the console's look
    # recorded a 5xx breach. Carrying out the plan as shown would pass a phase that broke.
    clock = ManualClock()
    c = controller(tmp_path, clock, PlanSettings((INDEXES,)))
    assert asyncio.run(c.execute(c.plan("start", "1"))).ok
    watched(c, clock, 610.0)
    shown = c.plan("pass", "1", figs())
    assert not shown.needs_override
    console = controller(tmp_path, clock, PlanSettings((INDEXES,)))
    assert console.record_breaches(figs(e5=3.0))
    done = asyncio.run(c.execute(shown))
    assert done.refused and "changed since it was shown" in done.text
    assert "broke during the watch (3.00%)" in done.text
    assert c.reload().phase(INDEXES.name).status is Status.WATCHING



def test_a_watched_figure_without_a_critical_bound_is_not_judged_and_low_is_bad_says_over(
        ) -> None:
    # "Never critical" of a figure with no critical threshold held whatever it did: a pass
    # nobody judged. And of a figure where low is bad, "must stay under" said the opposite.
    from sbtop.engine.levels import Threshold

    settings = EngineSettings(thresholds={**SETTINGS.thresholds, Fig.REQUESTS_PER_S:
                                          Threshold(warning=10, critical=2, above=False)})
    phase = PhaseSettings("Frontend", watch_s=60.0,
                          figures=(Fig.REQUESTS_PER_S, Fig.EVENT_LOOP_LAG_MS))
    state = PlanState({"Frontend": PhaseRecord(Status.WATCHING, 0.0, 0.0)})
    figures = {Fig.REQUESTS_PER_S: judge(Fig.REQUESTS_PER_S, 1.0, settings),
               Fig.EVENT_LOOP_LAG_MS: judge(Fig.EVENT_LOOP_LAG_MS, 900.0, settings)}
    view = judge_window(PlanSettings((phase,)), state, figures, 61.0).current
    assert view is not None
    rps, lag = view.criteria
    assert rps.passed is False
    assert rps.shown == "req/s 1.0/s, must stay over critical 2.0/s"
    assert lag.passed is None and "no critical threshold" in lag.shown
    assert not view.ready and view.unjudged == (lag,)
    found = breaches(PlanSettings((phase,)), state, figures, 30.0)["Frontend"]
    assert list(found) == ["requests_per_s not critical (during)"]


def test_a_read_only_plan_status_creates_no_state_directory(tmp_path: Path) -> None:
    from sbtop.actions.plan_commands import plan_main
    from sbtop.config import resolve
    from sbtop.engine.assessment import Assessment
    from sbtop.engine.levels import Level
    from sbtop.engine.routes import Routes

    cfg = parse({"targets": {"x": {"base_url": "http://127.0.0.1:9"}},
                 "plan": {"phases": [{"name": "A", "run": ["true"]}]}})
    where = tmp_path / "state"

    async def assess(_s: float) -> Assessment:
        return Assessment("x", 1, 1.0, 1_800_000_000.0, Level.OK, {}, Routes(), (), {})

    said: list[str] = []
    code = asyncio.run(plan_main(resolve(cfg), "status", None, state_dir=where,
                                 assess=assess, out=said.append, read_only=True))
    assert code == 0 and not where.exists()
    assert any("deploy window on x" in x for x in said)


def test_the_plan_says_its_figures_by_the_canary_gates_short_names() -> None:
    # The plan said 'error_rate_5xx_pct 0.15%, must stay under critical 5.00%' beside the
    # gate's '5xx 0.15%': one table of names (sbtop.engine.labels) for both.
    from sbtop.engine.gate import GateSettings, evaluate
    from sbtop.recording.plan_events import text

    phase = PhaseSettings("Socket.IO", watch_s=60.0, figures=(Fig.ERROR_RATE_5XX_PCT,),
                          criteria=(CriterionSettings(Fig.LATENCY_P95_MS, "<", 500.0),))
    state = PlanState({"Socket.IO": PhaseRecord(Status.WATCHING, 1000.0, 1000.0)})
    got = judge_window(PlanSettings((phase,)), state, figs(p95=200.0, e5=0.15), 1010.0).current
    assert got is not None
    shown = [c.shown for c in got.criteria]
    assert shown == ["5xx 0.15%, must stay under critical 5.00%",
                     "p95 200 ms, must be < 500 ms (judged at the end)"]
    gate = evaluate(5, 0.0, 1.0, 200.0, figs(p95=200.0, e5=0.15), GateSettings())
    said_by_gate = next(c.shown for c in gate.criteria if c.name == "5xx")
    assert said_by_gate.split(",")[0] == shown[0].split(",")[0] == "5xx 0.15%"
    assert text({"phase": "Socket.IO", "breach": "error_rate_5xx_pct not critical (during)"}) \
        == "plan phase Socket.IO: 5xx not critical (during) broke during the watch"


def test_a_phase_whose_rollback_failed_says_so_is_not_ready_and_status_exits_2(
        tmp_path: Path) -> None:
    # The person asked for a rollback because the phase went wrong; the rollback command
    # failed, so the phase is still in. The window must not say "ready to pass" over that.
    from sbtop.actions.plan_commands import plan_main
    from sbtop.config import resolve
    from sbtop.engine.assessment import Assessment
    from sbtop.engine.levels import Level
    from sbtop.engine.routes import Routes

    cfg = parse({"targets": {"x": {"base_url": "http://127.0.0.1:9"}},
                 "plan": {"phases": [{"name": "A", "watch": "1m", "rollback": ["false"]}]}})
    clock = ManualClock()

    async def assess(_s: float) -> Assessment:
        return Assessment("x", 1, 1.0, clock.wall, Level.OK, figs(), Routes(), (), {})

    def run(verb: str, name: str | None = None, **kw: object) -> tuple[int, list[str]]:
        said: list[str] = []
        code = asyncio.run(plan_main(resolve(cfg), verb, name, state_dir=tmp_path,
                                     assess=assess, out=said.append, clock=clock,
                                     yes=True, **kw))  # type: ignore[arg-type]
        return code, said

    assert run("start", "A")[0] == 0
    clock.advance(90.0)  # the watch is over
    code, said = run("rollback", "A")
    assert code == 2 and "rollback failed: " in said[-1]
    code, said = run("status")
    assert code == 2, said
    assert said[1] == ("deploy window on x: phase 1/1 A: ROLLBACK FAILED (still in): phase A "
                       "rollback: false exited 1: no output"), said
    code, said = run("pass", "A")
    assert code == 1 and any("needs an override: its rollback failed: " in x for x in said)
    assert PlanStore(tmp_path, "x").load().phase("A").status is Status.WATCHING
    code, said = run("pass", "A", override="rolled back by hand on the box")
    assert code == 0 and PlanStore(tmp_path, "x").load().phase("A").status is Status.PASSED


def test_a_watch_nothing_looked_at_is_not_a_pass_without_an_override(tmp_path: Path) -> None:
    # No console ran and no one ran sbtop plan status: a 5xx spike in the middle of the watch
    # was never seen, so "5xx < 1% during the watch" cannot be said to have held.
    clock = ManualClock()
    c = controller(tmp_path, clock, PlanSettings((INDEXES,)))
    assert asyncio.run(c.execute(c.plan("start", "1"))).ok
    clock.advance(610.0)
    c.record_breaches(figs())  # the pass's own look, at the end
    view = c.window(figs()).phases[0]
    assert not view.ready and view.unseen_s == 600.0
    assert view.verdict == ("watch over, not judged: its figures went unseen for 10m00s of the "
                            "watch (no console or sbtop plan status looked, or a figure was "
                            "unknown): its 'during' criteria were not judged then")
    shown = c.plan("pass", "1", figs())
    assert shown.why_override == (view.unwatched,)
    assert asyncio.run(c.execute(shown)).refused

    # Looked at all along, but for five minutes the 5xx rate could not be read: the same.
    again = controller(tmp_path / "b", clock, PlanSettings((INDEXES,)))
    assert asyncio.run(again.execute(again.plan("start", "1"))).ok
    watched(again, clock, 120)
    watched(again, clock, 300, figs(e5=None))
    watched(again, clock, 190)
    unseen = again.window(figs()).phases[0].unseen_s
    assert unseen is not None and 300.0 <= unseen <= 300.0 + 30.0  # looks kept every 30 s
    assert again.plan("pass", "1", figs()).needs_override

    # A console's looks (written down every 30 s) leave no stretch: a plain pass.
    third = controller(tmp_path / "c", clock, PlanSettings((INDEXES,)))
    assert asyncio.run(third.execute(third.plan("start", "1"))).ok
    watched(third, clock, 610, every=5.0)
    view = third.window(figs()).phases[0]
    assert view.ready and view.unseen_s is not None and view.unseen_s <= 30.0
    assert not third.plan("pass", "1", figs()).needs_override
    assert to_dict(third.window(figs()))["phases"][0]["unseen_s"] == view.unseen_s


def test_replay_keeps_the_watchs_start_through_a_rollback_that_failed() -> None:
    # Live, a failed rollback leaves the phase watching as it was (its countdown goes on);
    # replay must not start the watch again at the failure.
    from sbtop.recording.plan_events import state_at
    from sbtop.recording.reader import Event

    def ev(wall: float, status: str, was: str, result: str | None = None) -> Event:
        return Event(wall, "plan", {"phase": "Indexes", "status": status, "was": was,
                                    "by": "ana", "result": result})

    events = [ev(10, "running", "pending", "start: true"), ev(12, "watching", "running"),
              ev(400, "running", "watching", "rollback: drop"),
              ev(401, "watching", "running", "rollback failed: drop exited 1")]
    rec = state_at(events, 500).phase("Indexes")
    assert (rec.status, rec.started_wall, rec.watch_from_wall) == (Status.WATCHING, 10, 12)
    view = judge_window(PlanSettings((PhaseSettings("Indexes", watch_s=600.0),)),
                        state_at(events, 500), {}, 500).phases[0]
    assert view.watch_left_s == 112.0 and view.rollback_failed is not None


def test_an_unreadable_record_is_kept_aside_not_written_over(tmp_path: Path) -> None:
    # A hand edit gone wrong, a disk that lost a block: the window's record (who passed what,
    # the overrides) read as nothing must still be there to read after the next change.
    clock = ManualClock()
    store = PlanStore(tmp_path, "staging")
    damaged = b'{"phases": {"Database indexes": {"status": "passed", "by": "ana"'
    store.path.write_bytes(damaged)
    c = controller(tmp_path, clock)
    assert c.state == PlanState() and "kept aside as plan-staging.damaged." in c.store.problem
    assert c.confirm("Database backup completed").ok
    kept = list(tmp_path.glob("plan-staging.damaged.*.json"))
    assert [k.read_bytes() for k in kept] == [damaged]
    assert c.reload().item("Database backup completed").ok is True
    assert controller(tmp_path, clock).store.problem == ""
    assert c.confirm("Database backup completed", undo=True).ok  # nothing more to keep
    assert len(list(tmp_path.glob("plan-staging.damaged.*.json"))) == 1


def test_a_rollback_by_command_still_shows_its_note_and_a_canary_flag_left_up(
        tmp_path: Path) -> None:
    # The runbook's phase 3: its rollback is a git checkout, and the note says what the command
    # does not ("then commit and push; set the flag to 0 first"): the confirmation is where
    # the person reads it.
    from sbtop.engine.gate import Gate

    note = "then commit and push; set the flag to 0 first (sbtop canary abort)"
    phase = PhaseSettings("Optimized routes", canary=True, rollback=("true",),
                          rollback_note=note)
    c = controller(tmp_path, ManualClock(), PlanSettings((phase,)))
    assert asyncio.run(c.execute(c.plan("start", "1"))).ok
    lines = c.plan("rollback", "1", figs(), Gate(25, 100, 3600.0, 1200.0, ())).describe()
    assert f"  note: {note}" in lines
    assert "  note: the canary flag is at 25 %: sbtop canary abort sets it to 0" in lines
    at_zero = c.plan("rollback", "1", figs(), Gate(0, 5, 0.0, 0.0, ())).describe()
    assert not any("canary flag" in x for x in at_zero)
def test_a_canary_phase_on_its_way_up_the_ladder_is_not_failing() -> None:
    """The canary phase passes once the ladder is at its top; until then it is not done, not
    failing. It was judged failing from its first second (at 0 %, before any step): the
    console's header said FAILING in red for the whole ladder, `plan status` exited 2, the
    watch's end was told as a failure. Below the top it is not judged (so it cannot pass
    without an override); at the top it passes; a step that cannot be read is unknown."""
    from sbtop.engine.gate import GateSettings, evaluate

    phase = PhaseSettings("Optimized routes", watch_s=60.0, canary=True)
    state = PlanState({"Optimized routes": PhaseRecord(Status.WATCHING, 1000.0, 1000.0)})

    def judged(percent: int | None, now: float) -> PhaseView:
        gate = evaluate(percent, 1000.0, now, 200.0, figs(p95=200.0, e5=0.1), GateSettings())
        got = judge_window(PlanSettings((phase,)), state, figs(p95=200.0, e5=0.1), now,
                           gate).current
        assert got is not None
        return got

    for percent in (0, 5, None):
        for now in (1010.0, 1100.0):  # during the watch, and after it
            p = judged(percent, now)
            assert not p.failing and not p.ready, (percent, now)
            assert not p.verdict.startswith("FAILING")
    assert judged(5, 1100.0).unjudged  # the watch over, the ladder not at its top
    top = judged(100, 1100.0)
    assert top.ready and not top.failing
    # No gate at all (no deploy actions for the target: no flag to read): the step cannot be
    # known, so the phase cannot say it reached the top. It passed plainly at any step.
    blind = judge_window(PlanSettings((phase,)), state, figs(p95=200.0, e5=0.1), 1100.0,
                         None).current
    assert blind is not None and not blind.ready and not blind.failing
    assert [c.shown for c in blind.unjudged] == [
        "canary step unknown: sbtop has no canary flag to read here (no deploy actions for "
        "this target)"]


def test_a_console_watching_while_another_action_holds_the_lock_is_not_unseen(
        tmp_path: Path) -> None:
    # A canary step (or a restart through a slow provider, up to its 300 s timeout) holds the
    # target's one lock for 150 s; the console goes on looking every 5 s. Its looks were
    # dropped while the lock was held: the watch read "unseen for 2m55s" and needed an
    # override though it was seen throughout.
    clock = ManualClock()
    c = controller(tmp_path, clock, PlanSettings((INDEXES,)))
    assert asyncio.run(c.execute(c.plan("start", "1"))).ok
    watched(c, clock, 200, every=5.0)
    with PlanStore(tmp_path, "staging").locked("canary next"):
        watched(c, clock, 150, every=5.0)
    watched(c, clock, 260, every=5.0)
    view = c.window(figs()).phases[0]
    assert view.ready, view.verdict
    assert view.unseen_s is not None and view.unseen_s <= LOOK_EVERY_S


def test_a_breach_seen_while_another_action_holds_the_lock_is_remembered(
        tmp_path: Path) -> None:
    # 5xx at 7 % for a minute during a canary step, then back: the breach was dropped with the
    # look, and the phase read "ready to pass" with no override.
    clock = ManualClock()
    c = controller(tmp_path, clock, PlanSettings((INDEXES,)))
    assert asyncio.run(c.execute(c.plan("start", "1"))).ok
    watched(c, clock, 200, every=5.0)
    with PlanStore(tmp_path, "staging").locked("canary next"):
        watched(c, clock, 60, figs(e5=7.0), every=5.0)
    watched(c, clock, 350, every=5.0)
    view = c.window(figs()).phases[0]
    assert not view.ready, view.verdict
    assert "broke during the watch" in view.verdict or view.failing, view.verdict
    # And the record on disk holds it, with the time it was first seen (inside the step).
    breach = PlanStore(tmp_path, "staging").load().phase("Database indexes").breaches
    assert breach and min(b.wall for b in breach.values()) < clock.now()[1] - 350


def test_a_watch_left_unseen_live_is_unseen_in_replay_and_the_timeline(tmp_path: Path) -> None:
    # Live, nothing looked at the watch for 5 minutes (no console, or a figure unknown): a
    # pass needs an override. Replay counts each recorded tick as a look, so it read "ready
    # to pass" over the same watch: the record's unseen stretch is now an event of its own.
    from sbtop import format
    from sbtop.recording.plan_events import state_at, text
    from sbtop.recording.reader import Event
    from sbtop.session.plan import changes

    clock = ManualClock()
    c = controller(tmp_path, clock, PlanSettings((INDEXES,)))
    before = c.reload()
    assert asyncio.run(c.execute(c.plan("start", "1"))).ok
    watched(c, clock, 120)
    watched(c, clock, 300, figs(e5=None))  # the 5xx rate unknown: not looked at
    watched(c, clock, 190)
    after = c.reload()
    assert after.phase("Database indexes").unseen_s >= 300
    events = [Event(e.pop("wall", None) or clock.now()[1], "plan", e)
              for e in changes(before, after, figs())]
    said = [text(e.data) for e in events if "unseen_s" in e.data]
    assert said == [f"plan phase Database indexes: its figures went unseen for "
                    f"{format.duration(after.phase('Database indexes').unseen_s)} of the "
                    "watch (a pass needs an override)"]
    now = clock.now()[1]
    live = c.window(figs()).phases[0]
    replayed = judge_window(PlanSettings((INDEXES,)), state_at(events, now), figs(),
                            now).phases[0]
    assert not live.ready and not replayed.ready, replayed.verdict
    assert replayed.unwatched is not None


def test_a_breach_held_from_a_watch_since_started_again_is_not_the_new_watchs(
        tmp_path: Path) -> None:
    # Held while a canary step had the lock; meanwhile another sbtop rolled the phase back
    # and started it again: the old watch's 5xx breach landed on the new watch, failing it.
    clock = ManualClock()
    c = controller(tmp_path, clock, PlanSettings((INDEXES,)))
    other = controller(tmp_path, clock, PlanSettings((INDEXES,)))
    assert asyncio.run(c.execute(c.plan("start", "1"))).ok
    watched(c, clock, 100, every=5.0)
    with PlanStore(tmp_path, "staging").locked("canary next"):
        watched(c, clock, 20, figs(e5=7.0), every=5.0)
    clock.advance(1)
    other.reload()
    assert asyncio.run(other.execute(other.plan("rollback", "1"))).ok
    clock.advance(1)
    other.reload()
    assert asyncio.run(other.execute(other.plan("start", "1"))).ok
    watched(c, clock, 5, every=5.0)  # a healthy look gets the lock: what was held is written
    assert PlanStore(tmp_path, "staging").load().phase("Database indexes").breaches == {}


def test_looks_held_past_the_watchs_end_stop_at_the_first(tmp_path: Path) -> None:
    # An action holding the lock for good (its sbtop stopped with SIGSTOP): a look a tick was
    # held for ever. Past the watch's end one look closes it; no more are kept.
    clock = ManualClock()
    c = controller(tmp_path, clock, PlanSettings((INDEXES,)))
    assert asyncio.run(c.execute(c.plan("start", "1"))).ok
    with PlanStore(tmp_path, "staging").locked("restart"):
        watched(c, clock, 900, every=5.0)  # 600 s of watch, then 300 s more
    held = c._held_looks["Database indexes"]
    assert held[-1] >= watch_end(c.settings, c.state, "Database indexes")
    # The first held look is the one due LOOK_EVERY_S after the start, then one a tick.
    assert len(held) == (600 - int(LOOK_EVERY_S)) // 5 + 1


def test_an_unseen_stretch_just_over_the_bound_stays_over_it_in_replay() -> None:
    # 120.04 s unseen live (over 120: a pass needs an override) was written rounded, 120.0,
    # and replay read the watch as seen.
    import copy

    from sbtop.recording.plan_events import state_at
    from sbtop.recording.reader import Event
    from sbtop.session.plan import changes

    settings, wall = PlanSettings((INDEXES,)), 1_800_000_000.0
    before = PlanState({"Database indexes": PhaseRecord(Status.WATCHING, started_wall=wall,
                                                        watch_from_wall=wall)})
    after = copy.deepcopy(before)
    rec = after.phases["Database indexes"]
    rec.unseen_s, rec.looked_wall = 120.04, wall + 150.04
    events = [Event(wall, "plan", {"phase": "Database indexes", "status": "watching",
                                   "was": "pending"})]
    events += [Event(e.pop("wall"), "plan", e) for e in changes(before, after, figs())]
    now = wall + 160
    live = judge_window(settings, after, figs(), now).phases[0]
    replayed = judge_window(settings, state_at(events, now), figs(), now).phases[0]
    assert live.unwatched is not None and replayed.unwatched is not None


@pytest.mark.parametrize("value", [10 ** 400, -5, 1e300, float("nan"), "600", None, True],
                         ids=["400-digit int", "negative", "1e300", "nan", "string", "null",
                              "true"])
def test_a_hostile_recorded_stretch_or_breach_is_ignored_not_a_crash(value: object) -> None:
    # A JSON integer of 400 digits is a Python int that float() raises on: the timeline and
    # replay died on such a recording.
    from sbtop.recording.plan_events import state_at, text
    from sbtop.recording.reader import Event

    events = [Event(10, "plan", {"phase": "Indexes", "status": "watching", "was": "pending"}),
              Event(20, "plan", {"phase": "Indexes", "unseen_s": value}),
              Event(30, "plan", {"phase": "Indexes", "breach": "error_rate_5xx_pct < 1 (during)",
                                 "value": value})]
    rec = state_at(events, 40).phase("Indexes")
    assert rec.unseen_s == 0.0
    (kept,) = [b.value for b in rec.breaches.values()]
    assert kept is None or (math.isfinite(kept) and kept == value)  # a finite number stands
    assert text(events[1].data) == ("plan phase Indexes: its figures went unseen of the watch "
                                    "(a pass needs an override)")
