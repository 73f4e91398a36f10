"""Database: sessions and pool pressure. Until its source exists, it says so plainly."""

from __future__ import annotations

from textual.app import ComposeResult

from sbtop.console.widgets.panel import Line, Panel
from sbtop.engine.assessment import Assessment
from sbtop.engine.history import History


class DatabasePanel(Panel):
    title = "Database"

    def __init__(self, *, dsn_given: bool, id: str | None = None) -> None:
        super().__init__(id=id)
        self._dsn_given = dsn_given

    def compose(self) -> ComposeResult:
        if self._dsn_given:
            yield Line("a DSN is set, but this sbtop does not read databases yet")
        else:
            yield Line("no database configured")
            yield Line("[$text-muted]set dsn_env on the target, or --dsn[/]")

    def show(self, a: Assessment, history: History) -> None:
        self.set_state("-unknown", None)
