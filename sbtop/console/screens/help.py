"""`?`: every key, from the bindings themselves (one place per key)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Static

# Keys Textual provides itself, described here once.
BUILT_IN = (("tab / shift+tab", "move between panels"),)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: auto; max-width: 90%; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 2;
    }
    HelpScreen Static { width: auto; height: auto; }
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
        lines = ["[b]sbtop keys[/]", ""]
        lines += [f"[b $accent]{escape(k):<{width}}[/]  {escape(d)}" for k, d in rows]
        lines += ["", *[f"[$text-muted]{escape(n)}[/]" for n in self._notes],
                  "[$text-muted]escape closes this help[/]"]
        with Vertical():
            yield Static("\n".join(lines))
