"""`sbtop plan ...` on the command line: the same PlanController as the console's Plan view.

reset starts a new deploy window (the old record archived beside the new one, confirmed as
an action; refused while a phase's command runs);
status prints where the window stands (exit 0, or 2 when the phase in hand is failing: a
criterion broken, its command failed); preflight runs the live pre-flight checks (0 all ok,
2 some failed); confirm ITEM records a person's item; start / pass / rollback PHASE show the
plan first and ask (the target's name typed for a production target, y for others, or
--yes); what needs an override is refused (exit 1) unless --override "typed reason" is given.
Exit codes as the other actions: 0 done, 1 refused, 2 failed, 3 usage or configuration."""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sbtop.actions.commands import (
    EXIT_DONE,
    EXIT_FAILED,
    EXIT_REFUSED,
    CommandError,
    _in_loop,
    confirm_or_stop,
)
from sbtop.actions.phases import PhasePlan, PlanController, PlanError, build_plan_controller
from sbtop.actions.preflight import PreflightContext, run_checks
from sbtop.actions.state import CanaryState, StateDirError, StateStore
from sbtop.clock import SYSTEM, Clock
from sbtop.engine import words
from sbtop.engine.assessment import Assessment, iso
from sbtop.engine.figures import Figure
from sbtop.engine.gate import Gate, evaluate
from sbtop.engine.keys import Fig
from sbtop.engine.transitions import action_finished
from sbtop.engine.window import PhaseView, PlanState, Status, Window, judge_window, to_dict
from sbtop.notify.settings import NotifySettings
from sbtop.notify.team import tell_team
from sbtop.wiring import Wiring

# The assessment the judgement is made on, over a window of so many seconds.
Assess = Callable[[float], Awaitable[Assessment]]
NEEDS_FIGURES = ("status", "preflight", "start", "pass")


def run_plan(wiring: Wiring, verb: str, name: str | None, *, state_dir: Path,
             assess: Assess, yes: bool = False, dry_run: bool = False,
             override: str | None = None, undo: bool = False, window_s: float = 10.0,
             as_json: bool = False, ask: Callable[[str], str] = input,
             out: Callable[[str], None] = print, clock: Clock = SYSTEM,
             read_only: bool = False) -> int:
    """The command: SIGTERM or SIGHUP while a phase's command runs stop it as the canary's
    actions are stopped (its process group, the record saying interrupted)."""
    return _in_loop(plan_main(wiring, verb, name, state_dir=state_dir, assess=assess,
                              yes=yes, dry_run=dry_run, override=override, undo=undo,
                              window_s=window_s, as_json=as_json, ask=ask, out=out,
                              clock=clock, read_only=read_only))


async def plan_main(wiring: Wiring, verb: str, name: str | None, *, state_dir: Path,
                    assess: Assess, yes: bool = False, dry_run: bool = False,
                    override: str | None = None, undo: bool = False, window_s: float = 10.0,
                    as_json: bool = False, ask: Callable[[str], str] = input,
                    out: Callable[[str], None] = print, clock: Clock = SYSTEM,
                    read_only: bool = False) -> int:
    c, reason = build_plan_controller(wiring.plan, wiring.name, wiring.production, state_dir,
                                      clock, read_only=read_only)
    if c is None:
        raise CommandError(reason)
    if c.store.problem:
        out(f"warning: {c.store.problem}")
    try:
        # A read-only look changes no record (as the console's read-only session does not):
        # a phase left running by a dead sbtop is shown running, for a deployer to settle.
        note = None if read_only else c.recover()
        if note:
            out(f"note: {note}")
        if verb == "reset":
            return _reset(c, yes=yes, dry_run=dry_run, ask=ask, out=out)
        if verb == "preflight" and dry_run:
            return _preflight_dry_run(c, out)
        a: Assessment | None = None
        if verb in NEEDS_FIGURES:
            if not as_json:
                out(f"reading the figures ({window_s:g} s)...")
            a = await assess(window_s)
        figures: Mapping[str, Figure] = a.figures if a is not None else {}
        if verb in ("status", "pass") and not read_only and not dry_run:
            # Every look counts, the console's or this one: a 'during' criterion broken
            # now is remembered, though the figure recovers before the pass.
            c.record_breaches(figures)
        gate = canary_gate(wiring, state_dir, figures, c.clock.now()[1])
        if verb == "status":
            w = c.window(figures, gate)
            if as_json:
                out(json.dumps(to_dict(w), indent=2, allow_nan=False))
            else:
                for line in status_lines(w, wiring.name):
                    out(line)
            failing = w.current is not None and (w.current.status is Status.FAILED
                                                 or bool(w.current.failing)
                                                 or w.current.rollback_failed is not None)
            return EXIT_FAILED if failing else EXIT_DONE
        if verb == "preflight":
            return await _preflight(c, wiring, state_dir, a, out)
        if verb == "confirm":
            assert name is not None
            done = c.confirm(name, undo=undo, dry_run=dry_run)
            out(done.text)
            return EXIT_REFUSED if done.refused else EXIT_DONE
        assert name is not None
        plan = c.plan(verb, name, figures, gate)
        return await _act(c, plan, yes=yes, dry_run=dry_run, override=override, ask=ask,
                          out=out, notify=wiring.notify)
    except PlanError as e:
        out(f"not done: {e}")
        return EXIT_REFUSED
    except StateDirError as e:
        raise CommandError(str(e)) from None


