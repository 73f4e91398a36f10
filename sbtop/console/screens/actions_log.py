"""`a`: the action log, newest first, as the audit file holds it."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static


class ActionLogScreen(Screen[None]):
    DEFAULT_CSS = """
    ActionLogScreen DataTable { height: 1fr; }
    ActionLogScreen #log-head { height: auto; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,q,a", "app.pop_screen", "Back")]

    def __init__(self, entries: list[dict[str, Any]], path: str) -> None:
        super().__init__()
        self.entries = entries
        self.path = path

    def compose(self) -> ComposeResult:
        head = f"Action log ({self.path}), newest first"
        if not self.entries:
            head = f"Action log ({self.path}): none"
        yield Static(Text(head), id="log-head")
        table: DataTable[Text] = DataTable(cursor_type="row")
        for c in ("time", "user", "action", "params", "dry run", "override", "result"):
            table.add_column(c)
        for e in reversed(self.entries[-500:]):
            table.add_row(*(Text(str(v)) for v in (
                e.get("time", ""), e.get("user", ""), e.get("action", ""),
                e.get("params", ""), "yes" if e.get("dry_run") else "",
                "yes" if e.get("override") else "", e.get("result", ""))))
        yield table
        yield Footer()
