"""`sbtop plan reset`: a new deploy window. The old record archived beside the new one, never
deleted; refused while a phase's command runs; single-flight under the target's lock;
confirmed (the target's name on production) and audited; a dry run changes nothing; the
recording gets a plan event and replay starts the window afresh from it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from sbtop.actions.audit import AuditLog
from sbtop.actions.plan_commands import plan_main
from sbtop.actions.plan_reset import execute_reset, plan_reset
from sbtop.actions.plan_state import PlanStore
from sbtop.clock import ManualClock
from sbtop.config import resolve
from sbtop.config.files import parse
from sbtop.engine.assessment import Assessment
from sbtop.engine.window import ItemRecord, PhaseRecord, PlanState, Reset, Status
from sbtop.recording import plan_events
from sbtop.recording.reader import Event
from sbtop.session.plan import changes
from tests.test_plan import controller


def _config(production: bool = False) -> dict[str, object]:
    return {"targets": {"x": {"base_url": "http://127.0.0.1:9", "production": production}},
            "plan": {"phases": [{"name": "A"}, {"name": "B"}],
                     "preflight": [{"name": "Backup done"}]}}


def _last_window(store: PlanStore) -> PlanState:
    state = PlanState({"A": PhaseRecord(Status.PASSED, 1.0e9, 1.0e9, 1.0e9 + 60, "ann")},
                      {"Backup done": ItemRecord(True, "", 1.0e9, "ann")})
    store.save(state)
    return state


async def _no_figures(_s: float) -> Assessment:
    raise AssertionError("a reset reads no figures")


def _reset(tmp_path: Path, *, production: bool = False, ask: Callable[[str], str] = input,
           **kw: bool) -> tuple[int, list[str]]:
    said: list[str] = []
    clock = ManualClock()
    clock.wall = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    code = asyncio.run(plan_main(resolve(parse(_config(production))), "reset", None,
                                 state_dir=tmp_path, assess=_no_figures, out=said.append,
                                 ask=ask, clock=clock, **kw))  # type: ignore[arg-type]
    return code, said


def test_a_reset_archives_last_windows_record_beside_it_and_starts_afresh(
        tmp_path: Path) -> None:
    store = PlanStore(tmp_path, "x")
    _last_window(store)
    old = store.path.read_bytes()
    code, said = _reset(tmp_path, yes=True)
    assert code == 0, said
    archived = tmp_path / "plan-x.20270115T080000Z.json"
    assert archived.read_bytes() == old  # kept whole, never deleted
    assert said[-1] == f"a new deploy window: the old record archived as {archived.name}"
    fresh = store.load()
    assert fresh.phases == {} and fresh.preflight == {}
    assert fresh.reset is not None and fresh.reset.archived == archived.name
    entry = AuditLog(tmp_path / "audit.jsonl").read()[-1]
    assert entry["action"] == "plan reset" and entry["ok"] is True
    assert entry["archived"] == archived.name
    # A second reset in the same second keeps both archives.
    assert _reset(tmp_path, yes=True)[0] == 0
    assert archived.exists() and (tmp_path / "plan-x.20270115T080000Z-2.json").exists()


def test_a_reset_dry_run_changes_nothing_and_is_audited(tmp_path: Path) -> None:
    store = PlanStore(tmp_path, "x")
    _last_window(store)
    old = store.path.read_bytes()
    code, said = _reset(tmp_path, dry_run=True)
    assert code == 0
    assert "  it holds: 1 phase passed" in said
    assert said[-1] == ("dry run: would archive plan-x.json and start a new record; nothing "
                        "was changed")
    assert store.path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.glob("plan-x*")) == ["plan-x.json"]
    assert AuditLog(tmp_path / "audit.jsonl").read()[-1]["dry_run"] is True


def test_a_reset_on_production_needs_the_targets_name_typed(tmp_path: Path) -> None:
    store = PlanStore(tmp_path, "x")
    _last_window(store)
    old = store.path.read_bytes()
    asked: list[str] = []

    def say_y(prompt: str) -> str:
        asked.append(prompt)
        return "y"

    code, said = _reset(tmp_path, production=True, ask=say_y)
    assert code == 1 and "type the target's name (x)" in asked[0]
    assert said[-1] == "cancelled: nothing was changed" and store.path.read_bytes() == old
    assert _reset(tmp_path, production=True, ask=lambda _p: "x")[0] == 0
    assert store.load().phases == {}


def test_a_reset_is_refused_while_a_phase_command_runs(tmp_path: Path) -> None:
    clock = ManualClock()
    c = controller(tmp_path, clock)
    c.store.save(PlanState({"Database indexes": PhaseRecord(Status.RUNNING, clock.wall)}))
    old = c.store.path.read_bytes()
    with c.store.locked("plan start phase 1"):  # another sbtop runs its command right now
        code, said = _reset_staging(tmp_path)
    assert code == 1 and said[-1].startswith("not done: phase Database indexes is running")
    assert c.store.path.read_bytes() == old


def _reset_staging(tmp_path: Path) -> tuple[int, list[str]]:
    cfg = {"targets": {"staging": {"base_url": "http://127.0.0.1:9"}},
           "plan": {"phases": [{"name": "Database indexes"}]}}
    said: list[str] = []
    code = asyncio.run(plan_main(resolve(parse(cfg)), "reset", None, state_dir=tmp_path,
                                 assess=_no_figures, out=said.append, yes=True))
    return code, said


def test_a_reset_is_single_flight_under_the_targets_lock(tmp_path: Path) -> None:
    clock = ManualClock()
    c = controller(tmp_path, clock)
    c.store.save(PlanState({"Database indexes": PhaseRecord(Status.PASSED, clock.wall)}))
    plan = plan_reset(c)
    with c.store.locked("canary next"):
        done = execute_reset(c, plan)
    assert done.refused and "another sbtop is acting on staging" in done.text
    assert c.store.load().phase("Database indexes").status is Status.PASSED
    # A phase started between the plan shown and the go-ahead is not archived away.
    c.store.save(PlanState({"Database indexes": PhaseRecord(Status.RUNNING, clock.wall)}))
    done = execute_reset(c, plan)
    assert done.refused and "changed since it was planned" in done.text


def test_a_reset_is_a_plan_event_and_replay_starts_the_window_afresh() -> None:
    before = PlanState({"A": PhaseRecord(Status.WATCHING, 10.0, 10.0)})
    after = PlanState(reset=Reset(50.0, "ann", "plan-x.20270115T080000Z.json"))
    found = changes(before, after, {})
    assert [e["reset"] for e in found] == [True]
    assert plan_events.text(found[0]) == ("plan reset by ann: a new deploy window (the old "
                                          "record archived as plan-x.20270115T080000Z.json)")
    events = [Event(10.0, "plan", {"phase": "A", "status": "watching", "was": "pending"}),
              Event(50.0, "plan", found[0])]
    assert plan_events.state_at(events, 40.0).phase("A").status is Status.WATCHING
    assert plan_events.state_at(events, 60.0).phases == {}
    [span] = plan_events.spans(events)
    assert (span.name, span.how, span.ended) == ("A", "reset", 50.0)
    assert changes(after, after, {}) == []  # told once


def test_plan_reset_on_the_command_line_needs_no_name(tmp_path: Path) -> None:
    from tests.cli import run_sbtop

    cfg = tmp_path / "c.toml"
    cfg.write_text('[targets.x]\nbase_url = "http://127.0.0.1:9"\n'
                   '[[plan.phases]]\nname = "A"\n')
    r = run_sbtop("--config", str(cfg), "plan", "reset", "--yes", "--state-dir",
                  str(tmp_path / "st"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().splitlines()[-1] == ("a new deploy window: there was no record "
                                                 "to archive")
    assert json.loads((tmp_path / "st" / "plan-x.json").read_text())["reset"]["by"]
