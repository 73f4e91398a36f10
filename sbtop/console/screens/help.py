"""`?`: every key, from the bindings themselves (one place per key), one line each: it fits
80x24 without scrolling."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from sbtop.console.marks import esc


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 100%; max-width: 100; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    HelpScreen Static { width: 1fr; height: auto; }
    /* At 80x24 the help fills the screen: a notification would hide its last keys. Those
       still due show again when it closes. */
    HelpScreen Toast { display: none; }
    """
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", show=False)]

    def __init__(self, rows: list[tuple[str, str]], notes: list[str],
                 title: str = "sbtop keys") -> None:
        super().__init__()
        self._rows = rows
        self._notes = notes
        self._title = title

    def compose(self) -> ComposeResult:
        # One line a key, no blank lines: the whole help fits 80x24 without scrolling.
        width = max(len(k) for k, _ in self._rows)
        scroll = VerticalScroll()
        # The heading in the border: every line inside is a key or a note (80x24 has 22).
        scroll.border_title = f"{self._title} (escape closes this help)"
        with scroll:
            for k, d in self._rows:
                # One Static a key, so a description too long for the screen wraps under it.
                yield Static(f"[b $accent]{esc(k):<{width}}[/]  {esc(d)}")
            yield Static("\n".join(f"[$text-muted]{esc(n)}[/]" for n in self._notes))
