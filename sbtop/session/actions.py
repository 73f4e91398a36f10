"""What the console may ask of a live session besides its figures: the deploy actions (plan,
execute, the cancelled confirmation in the audit, the baseline), the action log, the canary's
flag, the post-deployment checklist, and cancelling a database query or ending a session.

Every answer is typed data or a refusal (Refused, carrying the notice to show): the console
only asks, confirms and shows."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sbtop import format
from sbtop.actions.audit import AuditLog
from sbtop.actions.requests import Request
from sbtop.actions.state import StateDirError, default_state_dir
from sbtop.collector import Collector
from sbtop.engine.assessment import iso
from sbtop.engine.figures import Figure
from sbtop.engine.observations import DbSession
from sbtop.session.plan_actions import PlanActions
from sbtop.session.snapshot import Cause, Notice
from sbtop.wiring import Wiring

if TYPE_CHECKING:
    # Types only: `sbtop check` (a live session) loads neither the controller nor the
    # checklist, which itself runs a check.
    from sbtop.actions.controller import Controller
    from sbtop.actions.phases import PlanController
    from sbtop.actions.plan import Outcome, Plan
    from sbtop.session.live import LiveSession
    from sbtop.verify import Report

STOP_WAIT_S = 5.0  # on a signal: how long a running action gets to clean up


class Refused(Exception):
    """The session will not do it; the notice says why."""

    def __init__(self, notice: Notice) -> None:
        super().__init__(notice.text)
        self.notice = notice


@dataclass(frozen=True, slots=True)
class ActionLog:
    entries: list[dict[str, Any]]
    where: str  # the audit file, or the recording the entries were read from


@dataclass(frozen=True, slots=True)
class Question:
    """A yes/no confirmation: what is asked, the details, whether yes is an override."""

    text: str
    details: list[str]
    override: bool = False


class LiveActions(PlanActions):
    def __init__(self, session: LiveSession, wiring: Wiring, state_dir: Path | None,
                 deploy: bool) -> None:
        self._session = session
        self.controller: Controller | None = None
        self.reason = ""  # why there is no controller
        if deploy and not session.read_only:
            from sbtop.actions.factory import build_controller

            self.controller, self.reason = build_controller(
                wiring.actions, wiring.identity, state_dir or default_state_dir(),
                session.clock)
        self._running: set[asyncio.Task[Any]] = set()
        # The deploy window's actions (sbtop.session.plan_actions): a controller of its own.
        self.plan: PlanController | None = None
        self.plan_reason = "no deploy plan configured ([[plan.phases]])"
        if deploy and not session.read_only and wiring.plan is not None:
            from sbtop.actions.phases import build_plan_controller

            self.plan, self.plan_reason = build_plan_controller(
                wiring.plan, wiring.name, wiring.production, state_dir or default_state_dir(),
                session.clock)
        self._state_dir = state_dir or default_state_dir()
        self._db_audit: AuditLog | None = None
        self._asked: Mapping[str, Figure] | None = None  # the figures a baseline question named

    @property
    def wiring(self) -> Wiring:
        return self._session.wiring  # read each time: the session's is the one in use

    # --- deploy actions -----------------------------------------------------------------------

    @property
    def busy(self) -> str | None:
        return self.controller.busy if self.controller is not None else None

    def _controller(self, request: str) -> Controller:
        if self.controller is None:
            raise Refused(Notice(f"{request}: not configured: {self.reason}", "warning", 6))
        if self.controller.busy:
            raise Refused(Notice(f"refused: {self.controller.busy} is still running",
                                 "warning"))
        return self.controller

    def check(self, request: Request) -> None:
        """Refused unless the request may be planned now (a provider, nothing running)."""
        self._controller(request)

    async def prepare(self, request: Request) -> Plan:
        """The plan, with what it must show looked up (a rollback's target); ActionError
        when the provider refuses it."""
        a = self._session.assessment
        return await self._controller(request).prepare(request, a.figures if a else {})

    def cancelled(self, plan: Plan) -> None:
        """The confirmation was answered no: that goes in the audit too."""
        assert self.controller is not None
        self.controller.audit.append({
            "target": self.wiring.name, "action": plan.request,
            "params": {k: v for k, v in plan.params.shown().items() if k != "target"},
            "result": "cancelled at the confirmation", "dry_run": False})

    async def execute(self, plan: Plan, progress: Callable[[str], None]) -> Outcome:
        """Act on a confirmed plan with the freshest figures; marked on the charts, written
        to the recording, the canary read again after. A stop on a signal cancels it."""
        assert self.controller is not None
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        s = self._session
        try:
            figures = s.assessment.figures if s.assessment is not None else None
            outcome = await self.controller.execute(plan, override=plan.needs_override,
                                                    progress=progress, figures=figures)
        finally:
            if task is not None:
                self._running.discard(task)
        t, wall = s.clock.now()
        s.history.mark(wall, plan.request)
        if plan.request is Request.RESTART and outcome.ok:
            # The trends start again from here and link what follows to this restart.
            s.engine.trends.restarted(t, wall)
        if s.recorder is not None:
            with contextlib.suppress(OSError, ValueError):
                s.recorder.event(wall, "action", dict(outcome.audit))
        await self.read_flag()  # what the provider holds now, whoever asked for the action
        return outcome

    async def stop_running(self, timeout: float = STOP_WAIT_S) -> None:
        """Cancel a running action (the controller records it as interrupted) and wait for
        its cleanup: its command's SIGTERM then SIGKILL, the state and the audit."""
        running = [t for t in self._running if not t.done()]
        for t in running:
            t.cancel()
        if running:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait(running, timeout=timeout)

    async def read_flag(self) -> None:
        """The canary's step comes from the provider, not from what sbtop last sent."""
        if self.controller is None or self._session.read_only:
            return
        await self.controller.refresh()
        self._session.publish_snapshot(Cause.CANARY)

    def recover(self) -> str | None:
        """An action an earlier sbtop left in flight, recorded as interrupted: the note."""
        if self.controller is None or self._session.read_only:
            return None
        return self.controller.recover()

    def baseline_question(self) -> Question:
        c, a = self.controller, self._session.assessment
        if c is None or a is None:
            raise Refused(Notice("no baseline: no provider or no figures yet", "warning"))
        self._asked = a.figures
        text, details, override = c.baseline_question(a.figures)
        return Question(text, details, override)

    def capture_baseline(self, question: Question) -> str:
        """Confirmed: the baseline taken from the figures the question named."""
        c, figures = self.controller, self._asked
        assert c is not None and figures is not None
        try:
            return c.capture_baseline(figures, override=question.override)
        finally:
            self._session.publish_snapshot(Cause.CANARY)

    def log(self) -> ActionLog:
        if self.controller is None and not self._session.read_only:
            raise Refused(Notice(f"no action log: {self.reason}", "warning"))
        # Read-only, the deploying sbtop's log is read (reading it changes nothing).
        audit = self._audit_log()
        try:
            entries = audit.read()
        except StateDirError as e:  # a link left where the log goes since sbtop started
            raise Refused(Notice(f"no action log: {e}", "error", 10)) from None
        return ActionLog(entries, str(audit.path))

    # --- the checklist, the database --------------------------------------------------------

    async def verify_report(self) -> Report:
        """The checklist's probes now, and the metric items on the latest figures."""
        from sbtop import verify

        probes = await verify.probe_checks(self.wiring.verify)
        a = self._session.assessment
        baseline = None
        if self.controller is not None:
            canary = self.controller.state.canary
            if canary.baseline:
                baseline = verify.Baseline(dict(canary.baseline), "the canary's, taken "
                                           f"{iso(canary.baseline_wall) or 'earlier'}")
        return verify.judge(self.wiring.verify, probes, a.figures if a else {}, baseline,
                            self._session.clock.now()[1])

    def db_refusal(self, kind: str) -> Notice | None:
        """Why the sessions view may not `kind` ("cancel" a query, "terminate" a session)
        now, or None: never read-only, and each off unless its [db] switch is on."""
        if self._session.read_only:
            return Notice(f"read-only: sbtop {'cancels' if kind == 'cancel' else 'ends'} "
                          "nothing", "warning")
        if kind == "cancel" and not self.wiring.console.allow_cancel:
            return Notice("cancelling queries is off: set allow_cancel = true in [db]",
                          "warning", 5)
        if kind == "terminate" and not self.wiring.console.allow_terminate:
            return Notice("ending sessions is off: set allow_terminate = true in [db]",
                          "warning", 5)
        return None

    def _db_question(self, kind: str, session: DbSession | None) -> DbSession:
        refusal = self.db_refusal(kind)
        if refusal is not None:
            raise Refused(refusal)
        source = self._session.source
        if session is None or not isinstance(source, Collector) or source.db is None:
            raise Refused(Notice("no session selected", "warning"))
        return session

    def _db_details(self, session: DbSession) -> list[str]:
        details = [f"{session.state or ''} for "
                   f"{format.duration(session.duration_s or 0)}, user {session.user}, "
                   f"application {session.application}, client {session.client}",
                   f"query: {session.query or '?'}"]
        if self.wiring.production:
            details.insert(0, f"on PRODUCTION target {self.wiring.name}")
        return details

    def cancel_question(self, session: DbSession | None) -> Question:
        """The confirmation naming the query; refused unless db.allow_cancel (and never
        read-only)."""
        session = self._db_question("cancel", session)
        return Question(f"Cancel the query of session {session.id}?", self._db_details(session))

    def terminate_question(self, session: DbSession | None) -> Question:
        """The confirmation naming the session; refused unless db.allow_terminate (and never
        read-only)."""
        session = self._db_question("terminate", session)
        return Question(f"Terminate session {session.id}?", [
            *self._db_details(session),
            "Its connection is closed: the client sees an error, and an open transaction is "
            "rolled back."])

    async def cancel_query(self, session: DbSession) -> Notice:
        source = self._session.source
        assert isinstance(source, Collector) and source.db is not None
        result = await source.db.cancel(session)
        self._audit_db("db cancel", session, result)
        return Notice(result, "information" if result.startswith("cancel") else "warning", 6)

    async def terminate_session(self, session: DbSession) -> Notice:
        source = self._session.source
        assert isinstance(source, Collector) and source.db is not None
        try:
            self._audit_log().check()  # no audit, no terminate
        except StateDirError as e:
            return Notice(f"not terminated: {e}", "error", 10)
        result = await source.db.terminate(session)
        self._audit_db("db terminate", session, result)
        return Notice(result, "information" if result.startswith("terminated") else "warning",
                      6)

    def _audit_log(self) -> AuditLog:
        """The controller's audit log, or the same file without one (no deploy provider)."""
        if self.controller is not None:
            return self.controller.audit
        if self._db_audit is None:
            self._db_audit = AuditLog(self._state_dir / "audit.jsonl")
        return self._db_audit

    def _audit_db(self, action: str, session: DbSession, result: str) -> None:
        """A cancel or a terminate, in the audit log beside the deploy actions."""
        with contextlib.suppress(StateDirError, OSError):
            self._audit_log().append({
                "target": self.wiring.name, "action": action,
                "params": {"session": session.id, "user": session.user,
                           "application": session.application,
                           "query": (session.query or "")[:120]},
                "result": result, "dry_run": False})
