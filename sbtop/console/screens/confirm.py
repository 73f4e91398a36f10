"""A yes/no question whose default is no: y confirms; n, escape or enter cancels."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from sbtop.console.marks import esc
from sbtop.console.screens.question import Question


class ConfirmScreen(Question[bool]):
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 100%; max-width: 100; height: auto; max-height: 100%; border: heavy $warning;
        background: $surface; padding: 0 1;
    }
    ConfirmScreen Static { width: 1fr; height: auto; }
    /* No notification over a question: on a small screen one covers the prompt or the
       plan. Those still due show again when the question is answered. */
    ConfirmScreen Toast { display: none; }
    """
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", show=False),
        Binding("n,escape,enter", "answer(False)", "No", show=False),
    ]

    def __init__(self, question: str, details: list[str]) -> None:
        super().__init__()
        self._question = question
        self._details = details

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"[b]{esc(self._question)}[/]")
            for d in self._details:
                yield Static(esc(d))
            yield Static("[b $warning]y[/] yes    [b]n[/] / escape / enter: no (the default)")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
