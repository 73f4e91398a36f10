"""The deploy window's actions: start, pass or roll back a phase, confirm a pre-flight item,
run the pre-flight checks. The console's Plan view and `sbtop plan` share this one layer.

Like the canary's Controller, every action first has a plan (PhasePlan: what will be done, the
argv that will run, and why an override is needed, if it is); the caller shows it, asks for
the confirmation, and hands it back to `execute`. Refusals, dry runs, overrides (with the
typed reason) and results are each one line in the audit log. Acting is single-flight within
the process (`busy`) and across sbtops (the target's lock, shared with the canary's actions).
A phase's command runs as the command provider's do: argv without a shell, its own process
group, a timeout, stopped with its group when sbtop is stopped.

sbtop never moves the window on by itself: a watch that ends makes a phase ready to pass,
never passed."""

from __future__ import annotations

import asyncio
import enum
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sbtop import untrusted
from sbtop.actions import audit
from sbtop.actions.audit import AuditLog
from sbtop.actions.plan import Outcome, finished, refused
from sbtop.actions.plan_state import PlanStore
from sbtop.actions.providers import ActionError, CommandProvider
from sbtop.actions.render import Progress
from sbtop.actions.state import LockedError
from sbtop.clock import SYSTEM, Clock
from sbtop.engine.figures import Figure
from sbtop.engine.gate import Gate
from sbtop.engine.window import (
    PASS_OVERRIDE,
    ROLLBACK_FAILED,
    Breach,
    ItemKind,
    ItemRecord,
    PhaseRecord,
    PhaseSettings,
    PlanSettings,
    PlanState,
    PreflightSettings,
    Status,
    Window,
    breaches,
    judge_window,
    looked_at,
    looks,
    watch_end,
    write_looks,
)

MIN_REASON = 8  # characters of a typed override reason: a word or two, not "y"


class PhaseRequest(enum.StrEnum):
    START = "start"
    PASS = "pass"
    ROLLBACK = "rollback"


class PlanError(Exception):
    """The request cannot be planned at all (no such phase, already passed, another phase
    in hand): one line; an override does not change it."""


def who() -> str:
    """Who confirms or acts: $USER (the audit's own user name when it is not set)."""
    return os.environ.get("USER") or audit.user()


@dataclass(frozen=True)
class PhasePlan:
    """What a phase request will do, for the confirmation."""

    request: PhaseRequest
    phase: PhaseSettings
    number: int
    target: str
    production: bool
    argv: tuple[str, ...]  # the command that will run (empty: none, recorded only)
    timeout_s: float
    # Why this needs a typed override (empty: it does not): the pre-flight items open, the
    # earlier phases not passed, the watch not over, the criteria failing.
    why_override: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    # What it was judged on: planned again on these under the lock, a record changed since
    # (a breach, an item failed, an earlier phase rolled back) shows as a new reason.
    figures: Mapping[str, Figure] = field(default_factory=dict, repr=False, compare=False)
    gate: Gate | None = field(default=None, repr=False, compare=False)

    @property
    def needs_override(self) -> bool:
        return bool(self.why_override)

    @property
    def title(self) -> str:
        return f"plan {self.request} phase {self.number} {self.phase.name}"

    def describe(self) -> list[str]:
        """The confirmation's text: what, on which target, the command, the reasons."""
        lines = [f"{self.title} on {'PRODUCTION ' if self.production else ''}target "
                 f"{self.target} (risk {self.phase.risk})"]
        if self.argv:
            lines.append(f"  run: {shlex.join(self.argv)}  (no shell, timeout "
                         f"{self.timeout_s:g} s)")
        elif self.request is not PhaseRequest.PASS:
            lines.append("  no command: recorded only (done by hand)")
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  needs an override: {w}" for w in self.why_override]
        return lines


class PhaseCommands(CommandProvider):
    """The command provider's way of running an argv (no shell, own process group, timeout,
    output's tail kept), for a phase's run and rollback and a pre-flight command."""

    async def run_argv(self, argv: Sequence[str], what: str) -> str:
        out = await self._exec(list(argv), what)
        last = out.strip().splitlines()[-1] if out.strip() else "no output"
        return f"{argv[0]} succeeded: {untrusted.line(last, 200)}"  # its output: outside text


