"""The confirmation for starting, passing or rolling back a phase, or starting a new deploy
window (R): what will run, cancel by default. A production target needs its name typed; a
phase that needs an override (pre-flight items open, an earlier phase not passed, the watch
not over, a criterion failing) needs the reason typed, as the canary gate's override does, and
the reason is recorded in the audit.

Dismissed with None (no: escape, n, enter, a wrong name, an empty reason), "" (yes, nothing
typed needed) or the typed reason."""

from __future__ import annotations

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Input, Static

from sbtop import untrusted
from sbtop.actions.phases import MIN_REASON, PhasePlan
from sbtop.actions.plan_reset import ResetPlan
from sbtop.console.screens.question import Question


class PhaseActionScreen(Question[str | None]):
    DEFAULT_CSS = """
    PhaseActionScreen { align: center middle; }
    PhaseActionScreen > VerticalScroll {
        width: 100%; max-width: 110; height: auto; max-height: 100%;
        border: heavy $warning; background: $surface; padding: 0 1;
    }
    PhaseActionScreen Static { width: 1fr; height: auto; }
    PhaseActionScreen Input { width: 1fr; }
    PhaseActionScreen Toast { display: none; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, plan: PhasePlan | ResetPlan) -> None:
        super().__init__()
        self.plan = plan
        self.named = not plan.production  # the target's name typed (or not needed)
        self.typed = plan.production or plan.needs_override

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            for line in self.plan.describe():
                yield Static(Content(untrusted.line(line, 1000)))
            if self.plan.production:
                yield Static(Content(f"Type the target's name ({self.plan.target}) and press "
                                     "enter; escape cancels."))
                yield Input(placeholder=self.plan.target, id="confirm-name")
            if self.plan.needs_override:
                yield Static(Content.from_markup(
                    "[b $warning]Going on is an override, recorded as one:[/] type why (at "
                    f"least {MIN_REASON} characters) and press enter; an empty reason or "
                    "escape cancels."))
                yield Input(placeholder="why go on anyway", id="override-reason")
            if not self.typed:
                yield Static(Content.from_markup("[b]y[/] go ahead    [b]n[/] / escape / "
                                                 "enter: cancel (the default)"))

    def on_mount(self) -> None:
        inputs = list(self.query(Input))
        if inputs:
            inputs[0].focus()

    def on_key(self, event: events.Key) -> None:
        if self.typed:
            return
        if event.key in ("y", "n", "enter"):
            # Answered here: the key goes no further (the view behind would take it too).
            event.stop()
            event.prevent_default()
            self.dismiss("" if event.key == "y" else None)

    @on(Input.Submitted, "#confirm-name")
    def _named(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip() != self.plan.target:
            self.dismiss(None)
        elif self.plan.needs_override:
            self.named = True
            self.query_one("#override-reason", Input).focus()
        else:
            self.dismiss("")

    @on(Input.Submitted, "#override-reason")
    def _reason(self, event: Input.Submitted) -> None:
        event.stop()
        reason = event.value.strip()
        if not self.named:
            name = self.query_one("#confirm-name", Input).value.strip()
            self.named = name == self.plan.target
        # An empty reason is no; a short one goes on to be refused (and audited) with why.
        self.dismiss(reason if reason and self.named else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
