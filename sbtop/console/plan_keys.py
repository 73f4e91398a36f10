"""The deploy window in the console: `p` opens the Plan view, the header carries its compact
line, and a phase is started, passed or rolled back as the deploy keys act: the session plans
(and refuses, saying why: read-only, no plan, another action running), the confirmation shows
the plan with cancel by default (a typed override when one is needed), the action runs off
the screen's way with the header saying so, and its result is a notification."""

from __future__ import annotations

import time

from textual import work

from sbtop.actions.phases import PhasePlan
from sbtop.console.base import ConsoleBase
from sbtop.console.plan_text import header_line
from sbtop.console.screens.phase_action import PhaseActionScreen
from sbtop.console.screens.plan import PlanScreen
from sbtop.console.widgets.header import HeaderBar
from sbtop.session.actions import Refused
from sbtop.session.live import LiveSession
from sbtop.session.snapshot import Notice, Snapshot

REPLAY_WORDS = "plan: a replay shows the window as it stood at the tick shown; nothing is " \
               "acted on from a recording"


class PlanKeys(ConsoleBase):
    read_only: bool

    # --- what the view and the footer ask -------------------------------------------------

    def has_plan(self) -> bool:
        s = self.session
        if isinstance(s, LiveSession):
            return s.plan_watch is not None
        latest = s.latest  # a replay: the window as recorded, when the recording has one
        return latest is not None and latest.plan is not None

    def plan_missing(self) -> str:
        actions = self.session.actions
        if actions is None:
            return "plan: this recording has no deploy plan"
        return f"plan: {actions.plan_reason}"

    def plan_busy(self) -> str | None:
        actions = self.session.actions
        plan = actions.plan if actions is not None else None
        return plan.busy if plan is not None else None

    def plan_can_act(self) -> bool:
        """The phase keys may act (a plan controller, not read-only, nothing running)."""
        actions = self.session.actions
        if self.read_only or actions is None or actions.plan is None:
            return False
        return not (actions.plan.busy or (actions.controller and actions.controller.busy))

    # --- the header and the open view -----------------------------------------------------

    def _show_plan(self, s: Snapshot) -> None:
        if s.plan is None and not self.has_plan():
            return
        view = next((v for v in self.screen_stack if isinstance(v, PlanScreen)), None)
        if view is not None:
            view.draw(s)  # under a confirmation too: it shows the result
        else:  # (the header waits under the view, which says the same: see action_back)
            self.screen_stack[0].query_one(HeaderBar).set_plan(header_line(s.plan))

    def action_plan(self) -> None:
        latest = self.session.latest
        self.push_screen(PlanScreen(self, latest,  # type: ignore[arg-type]
                                    canary=self.session.info.canary))

    def action_plan_off(self) -> None:
        """`p` where there is no plan: why."""
        self.notify(self.plan_missing(), severity="warning", timeout=6)

    # --- acting -----------------------------------------------------------------------------

    def plan_request(self, request: str, phase: str) -> None:
        """Plan the request, show it, act on a yes."""
        actions = self.session.actions
        if actions is None:
            self.notify(REPLAY_WORDS, severity="warning", timeout=6)
            return
        try:
            plan = actions.plan_prepare(request, phase)
        except Refused as e:
            self.say(e.notice)
            return
        except Exception as e:  # a bug of ours: shown, never fatal
            self.notify(f"plan {request}: could not be planned: {type(e).__name__}: {e}",
                        severity="error", timeout=10)
            return

        def answered(reason: str | None) -> None:
            if reason is None:
                actions.plan_cancelled(plan)
                self.notify("cancelled: nothing was run or recorded", timeout=3)
            else:
                self._plan_execute(plan, reason or None)

        self.push_screen(PhaseActionScreen(plan), answered)

    @work(group="action", exclusive=False, exit_on_error=False)
    async def _plan_execute(self, plan: PhasePlan, override: str | None) -> None:
        actions = self.session.actions
        assert actions is not None
        header = self.screen_stack[0].query_one(HeaderBar)
        began = time.monotonic()

        def show_running() -> None:
            header.set_action(plan.title, time.monotonic() - began)
            for view in self.screen_stack:  # the view's head says what runs, too
                if isinstance(view, PlanScreen):
                    view.draw(None)

        def progress(text: str) -> None:
            self.notify(text, timeout=4)

        show_running()
        timer = self.set_interval(1.0, show_running)
        try:
            outcome = await actions.plan_execute(plan, override=override, progress=progress)
        except Refused as e:
            self.say(e.notice)
            return
        except Exception as e:  # the controller records and clears; this only reports
            self.notify(f"{plan.title}: {type(e).__name__}: {e}", severity="error", timeout=10)
            return
        finally:
            timer.stop()
            header.set_action(None)
        self._follow()
        self.notify(outcome.text, severity="information" if outcome.ok else "error",
                    timeout=10)

    def plan_reset(self) -> None:
        """A new deploy window (R): the plan shown, confirmed, the old record archived."""
        actions = self.session.actions
        if actions is None:
            self.notify(REPLAY_WORDS, severity="warning", timeout=6)
            return
        try:
            plan = actions.plan_reset_prepare()
        except Refused as e:
            self.say(e.notice)
            return

        def answered(reason: str | None) -> None:
            if reason is None:
                actions.plan_reset_cancelled()
                self.notify("cancelled: nothing was changed", timeout=3)
                return
            try:
                outcome = actions.plan_reset_execute(plan)
            except Refused as e:
                self.say(e.notice)
                return
            self._follow()
            self.notify(outcome.text, severity="information" if outcome.ok else "error",
                        timeout=10)

        self.push_screen(PhaseActionScreen(plan), answered)

    def plan_confirm(self, item: str, undo: bool = False) -> None:
        """A person's pre-flight item confirmed (who and when recorded), or taken back."""
        actions = self.session.actions
        if actions is None:
            self.notify(REPLAY_WORDS, severity="warning", timeout=6)
            return
        try:
            outcome = actions.plan_confirm(item, undo=undo)
        except Refused as e:
            self.say(e.notice)
            return
        self.notify(outcome.text, severity="information" if outcome.ok else "warning",
                    timeout=6)

    def plan_checks(self) -> None:
        actions = self.session.actions
        if actions is None:
            self.notify(REPLAY_WORDS, severity="warning", timeout=6)
            return
        try:
            actions._plan_controller("run the pre-flight")  # refused now, rather than later
        except Refused as e:
            self.say(e.notice)
            return
        self._plan_checks()

    @work(group="preflight", exclusive=True, exit_on_error=False)
    async def _plan_checks(self) -> None:
        actions = self.session.actions
        assert actions is not None
        view = self.screen if isinstance(self.screen, PlanScreen) else None
        if view is not None:
            view.checking = True
            view.draw(None)
        try:
            outcome = await actions.plan_preflight()
        except Refused as e:
            self.say(e.notice)
            return
        except Exception as e:
            self.say(Notice(f"pre-flight: {type(e).__name__}: {e}", "error", 10))
            return
        finally:
            if view is not None:
                view.checking = False
                if view.is_mounted:
                    view.draw(None)
        self.notify(outcome.text, severity="information" if outcome.ok else "warning",
                    timeout=8)

    def _follow(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, PlanScreen):
                screen.follow()
                screen.draw(None)
