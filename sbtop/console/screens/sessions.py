"""`enter` on the Database panel: the longest-running queries, and cancelling one (`x`)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from sbtop import format
from sbtop.console.messages import CancelQuery
from sbtop.engine.assessment import Assessment
from sbtop.engine.observations import DbSession

COLUMNS = ("id", "user", "application", "client", "state", "running", "wait", "query")


class SessionsScreen(Screen[None]):
    DEFAULT_CSS = """
    SessionsScreen #sessions-head { height: auto; padding: 0 1; }
    SessionsScreen DataTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("x", "cancel_query", "Cancel query"),
    ]

    def __init__(self, assessment: Assessment | None) -> None:
        super().__init__()
        self._first = assessment  # shown at once; then each tick's, from the app
        self.rows: list[DbSession] = []

    def compose(self) -> ComposeResult:
        yield Static(id="sessions-head")
        table: DataTable[Text] = DataTable(id="sessions", cursor_type="row")
        for c in COLUMNS:
            table.add_column(c, key=c)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_rows(self._first)

    def refresh_rows(self, a: Assessment | None) -> None:
        head = self.query_one("#sessions-head", Static)
        table = self.query_one("#sessions", DataTable)
        snap = a.db if a is not None else None
        if snap is None:
            source = a.sources.get("db") if a is not None else None
            head.update(Text(f"Database: {source.error if source else 'no data yet'}"))
            return
        blocked = ", ".join(f"{b} blocked by {by}" for b, by in snap.blocked) or "none"
        oldest = snap.oldest_xact
        lines = [f"Sessions on {snap.kind}: {snap.total} (sbtop's own left out)",
                 f"lock waits: {blocked}"]
        if oldest is not None and oldest.duration_s is not None:
            lines.append(f"oldest open transaction: pid {oldest.id}, "
                         f"{format.duration(oldest.duration_s)}")
        head.update(Text("\n".join(lines)))
        selected = self.selected()
        self.rows = list(snap.longest)
        with self.app.batch_update():
            table.clear()
            for i, r in enumerate(self.rows):
                # Keyed by position and query: one CockroachDB session may run two queries.
                table.add_row(*(Text(str(v or "")) for v in (
                    r.id, r.user, r.application, r.client, r.state,
                    format.duration(r.duration_s) if r.duration_s is not None else "",
                    r.wait, r.query)), key=f"{i}:{r.cancel_id or r.id}")
            if selected is not None:
                ids = [r.id for r in self.rows]
                if selected.id in ids:
                    table.move_cursor(row=ids.index(selected.id))
        if not self.rows:
            head.update(Text("\n".join([*lines, "no query running"])))

    def selected(self) -> DbSession | None:
        table = self.query_one("#sessions", DataTable)
        if not self.rows or not 0 <= table.cursor_row < len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def action_cancel_query(self) -> None:
        self.post_message(CancelQuery(self.selected()))