class PlanController:
    def __init__(self, target: str, production: bool, settings: PlanSettings,
                 store: PlanStore, audit: AuditLog, clock: Clock = SYSTEM) -> None:
        self.target = target
        self.production = production
        self.settings = settings
        self.store = store
        self.audit = audit
        self.clock = clock
        self.busy: str | None = None
        self.state: PlanState = store.load()
        # Looks and breaches seen while the record could not be written (record_breaches).
        self._held_looks: dict[str, list[float]] = {}
        self._held_breaches: dict[str, dict[str, Breach]] = {}

    # --- reading --------------------------------------------------------------------------

    def reload(self) -> PlanState:
        self.state = self.store.load()
        return self.state

    def window(self, figures: Mapping[str, Figure], gate: Gate | None = None) -> Window:
        return judge_window(self.settings, self.state, figures, self.clock.now()[1], gate)

    def recover(self) -> str | None:
        """A phase left running when an earlier sbtop stopped: failed (interrupted), said."""
        state = self.store.load()
        running = [n for n, r in state.phases.items() if r.status is Status.RUNNING]
        if not running:
            return None
        try:
            with self.store.locked("plan recover"):
                state = self.store.load()
                for name in running:
                    rec = state.phases.get(name)
                    if rec is not None and rec.status is Status.RUNNING:
                        rec.status, rec.result = Status.FAILED, (
                            "interrupted: sbtop stopped before its command finished; check "
                            "what it did")
                        rec.logged(self.clock.now()[1])
                        self.audit.append(self._record(f"plan {name}", name, result=rec.result,
                                                       ok=False))
                self.store.save(state)
                self.state = state
        except LockedError:
            return None  # another sbtop is running it right now
        return (f"phase {', '.join(running)} was interrupted (sbtop stopped while its "
                "command ran): check what it did, then roll it back or start it again")

    def record_breaches(self, figures: Mapping[str, Figure]) -> bool:
        """A look at the watching phases: their 'during' criteria broken now, recorded the
        first time, and the look itself (every LOOK_EVERY_S: a stretch nothing looked at is
        not a stretch that held). The record is only written when there is something new.
        True when it was.

        While another sbtop's action holds the target's lock (a canary step holds it for
        minutes, a phase's command up to its timeout) the looks and breaches are held here
        and written with the first look that gets it: dropped, a watch seen all along read
        as unseen, and a breach seen during a step was never remembered."""
        now = self.clock.now()[1]
        found = breaches(self.settings, self.state, figures, now)
        seen = looks(self.settings, self.state, figures, now)
        if not found and not seen and not self._held_looks and not self._held_breaches:
            return False
        try:
            with self.store.locked("plan watch"):
                state = self.store.load()
                for phase, new in (*self._held_breaches.items(), *found.items()):
                    rec = state.phases.get(phase)
                    if rec is None or rec.status is not Status.WATCHING:
                        continue
                    for name, breach in new.items():
                        # Held from a watch another sbtop has since ended and started again
                        # (a rollback, a reset): not this watch's.
                        if rec.started_wall is None or breach.wall >= rec.started_wall:
                            rec.breaches.setdefault(name, breach)
                write_looks(self.settings, state, self._held_looks)
                for phase, stretch in looks(self.settings, state, figures, now).items():
                    rec = state.phases[phase]  # (looks() names only phases on the record)
                    rec.unseen_s, rec.looked_wall = max(rec.unseen_s, stretch), now
                self.store.save(state)
                self.state = state
                self._held_looks, self._held_breaches = {}, {}
        except LockedError:
            for phase in looked_at(self.settings, self.state, figures):
                times = self._held_looks.setdefault(phase, [])
                if not times or times[-1] < watch_end(self.settings, self.state, phase):
                    times.append(now)  # (past the watch's end, one look closes it)
            for phase, new in found.items():
                held = self._held_breaches.setdefault(phase, {})
                for name, breach in new.items():
                    held.setdefault(name, breach)
            return False
        return True

    # --- planning ---------------------------------------------------------------------------

    def phase(self, name: str) -> tuple[int, PhaseSettings]:
        p = self.settings.phase(name)
        if p is None:
            names = ", ".join(f"{i} {x.name!r}" for i, x in
                              enumerate(self.settings.phases, 1)) or "none configured"
            raise PlanError(f"no phase {name!r} in the plan (phases: {names})")
        return self.settings.phases.index(p) + 1, p

    def plan(self, request: PhaseRequest | str, name: str,
             figures: Mapping[str, Figure] | None = None, gate: Gate | None = None
             ) -> PhasePlan:
        """What the request would do now; PlanError when it cannot be done at all."""
        request = PhaseRequest(request)
        number, p = self.phase(name)
        state = self.reload()
        rec = state.phase(p.name)
        window = judge_window(self.settings, state, figures or {}, self.clock.now()[1], gate)
        view = window.phases[number - 1]
        why: list[str] = []
        notes: list[str] = []
        argv: tuple[str, ...] = ()
        if request is PhaseRequest.START:
            if rec.status in (Status.RUNNING, Status.WATCHING):
                raise PlanError(f"phase {number} {p.name} is already {rec.status}")
            if rec.status is Status.PASSED:
                raise PlanError(f"phase {number} {p.name} has passed; roll it back first to "
                                "start it again")
            other = window.current
            if other is not None and other.number != number:
                raise PlanError(f"phase {other.number} {other.name} is {other.status}: pass "
                                "it or roll it back first")
            why += [f"pre-flight {i.name}: {i.shown}" for i in window.preflight_open]
            why += [f"phase {v.number} {v.name} is {v.status}, not passed"
                    for v in window.phases[:number - 1] if v.status is not Status.PASSED]
            argv = p.run
            if p.watch_s:
                notes.append(f"then its figures are watched for {_minutes(p.watch_s)}")
            if p.canary:
                notes.append("its sub-plan is the canary ladder: step it with sbtop canary "
                             "next (the gate decides), abort with sbtop canary abort")
        elif request is PhaseRequest.PASS:
            if rec.status is not Status.WATCHING:
                raise PlanError(f"phase {number} {p.name} is {rec.status}: only a watched "
                                "phase can pass")
            if not view.watch_over:
                left = view.watch_left_s
                why.append("the watch is not over" + (f" ({_minutes(left)} left)"
                                                       if left is not None else ""))
            why += [c.shown for c in view.failing]
            why += [f"{c.shown}: not judged" for c in view.unjudged]
            if view.rollback_failed is not None:
                why.append(f"its {view.rollback_failed} (it is still in)")
            if view.unwatched is not None:
                why.append(view.unwatched)
        else:
            if rec.status in (Status.PENDING, Status.ROLLED_BACK):
                raise PlanError(f"phase {number} {p.name} is {rec.status}: nothing to roll "
                                "back")
            if rec.status is Status.RUNNING:
                raise PlanError(f"phase {number} {p.name} is running its command now")
            argv = p.rollback
            if not argv:
                notes.append(f"roll it back by hand: {p.rollback_note}" if p.rollback_note
                             else "no rollback command: roll it back by hand, then confirm")
            elif p.rollback_note:  # what the command leaves to a person ("then push")
                notes.append(p.rollback_note)
            if p.canary and gate is not None and gate.percent:
                # Its code rolled back while the flag still sends traffic to it: said, not
                # done (sbtop never acts beyond what was asked).
                notes.append(f"the canary flag is at {gate.percent} %: sbtop canary abort sets "
                             "it to 0")
        return PhasePlan(request, p, number, self.target, self.production, argv,
                         self.settings.timeout_s, tuple(why), tuple(notes), figures or {}, gate)

    # --- acting -----------------------------------------------------------------------------

    async def execute(self, plan: PhasePlan, *, override: str | None = None,
                      dry_run: bool = False, progress: Progress | None = None) -> Outcome:
        """Act on a confirmed plan. Under the lock the record is read again and the plan made
        again: one made before another sbtop acted is refused rather than carried out."""
        reason = (override or "").strip()
        record = self._record(plan.title, plan.phase.name, argv=list(plan.argv),
                              dry_run=dry_run, override=reason or None)
        if self.busy is not None:
            return self._refuse(record, f"refused: {self.busy} is still running")
        if plan.needs_override and not reason:
            return self._refuse(record, "refused: " + "; ".join(plan.why_override)
                                + " (give a typed override reason to go ahead anyway)")
        if plan.needs_override and len(reason) < MIN_REASON:
            return self._refuse(record, f"refused: an override reason of at least "
                                f"{MIN_REASON} characters, saying why")
        if dry_run:
            return self._done(record, True, "dry run: nothing was run or recorded")
        self.busy = plan.title
        try:
            with self.store.locked(plan.title):
                fresh = self.store.load()
                self.state = fresh
                try:
                    again = self.plan(plan.request, plan.phase.name, plan.figures, plan.gate)
                except PlanError as e:
                    return self._refuse(record, f"refused: {e} (changed since it was planned)")
                if again.argv != plan.argv:
                    return self._refuse(record, "refused: the plan changed since it was "
                                        "shown: plan again")
                new = [w for w in again.why_override if w not in plan.why_override]
                if new and not reason:
                    return self._refuse(record, "refused: changed since it was shown: "
                                        + "; ".join(new) + " (plan again)")
                return await self._act(plan, fresh, record, reason or None, progress)
        except LockedError as e:
            return self._refuse(record, f"refused: another sbtop is acting on {self.target} "
                                f"({e})")
        finally:
            self.busy = None

    async def _act(self, plan: PhasePlan, state: PlanState, record: dict[str, Any],
                   override: str | None, progress: Progress | None) -> Outcome:
        name, now = plan.phase.name, self.clock.now()[1]
        rec = state.phases.setdefault(name, PhaseRecord())
        if plan.request is PhaseRequest.PASS:
            rec.status, rec.ended_wall, rec.by, rec.result = Status.PASSED, now, who(), None
            if override:  # beside the start's, if it had one: both stay on the record
                rec.override = "; ".join(x for x in (rec.override, f"{PASS_OVERRIDE}{override}")
                                         if x)
            rec.logged(now)
            self.store.save(state)
            self.state = state
            return self._done(record, True, f"phase {plan.number} {name} passed")
        if plan.request is PhaseRequest.START:
            rec.started_wall, rec.ended_wall, rec.by = now, None, who()
            rec.override, rec.breaches, rec.result = override, {}, None
            rec.looked_wall, rec.unseen_s = None, 0.0  # this watch's looks are its own
            if override:  # the open pre-flight items it went past stand overridden
                window = judge_window(self.settings, state, {}, now)
                for item in window.preflight_open:
                    held = state.preflight.setdefault(item.name, ItemRecord())
                    held.overridden = f"{who()}: {override}"
        if not plan.argv:
            if plan.request is PhaseRequest.START:
                rec.status, rec.watch_from_wall = Status.WATCHING, now
                text = (f"phase {plan.number} {name} started (by hand)"
                        + (f"; watching for {_minutes(plan.phase.watch_s)}"
                           if plan.phase.watch_s else ""))
            else:
                rec.status, rec.ended_wall, rec.by = Status.ROLLED_BACK, now, who()
                text = f"phase {plan.number} {name} recorded as rolled back (by hand)"
            rec.result = text
            rec.logged(now)
            self.store.save(state)
            self.state = state
            return self._done(record, True, text)
        before = rec.status
        rec.status, rec.result = Status.RUNNING, f"{plan.request}: {shlex.join(plan.argv)}"
        rec.logged(now)
        self.store.save(state)
        self.audit.append({**record, "result": "started"})
        ok, text, cancelled = False, "", False
        try:
            if progress is not None:
                said = progress(f"running {shlex.join(plan.argv)}")
                if said is not None:
                    await said
            runner = PhaseCommands({}, timeout_s=plan.timeout_s)
            text = await runner.run_argv(plan.argv, f"phase {name} {plan.request}")
            ok = True
        except ActionError as e:
            text = str(e)
        except Exception as e:  # the record and the state must close whatever happened
            text = untrusted.line(f"unexpected {type(e).__name__}: {e}", 500)
        except asyncio.CancelledError:
            cancelled = True
            text = "interrupted: sbtop stopped before the command finished; check what it did"
            raise
        finally:
            end = self.clock.now()[1]
            state = self.store.load()
            rec = state.phases.setdefault(name, PhaseRecord())
            if ok and plan.request is PhaseRequest.START:
                rec.status, rec.watch_from_wall = Status.WATCHING, end
            elif ok:
                rec.status, rec.ended_wall = Status.ROLLED_BACK, end
            elif plan.request is PhaseRequest.ROLLBACK:
                # The phase is still in: what it was, with why its rollback did not happen.
                rec.status = before if before is not Status.RUNNING else Status.FAILED
                text = f"{ROLLBACK_FAILED}: {text}"
            else:
                rec.status = Status.FAILED
            rec.result = text
            rec.logged(end)
            self.store.save(state)
            self.state = state
            if cancelled:
                self.audit.append({**record, "result": text, "ok": False})
        return self._done(record, ok, text)

    # --- the pre-flight ---------------------------------------------------------------------

    def item(self, name: str) -> PreflightSettings:
        i = self.settings.item(name)
        if i is None:
            names = ", ".join(f"{n} {x.name!r}" for n, x in
                              enumerate(self.settings.preflight, 1)) or "none configured"
            raise PlanError(f"no pre-flight item {name!r} (items: {names})")
        return i

    def confirm(self, name: str, *, undo: bool = False, dry_run: bool = False) -> Outcome:
        """A person's item, confirmed (or taken back): who and when are recorded. A live
        item cannot be confirmed by hand (an override at the start says it instead)."""
        item = self.item(name)
        record = self._record(f"plan confirm {item.name}" if not undo else
                              f"plan unconfirm {item.name}", None, item=item.name,
                              dry_run=dry_run)
        if item.kind is not ItemKind.CONFIRM:
            return self._refuse(record, f"refused: {item.name} is checked by sbtop "
                                f"({item.kind}): run sbtop plan preflight, or start with an "
                                "override")
        if dry_run:
            return self._done(record, True, "dry run: nothing was recorded")
        try:
            with self.store.locked("plan confirm"):
                state = self.store.load()
                by, now = who(), self.clock.now()[1]
                state.preflight[item.name] = (ItemRecord() if undo else
                                              ItemRecord(True, "", now, by))
                self.store.save(state)
                self.state = state
        except LockedError as e:
            return self._refuse(record, f"refused: another sbtop is acting on {self.target} "
                                f"({e})")
        return self._done(record, True, f"{item.name}: " + ("no longer confirmed" if undo
                                                            else f"confirmed by {by}"))

    def record_checks(self, results: Mapping[str, tuple[bool, str]]) -> None:
        """The live items' results (sbtop.actions.preflight), kept with their time, and each
        in the audit log."""
        now = self.clock.now()[1]
        try:
            with self.store.locked("plan preflight"):
                state = self.store.load()
                for name, (ok, detail) in results.items():
                    state.preflight[name] = ItemRecord(ok, detail, now, who())
                self.store.save(state)
                self.state = state
        except LockedError as e:
            raise PlanError(f"the results were not recorded: another sbtop is acting on "
                            f"{self.target} ({e}); run the pre-flight again after") from None
        for name, (ok, detail) in results.items():
            self.audit.append(self._record(f"plan check {name}", None, item=name,
                                           result=("ok" if ok else "FAILED")
                                           + (f": {detail}" if detail else ""), ok=ok))

    # --- the audit --------------------------------------------------------------------------

    def _record(self, action: str, phase: str | None, **more: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"target": self.target, "action": action}
        if phase is not None:
            out["phase"] = phase
        return {**out, "dry_run": False, **more}

    def _refuse(self, record: dict[str, Any], text: str) -> Outcome:
        return refused(self.audit, record, text)

    def _done(self, record: dict[str, Any], ok: bool, text: str) -> Outcome:
        return finished(self.audit, record, ok, text)


def _minutes(seconds: float | None) -> str:
    from sbtop.engine import words

    return words.duration(seconds or 0.0)


def build_plan_controller(settings: PlanSettings | None, target: str, production: bool,
                          state_dir: Any, clock: Clock = SYSTEM, *, read_only: bool = False
                          ) -> tuple[PlanController | None, str]:
    """The target's plan controller, or None and why (no plan configured, an unsafe state
    directory)."""
    from pathlib import Path

    from sbtop.actions.state import StateDirError

    if settings is None or not settings.phases:
        return None, "no deploy plan configured (add [[plan.phases]] to the config)"
    directory = Path(state_dir)
    store = PlanStore(directory, target, create=not read_only)
    audit = AuditLog(directory / "audit.jsonl")
    try:
        store.check()
        if directory.exists():  # a read-only look makes no directory to check the log in
            audit.check()
    except StateDirError as e:
        return None, str(e)
    return PlanController(target, production, settings, store, audit, clock), ""

