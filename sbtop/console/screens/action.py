"""The confirmation for an action that touches production: the plan in full, cancel by
default. A production target, or a step past a shut gate, needs the target's name typed."""

from __future__ import annotations

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Input, Static

from sbtop.actions.plan import Plan
from sbtop.console.screens.question import Question


class ActionScreen(Question[bool]):
    """Dismissed with True only on the exact confirmation."""

    DEFAULT_CSS = """
    ActionScreen { align: center middle; }
    ActionScreen > VerticalScroll {
        width: 100%; max-width: 110; height: auto; max-height: 100%;
        border: heavy $warning; background: $surface; padding: 0 1;
    }
    ActionScreen Static { width: 1fr; height: auto; }
    ActionScreen Input { width: 1fr; }
    /* No notification over a question: on a small screen one covers the prompt or the
       plan. Those still due show again when the question is answered. */
    ActionScreen Toast { display: none; }
    """
    BINDINGS = [Binding("escape", "answer(False)", "Cancel", show=False)]

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan
        self.typed = plan.production or plan.needs_override

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            for line in self.plan.describe():
                yield Static(Content(line))
            if self.plan.needs_override:
                yield Static(Content.from_markup(
                    "[b $warning]The gate is shut (or this is not the next step): going on is "
                    "an override, and is recorded as one.[/]"))
            if self.typed:
                yield Static(Content(f"Type the target's name ({self.plan.target}) and press "
                                     "enter to go ahead; escape cancels."))
                yield Input(placeholder=self.plan.target, id="confirm-name")
            else:
                yield Static(Content.from_markup("[b]y[/] go ahead    [b]n[/] / escape: "
                                                 "cancel (the default)"))

    def on_mount(self) -> None:
        if self.typed:
            self.query_one("#confirm-name", Input).focus()

    def on_key(self, event: events.Key) -> None:
        if self.typed:
            return
        if event.key in ("y", "n", "enter"):
            # Answered here, the key goes no further: dismissed, the screen behind would
            # otherwise take it too (enter opening the focused panel's chart).
            event.stop()
            event.prevent_default()
            self.dismiss(event.key == "y")

    @on(Input.Submitted, "#confirm-name")
    def _typed(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() == self.plan.target)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
