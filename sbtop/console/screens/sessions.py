"""`enter` on the Database panel: the sessions, longest-running first (or sorted by `s`),
idle ones on request (`i`); cancelling a query (`x`) or ending a session (`K`), each off
unless its [db] switch is on, never read-only, and then not in the footer."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from sbtop import format
from sbtop.console.messages import CancelQuery, TerminateSession
from sbtop.engine.assessment import Assessment
from sbtop.engine.observations import DbSession
from sbtop.session.snapshot import Notice

COLUMNS = ("id", "user", "application", "client", "state", "for", "wait", "query")
# The orders `s` steps through: a name, and the key that sorts by it.
SORTS: tuple[tuple[str, Callable[[DbSession], tuple[object, ...]]], ...] = (
    ("longest running", lambda r: (r.duration_s is None, -(r.duration_s or 0.0))),
    ("state", lambda r: (r.state or "", -(r.duration_s or 0.0))),
    ("user", lambda r: (r.user or "", -(r.duration_s or 0.0))),
    ("application", lambda r: (r.application or "", -(r.duration_s or 0.0))),
)
# Why cancel or terminate may not be done now (None: it may); the app asks the session.
Refusal = Callable[[str], Notice | None]


class SessionsScreen(Screen[None]):
    DEFAULT_CSS = """
    SessionsScreen #sessions-head { height: auto; padding: 0 1; }
    SessionsScreen DataTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("s", "sort", "Sort"),
        Binding("i", "idle", "Idle"),
        # In the footer only where they may act; pressed elsewhere, the twins say why.
        Binding("x", "cancel_query", "Cancel query"),
        Binding("K", "terminate", "Terminate"),
        Binding("x", "refused('cancel')", show=False),
        Binding("K", "refused('terminate')", show=False),
    ]

    def __init__(self, assessment: Assessment | None,
                 refusal: Refusal = lambda _kind: Notice("read-only", "warning")) -> None:
        super().__init__()
        self._first = assessment  # shown at once; then each tick's, from the app
        self._refusal = refusal
        self._allowed: tuple[bool, bool] | None = None  # (cancel, terminate), as last shown
        self.rows: list[DbSession] = []
        self.sort = 0
        self.show_idle = False
        self._latest: Assessment | None = assessment

    def compose(self) -> ComposeResult:
        yield Static(id="sessions-head")
        table: DataTable[Text] = DataTable(id="sessions", cursor_type="row")
        for c in COLUMNS:
            table.add_column(c, key=c)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_rows(self._first)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        may = {"cancel_query": "cancel", "terminate": "terminate"}.get(action)
        if may is not None:
            return self._refusal(may) is None
        if action == "refused":
            return self._refusal(str(parameters[0])) is not None
        return True

    def refresh_rows(self, a: Assessment | None) -> None:
        self._latest = a
        allowed = (self._refusal("cancel") is None, self._refusal("terminate") is None)
        if allowed != self._allowed:  # the footer shows only the keys that may act
            self._allowed = allowed
            self.refresh_bindings()
        head = self.query_one("#sessions-head", Static)
        table = self.query_one("#sessions", DataTable)
        snap = a.db if a is not None else None
        if snap is None:
            source = a.sources.get("db") if a is not None else None
            head.update(Text(f"Database: {source.error if source else 'no data yet'}"))
            return
        blocked = ", ".join(f"{b} blocked by {by}" for b, by in snap.blocked) or "none"
        oldest = snap.oldest_xact
        listed = [r for r in snap.longest if self.show_idle or r.state != "idle"]
        idle = len(snap.longest) - len(listed) if not self.show_idle else 0
        name, key = SORTS[self.sort]
        lines = [f"Sessions on {snap.kind}: {snap.total} (sbtop's own left out); sorted by "
                 f"{name} (s); idle {'shown' if self.show_idle else 'hidden'} (i)"
                 + (f", {idle} not listed" if idle else ""),
                 f"lock waits: {blocked}"]
        if oldest is not None and oldest.duration_s is not None:
            lines.append(f"oldest open transaction: pid {oldest.id}, "
                         f"{format.duration(oldest.duration_s)}")
        head.update(Text("\n".join(lines)))
        selected = self.selected()
        self.rows = sorted(listed, key=key)
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

    def action_sort(self) -> None:
        self.sort = (self.sort + 1) % len(SORTS)
        self.refresh_rows(self._latest)

    def action_idle(self) -> None:
        self.show_idle = not self.show_idle
        self.refresh_rows(self._latest)

    def action_cancel_query(self) -> None:
        self.post_message(CancelQuery(self.selected()))

    def action_terminate(self) -> None:
        self.post_message(TerminateSession(self.selected()))

    def action_refused(self, kind: str) -> None:
        refusal = self._refusal(kind)
        if refusal is not None:
            self.app.notify(refusal.text, severity=refusal.severity,
                            timeout=refusal.timeout or 5)
