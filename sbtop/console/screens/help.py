"""`?`: every key, from the bindings themselves (one place per key)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from sbtop.console.marks import esc

# Keys Textual provides itself, described here once.
BUILT_IN = (("tab / shift+tab", "move between panels"),
            ("escape / q", "close a chart, the sessions view or this help"))


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 100; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    HelpScreen Static { width: 1fr; height: auto; }
    """
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", show=False)]

    def __init__(self, bindings: list[Binding], notes: list[str]) -> None:
        super().__init__()
        self._keys = bindings
        self._notes = notes

    def compose(self) -> ComposeResult:
        rows = [(b.key_display or b.key, b.tooltip) for b in self._keys]
        rows[2:2] = list(BUILT_IN)
        width = max(len(k) for k, _ in rows)
        with VerticalScroll():
            yield Static("[b]sbtop keys[/] [$text-muted](escape closes this help)[/]\n")
            for k, d in rows:
                # One Static a key, so a long description wraps under itself.
                yield Static(f"[b $accent]{esc(k):<{width}}[/]  {esc(d)}")
            yield Static("\n" + "\n".join(f"[$text-muted]{esc(n)}[/]" for n in self._notes))