def canary_gate(wiring: Wiring, state_dir: Path, figures: Mapping[str, Figure],
                now_wall: float) -> Gate | None:
    """The canary's gate as the state file has it (the provider is not asked: the deploying
    sbtop keeps the step there); None without a canary."""
    if wiring.actions is None:
        return None
    store = StateStore(state_dir, wiring.name)
    canary = store.load().canary if store.path.exists() else CanaryState()
    return evaluate(None if canary.read_error else canary.percent, canary.step_started_wall,
                    now_wall, canary.baseline.get(Fig.LATENCY_P95_MS), figures,
                    wiring.actions.gate)


def _preflight_dry_run(c: PlanController, out: Callable[[str], None]) -> int:
    """What the pre-flight would check and run: nothing run (a command item may do anything
    its argv says), nothing recorded but the dry run's audit line."""
    for i in c.settings.preflight:
        if i.kind == "command":
            what = f"would run {shlex.join(i.command)} (no shell, timeout {i.timeout_s:g} s)"
        elif i.kind == "sql":
            what = f"would query the database (read only, timeout {i.timeout_s:g} s)"
        elif i.kind == "confirm":
            what = "confirmed by a person (sbtop plan confirm)"
        else:
            what = f"would check ({i.kind})"
        out(f"  {i.name}: {what}")
    text = "dry run: nothing was run or recorded"
    c.audit.append({"target": c.target, "action": "plan preflight", "dry_run": True,
                    "result": text})
    out(text)
    return EXIT_DONE


async def _preflight(c: PlanController, wiring: Wiring, state_dir: Path, a: Assessment | None,
               out: Callable[[str], None]) -> int:
    store = StateStore(state_dir, wiring.name)
    canary = store.load().canary if store.path.exists() else None
    ctx = PreflightContext(a, canary.baseline if canary else None, wiring.collector.dsn,
                           wiring.collector.db.connect_timeout_s,
                           canary.baseline_wall if canary else None, c.clock.now()[1])
    results = await run_checks(c.settings.preflight, ctx)
    c.record_checks(results)
    w = c.window(a.figures if a is not None else {})
    for i in w.preflight:
        out(f"  {_mark(i.ok, i.kind == 'confirm')} {i.name}: {i.shown}")
    failed = [n for n, (ok, _) in results.items() if not ok]
    out(f"pre-flight: {len(results) - len(failed)} of {len(results)} live items ok; "
        f"{sum(1 for i in w.preflight if i.ok is not True)} of {len(w.preflight)} items open")
    return EXIT_FAILED if failed else EXIT_DONE


async def _act(c: PlanController, plan: PhasePlan, *, yes: bool, dry_run: bool,
               override: str | None, ask: Callable[[str], str],
               out: Callable[[str], None], notify: NotifySettings) -> int:
    for line in plan.describe():
        out(line)
    if plan.needs_override and not override:
        done = await c.execute(plan)
        out(done.text.replace("give a typed override reason",
                              'give --override "the reason"'))
        return EXIT_REFUSED
    if not dry_run and not yes:
        stopped = confirm_or_stop(plan, ask, out, c.audit, "nothing was run", {
            "target": plan.target, "action": plan.title, "phase": plan.phase.name})
        if stopped is not None:
            return stopped
    try:
        done = await c.execute(plan, override=override if plan.needs_override else None,
                               dry_run=dry_run, progress=lambda t: out(f"  ... {t}"))
    except asyncio.CancelledError:
        # SIGTERM or SIGHUP: the record and the audit say interrupted; so does the output.
        said = c.state.phase(plan.phase.name).result or ""
        out(said if said.startswith("interrupted") else
            "interrupted: sbtop stopped; see sbtop plan status for what was recorded")
        raise
    out(done.text)
    if not dry_run and not done.refused:
        # Told as the console's phase actions are (the session announces them).
        await tell_team(notify, action_finished(plan.title, done.ok, done.text, plan.target),
                        lambda t: out(f"note: {t}"))
    if done.refused:
        return EXIT_REFUSED
    return EXIT_DONE if done.ok else EXIT_FAILED


