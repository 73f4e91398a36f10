"""What a face may ask of a live session about the deploy window (LiveActions has these):
plan a phase's start, pass or rollback, act on the confirmed plan, confirm a pre-flight item,
run the pre-flight checks, start a new deploy window (plan_reset_prepare, then
plan_reset_execute or plan_reset_cancelled). The API is described in sbtop.session.plan;
each refusal is a Refused carrying the notice to show."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sbtop.session.snapshot import Cause, Notice

if TYPE_CHECKING:
    from sbtop.actions.controller import Controller
    from sbtop.actions.phases import PhasePlan, PlanController
    from sbtop.actions.plan import Outcome
    from sbtop.actions.plan_reset import ResetPlan
    from sbtop.actions.render import Progress
    from sbtop.session.live import LiveSession


class PlanActions:
    """Mixed into LiveActions, which sets these attributes."""

    _session: LiveSession
    controller: Controller | None
    plan: PlanController | None
    plan_reason: str

    def _plan_controller(self, what: str) -> PlanController:
        from sbtop.session.actions import Refused

        if self._session.read_only:
            raise Refused(Notice(f"read-only: sbtop does not {what}", "warning"))
        if self.plan is None:
            raise Refused(Notice(f"plan: {self.plan_reason}", "warning", 6))
        for running in (self.plan.busy, self.controller.busy if self.controller else None):
            if running:
                raise Refused(Notice(f"refused: {running} is still running", "warning"))
        return self.plan

    def plan_recover(self) -> str | None:
        """A phase an earlier sbtop left running, recorded as interrupted: the note."""
        if self.plan is None or self._session.read_only:
            return None
        return self.plan.recover()

    def plan_prepare(self, request: str, phase: str) -> PhasePlan:
        """What starting, passing or rolling back `phase` (name or number) would do now,
        judged on the latest figures and the canary's gate; Refused when it cannot be done
        at all (no such phase, another phase in hand, already passed)."""
        from sbtop.actions.phases import PlanError
        from sbtop.session.actions import Refused

        c = self._plan_controller(f"{request} a phase")
        a = self._session.assessment
        try:
            return c.plan(request, phase, a.figures if a else {}, self._session.gate())
        except (PlanError, ValueError) as e:
            raise Refused(Notice(f"not done: {e}", "warning", 8)) from None

    def plan_cancelled(self, plan: PhasePlan) -> None:
        """The confirmation was answered no: that goes in the audit too."""
        if self.plan is not None:
            self.plan.audit.append({"target": plan.target, "action": plan.title,
                                    "phase": plan.phase.name,
                                    "result": "cancelled at the confirmation",
                                    "dry_run": False})

    async def plan_execute(self, plan: PhasePlan, override: str | None = None,
                           progress: Progress | None = None) -> Outcome:
        """Act on a confirmed plan (`override`: the typed reason, when it needs one)."""
        c = self._plan_controller(str(plan.request))
        task = asyncio.current_task()
        running: set[asyncio.Task[object]] = getattr(self, "_running", set())
        if task is not None:
            running.add(task)
        try:
            outcome = await c.execute(plan, override=override, progress=progress)
        finally:
            if task is not None:
                running.discard(task)
        self._plan_changed()
        if not outcome.refused:
            # Told as the canary's actions are (bell, desktop, webhook): a phase's command
            # may run for minutes while the engineer looks elsewhere. Here, in the session,
            # so that every face acting through it tells, and tells once.
            from sbtop.engine.transitions import action_finished

            self._session.announce(action_finished(plan.title, outcome.ok, outcome.text,
                                                   self._session.wiring.name))
        return outcome

    def plan_confirm(self, item: str, undo: bool = False) -> Outcome:
        """A person's pre-flight item, confirmed (who = $USER, when) or taken back."""
        from sbtop.actions.phases import PlanError
        from sbtop.session.actions import Refused

        c = self._plan_controller("confirm")
        try:
            outcome = c.confirm(item, undo=undo)
        except PlanError as e:
            raise Refused(Notice(f"not done: {e}", "warning", 8)) from None
        self._plan_changed()
        return outcome

    async def plan_preflight(self) -> Outcome:
        """The live pre-flight items checked now and recorded."""
        from sbtop.actions.phases import PlanError
        from sbtop.actions.plan import Outcome
        from sbtop.actions.preflight import PreflightContext, run_checks
        from sbtop.session.actions import Refused

        c = self._plan_controller("run the pre-flight")
        s = self._session
        canary = s.canary_state()
        ctx = PreflightContext(s.assessment, canary.baseline if canary else None,
                               s.wiring.collector.dsn,
                               s.wiring.collector.db.connect_timeout_s,
                               canary.baseline_wall if canary else None, s.clock.now()[1])
        results = await run_checks(c.settings.preflight, ctx)
        try:
            c.record_checks(results)
        except PlanError as e:
            raise Refused(Notice(f"pre-flight: {e}", "warning", 8)) from None
        self._plan_changed()
        failed = [n for n, (ok, _) in results.items() if not ok]
        text = (f"pre-flight: {len(results) - len(failed)} of {len(results)} live items ok"
                + (f"; failed: {', '.join(failed)}" if failed else ""))
        return Outcome(not failed, text)

    def plan_reset_prepare(self) -> ResetPlan:
        """What starting a new deploy window would do (the old record archived); Refused
        while a phase's command runs."""
        from sbtop.actions.phases import PlanError
        from sbtop.actions.plan_reset import plan_reset
        from sbtop.session.actions import Refused

        c = self._plan_controller("reset the plan")
        try:
            return plan_reset(c)
        except PlanError as e:
            raise Refused(Notice(f"not done: {e}", "warning", 8)) from None

    def plan_reset_cancelled(self) -> None:
        if self.plan is not None:
            self.plan.audit.append({"target": self.plan.target, "action": "plan reset",
                                    "result": "cancelled at the confirmation",
                                    "dry_run": False})

    def plan_reset_execute(self, plan: ResetPlan) -> Outcome:
        """The confirmed reset: the old record archived, a new one started."""
        from sbtop.actions.plan_reset import execute_reset

        outcome = execute_reset(self._plan_controller("reset the plan"), plan)
        self._plan_changed()
        return outcome

    def _plan_changed(self) -> None:
        s = self._session
        a = s.assessment
        s.look_at_plan(a.figures if a else {}, s.clock.now()[0], force=True)
        s.publish_snapshot(Cause.PLAN)
