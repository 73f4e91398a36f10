"""A new deploy window: the plan's record started afresh (`sbtop plan reset`, R in the Plan
view). Last window's passed phases and confirmations would otherwise stand until someone
deleted the file by hand. The old record is archived beside the new one
(plan-TARGET.<UTC time>.json), never deleted; refused while a phase's command runs; under the
target's one lock (single-flight with every other action); confirmed like any action (the
target's name typed on production) and audited, its dry run included. The fresh record says
when it was reset and by whom, so the live session writes a "plan" event for the recording."""

from __future__ import annotations

from dataclasses import dataclass

from sbtop.actions.phases import PlanController, PlanError, who
from sbtop.actions.plan import Outcome
from sbtop.actions.state import LockedError, StateDirError
from sbtop.engine.window import PlanState, Reset, Status

TITLE = "plan reset"


@dataclass(frozen=True)
class ResetPlan:
    """What a reset will do, for the confirmation."""

    target: str
    production: bool
    archive_from: str  # the record's file name ("" when there is no record)
    held: tuple[str, ...]  # what the record holds now, in words

    @property
    def needs_override(self) -> bool:
        return False  # confirmed, never overridden: refused outright while a command runs

    @property
    def title(self) -> str:
        return TITLE

    def describe(self) -> list[str]:
        where = "PRODUCTION " if self.production else ""
        lines = [f"{TITLE} on {where}target {self.target}: start a new deploy window"]
        if not self.archive_from:
            return [*lines, "  no record yet: nothing to archive"]
        stem = self.archive_from.removesuffix(".json")
        lines.append(f"  the record {self.archive_from} is archived beside it "
                     f"({stem}.<UTC time>.json), not deleted")
        lines += [f"  it holds: {h}" for h in self.held] or ["  it holds nothing yet"]
        lines.append("  after: every phase pending, every pre-flight item open "
                     "(the canary's state is left as it is)")
        return lines


def plan_reset(c: PlanController) -> ResetPlan:
    """What a reset would do now; PlanError while a phase's command runs."""
    state = c.reload()
    _refuse_running(state)
    exists = c.store.exists()
    return ResetPlan(c.target, c.production, c.store.path.name if exists else "",
                     _held(state) if exists else ())


def execute_reset(c: PlanController, plan: ResetPlan, *, dry_run: bool = False) -> Outcome:
    """Archive the record and start a fresh one, under the lock (the record read again: a
    phase started since the plan was shown is refused, not archived away)."""
    record = c._record(TITLE, None, dry_run=dry_run)
    if c.busy is not None:
        return c._refuse(record, f"refused: {c.busy} is still running")
    if dry_run:
        what = (f"would archive {plan.archive_from} and start a new record"
                if plan.archive_from else "no record: nothing to archive")
        return c._done(record, True, f"dry run: {what}; nothing was changed")
    c.busy = TITLE
    try:
        with c.store.locked(TITLE):
            state = c.store.load()
            try:
                _refuse_running(state)
            except PlanError as e:
                return c._refuse(record, f"refused: {e} (changed since it was planned)")
            now = c.clock.now()[1]
            archived = c.store.archive(now) if c.store.exists() else None
            fresh = PlanState(reset=Reset(now, who(), archived.name if archived else None))
            c.store.save(fresh)
            c.state = fresh
    except LockedError as e:
        return c._refuse(record, f"refused: another sbtop is acting on {c.target} ({e})")
    except StateDirError as e:
        return c._done(record, False, str(e))
    finally:
        c.busy = None
    text = ("a new deploy window: " + (f"the old record archived as {archived.name}"
                                       if archived else "there was no record to archive"))
    return c._done({**record, "archived": archived.name if archived else None}, True, text)


def _refuse_running(state: PlanState) -> None:
    running = [n for n, r in state.phases.items() if r.status is Status.RUNNING]
    if running:
        raise PlanError(f"phase {', '.join(running)} is running its command now: wait for "
                        "it to finish (or sbtop plan status for what it did), then reset")


def _held(state: PlanState) -> tuple[str, ...]:
    """The record in a few words: how many phases are in each status, items confirmed."""
    counts: dict[str, int] = {}
    for rec in state.phases.values():
        if rec.status is not Status.PENDING:
            counts[str(rec.status)] = counts.get(str(rec.status), 0) + 1
    out = [f"{n} phase{'s' if n > 1 else ''} {status}" for status, n in counts.items()]
    done = sum(1 for i in state.preflight.values() if i.ok is not None)
    if done:
        out.append(f"{done} pre-flight item{'s' if done > 1 else ''} checked or confirmed")
    passed = sum(1 for i in state.preflight.values() if i.overridden)
    if passed:
        out.append(f"{passed} pre-flight item{'s' if passed > 1 else ''} overridden")
    return tuple(out)
