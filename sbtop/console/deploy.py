"""The keys that ask before they act: the deploy actions (the plan shown, cancel by default),
the baseline, quitting while an action runs, and cancelling a database query or ending a
session. The session plans, executes and refuses; this only asks, confirms and shows."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual import work

from sbtop.actions.plan import Plan
from sbtop.actions.providers import ActionError
from sbtop.actions.requests import Request
from sbtop.console.base import ConsoleBase
from sbtop.console.messages import CancelQuery, TerminateSession
from sbtop.console.screens.action import ActionScreen
from sbtop.console.screens.confirm import ConfirmScreen
from sbtop.console.widgets.header import HeaderBar
from sbtop.engine.observations import DbSession
from sbtop.engine.transitions import action_finished
from sbtop.session.actions import LiveActions, Refused


class DeployKeys(ConsoleBase):
    _quit_question: ConfirmScreen | None = None

    def _actions(self) -> LiveActions | None:
        return self.session.actions

    def _request(self, request: Request) -> None:
        actions = self._actions()
        if actions is None:
            return
        try:
            actions.check(request)
        except Refused as e:
            self.say(e.notice)
            return
        self._plan(request)

    @work(group="plan", exclusive=True, exit_on_error=False)
    async def _plan(self, request: Request) -> None:
        """Look up what the plan must show (a rollback's target), then ask."""
        actions = self._actions()
        assert actions is not None
        try:
            plan = await actions.prepare(request)
        except Refused as e:
            self.say(e.notice)
            return
        except ActionError as e:
            self.notify(f"{request}: {e}", severity="warning", timeout=6)
            return
        except Exception as e:  # a bug of ours: shown, never fatal
            self.notify(f"{request}: could not be planned: {type(e).__name__}: {e}",
                        severity="error", timeout=10)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._execute(plan)
            else:
                actions.cancelled(plan)
                self.notify("cancelled: nothing was sent", timeout=3)

        self.push_screen(ActionScreen(plan), answered)

    @work(group="action", exclusive=False, exit_on_error=False)
    async def _execute(self, plan: Plan) -> None:
        actions = self._actions()
        assert actions is not None
        self.notify(f"{plan.request}: started", timeout=3)
        # The main screen's header (the bottom of the stack), whatever view is open now.
        header = self.screen_stack[0].query_one(HeaderBar)
        began = time.monotonic()

        def show_running() -> None:
            header.set_action(plan.request, time.monotonic() - began)

        # The header says what runs, counting up once a second, while it runs (only then).
        show_running()
        timer = self.set_interval(1.0, show_running)

        def progress(text: str) -> None:
            self.notify(text, timeout=4)

        try:
            outcome = await actions.execute(plan, progress)
        except Exception as e:  # the controller records and clears; this only reports
            self.notify(f"{plan.request}: {type(e).__name__}: {e}", severity="error", timeout=10)
            self.announce(action_finished(str(plan.request), False, f"{type(e).__name__}: {e}",
                                          self.session.info.name))
            return
        finally:
            timer.stop()
            header.set_action(None)
            # The quit question was about this action: it has ended, so the question is moot
            # (it said "still running" and "recorded as interrupted").
            if self._quit_question is not None and self.screen is self._quit_question:
                self._quit_question.dismiss(None)
            self._quit_question = None
        self.notify(outcome.text, severity="information" if outcome.ok else "error",
                    timeout=10)
        self.announce(action_finished(str(plan.request), outcome.ok, outcome.text,
                                      self.session.info.name))

    @work(group="flag", exclusive=True, exit_on_error=False)
    async def _read_flag(self) -> None:
        """The canary's step comes from the provider, not from what sbtop last sent."""
        actions = self._actions()
        if actions is not None:
            await actions.read_flag()

    def action_canary(self) -> None:
        self._request(Request.CANARY_NEXT)

    def action_abort(self) -> None:
        self._request(Request.CANARY_ABORT)

    def action_restart(self) -> None:
        self._request(Request.RESTART)

    def action_rollback(self) -> None:
        self._request(Request.ROLLBACK)

    def action_baseline(self, then: Callable[[], None] | None = None) -> None:
        """Capture the baseline again, confirmed: the question names the old baseline and the
        new one, and during a canary it is an override (the canary's own figures would become
        what it is judged against). `then`: after a capture (the Plan view checks its
        pre-flight again, so the baseline item says so)."""
        actions = self._actions()
        if actions is None:
            return
        try:
            question = actions.baseline_question()
        except Refused as e:
            self.say(e.notice)
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                self.notify("kept: the baseline is unchanged", timeout=3)
                return
            try:
                self.notify(actions.capture_baseline(question), timeout=6)
            except Exception as e:
                self.notify(f"baseline: {type(e).__name__}: {e}", severity="error")
                return
            if then is not None:
                then()

        self.push_screen(ConfirmScreen(question.text, question.details), answered)

    async def action_quit_key(self) -> None:
        """Ctrl-C, Ctrl-Q: quit as q does (never a letter, even while typing)."""
        await self.action_quit()

    async def action_quit(self) -> None:
        """Quitting in the middle of an action asks first: sbtop stops following it (the
        deploy goes on at the provider) and it will be recorded as interrupted."""
        actions = self._actions()
        busy = actions.busy if actions is not None else None
        if not busy and actions is not None and actions.plan is not None:
            busy = actions.plan.busy  # a phase's command: the same question
        if not busy or self.screen is self._quit_question:
            self.exit()  # nothing in flight, or a second Ctrl-C on the question: quit
            return

        def answered(yes: bool | None) -> None:
            self._quit_question = None
            if yes:
                self.exit()

        self._quit_question = ConfirmScreen(
            f"{busy} is still running. Quit anyway?",
            ["The provider carries on; sbtop stops following it and records it as "
             "interrupted in the action log. Check the provider before acting again.",
             "Ctrl-C again quits too."])
        self.push_screen(self._quit_question, answered)

    def on_cancel_query(self, message: CancelQuery) -> None:
        """Cancel one query, after a confirmation naming it. Off unless db.allow_cancel, and
        always off read-only."""
        self._ask_about_session(message.session, "cancel", "kept: nothing was cancelled")

    def on_terminate_session(self, message: TerminateSession) -> None:
        """End one session, after a confirmation naming it: gated as cancelling is (off
        unless db.allow_terminate, never read-only), and recorded in the audit log."""
        self._ask_about_session(message.session, "terminate", "kept: nothing was ended")

    def _ask_about_session(self, session: DbSession | None, what: str, kept: str) -> None:
        """The session's question (or the refusal's reason), then the act if the answer is
        yes: the same path for cancelling a query and ending a session."""
        actions = self._actions()
        if actions is None:
            return
        try:
            question = (actions.cancel_question(session) if what == "cancel"
                        else actions.terminate_question(session))
        except Refused as e:
            self.say(e.notice)
            return
        assert session is not None

        def answered(yes: bool | None) -> None:
            if yes:
                self._act_on_session(session, what)
            else:
                self.notify(kept, timeout=3)

        self.push_screen(ConfirmScreen(question.text, question.details), answered)

    @work(group="cancel", exclusive=True, exit_on_error=False)
    async def _act_on_session(self, session: DbSession, what: str) -> None:
        actions = self._actions()
        assert actions is not None
        self.say(await (actions.cancel_query(session) if what == "cancel"
                        else actions.terminate_session(session)))