def _reset(c: PlanController, *, yes: bool, dry_run: bool, ask: Callable[[str], str],
           out: Callable[[str], None]) -> int:
    """A new deploy window: the plan shown, confirm_or_stop, the old record archived."""
    from sbtop.actions.plan_reset import TITLE, execute_reset, plan_reset

    plan = plan_reset(c)
    for line in plan.describe():
        out(line)
    if not dry_run and not yes:
        stopped = confirm_or_stop(plan, ask, out, c.audit, "nothing was changed",
                                  {"target": c.target, "action": TITLE})
        if stopped is not None:
            return stopped
    done = execute_reset(c, plan, dry_run=dry_run)
    out(done.text)
    if done.refused:
        return EXIT_REFUSED
    return EXIT_DONE if done.ok else EXIT_FAILED


def _mark(ok: bool | None, person: bool) -> str:
    if ok:
        return "ok  "
    if ok is None:
        return "open"
    return "FAIL" if not person else "open"


def status_lines(w: Window, target: str) -> list[str]:
    """The window in text: where it stands, the pre-flight, every phase and its criteria."""
    lines = [f"deploy window on {target}: {w.stands}"]
    if w.preflight:
        lines.append("pre-flight:")
        lines += [f"  {_mark(i.ok, i.kind == 'confirm')} {i.name}: {i.shown}"
                  + (f" ({iso(i.wall)})" if i.wall else "") for i in w.preflight]
    lines.append("phases:")
    for p in w.phases:
        lines += _phase_lines(p)
    if w.contacts:
        lines += [f"contacts: {c}" for c in w.contacts]
    return lines


def _phase_lines(p: PhaseView) -> list[str]:
    s = p.settings
    expected = ""
    if s.duration_min_s is not None and s.duration_max_s is not None:
        low, high = words.duration(s.duration_min_s), words.duration(s.duration_max_s)
        expected = f", {low}" if low == high else f", {low}-{high}"
    watch = f", watch {words.duration(s.watch_s)}" if s.watch_s else ""
    canary = ", canary" if s.canary else ""
    when = ""
    if p.started_wall is not None:
        when = f" (started {iso(p.started_wall)} by {p.by or '?'})"
    if p.ended_wall is not None:
        when = f" ({p.status} {iso(p.ended_wall)} by {p.by or '?'})"
    out = [f"  {p.number} {p.name} [{s.risk}{expected}{watch}{canary}]: {p.verdict}{when}"]
    if p.override:
        out.append(f"      override: {p.override}")
    if p.status in (Status.WATCHING, Status.FAILED, Status.RUNNING):
        if p.unwatched is not None and not p.watch_over:  # (once over, the verdict says it)
            out.append(f"      note: {p.unwatched}")
        for cr in p.criteria:
            out.append(f"      {_mark(cr.passed, False) if cr.passed is not None else 'n/a '} "
                       f"{cr.shown}")
        back = shlex.join(s.rollback) if s.rollback else ""  # the argv as it runs
        note = s.rollback_note
        out.append("      rollback: " + "; ".join(x for x in (back, note) if x)
                   if back or note else "      rollback: none configured")
    return out


@dataclass(frozen=True)
class PlanReport:
    """The deploy window for `sbtop check`: its line of text and its JSON ("plan")."""

    stands: str
    json: dict[str, Any]


def plan_report(wiring: Wiring, a: Assessment, state_dir: Path,
                clock: Clock = SYSTEM) -> PlanReport | None:
    """Judged on check's own figures, from the record a deploying sbtop keeps (read only:
    no directory is made where none is). None without [plan] phases."""
    settings = wiring.plan
    if settings is None or not settings.phases:
        return None
    from sbtop.actions.plan_state import PlanStore

    store = PlanStore(state_dir, wiring.name)
    now = clock.now()[1]
    try:
        state = store.load() if store.exists() else PlanState()
        gate = canary_gate(wiring, state_dir, a.figures, now)
    except StateDirError as e:
        return PlanReport(f"unknown: {e}", {"stands": None, "error": str(e)})
    w = judge_window(settings, state, a.figures, now, gate)
    return PlanReport(w.stands, to_dict(w))
