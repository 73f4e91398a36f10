"""`S`: the database's own view of latency, the statements over the window (pg_stat_statements
or CockroachDB's statement statistics), sorted by total time, mean or calls (`s`); or why
there are none and how to have them."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from sbtop.engine.assessment import Assessment
from sbtop.engine.statements import StatementStat, StatementsView

COLUMNS = (("ms/s", "total"), ("mean ms", "mean"), ("calls/s", "calls"),
           ("/req", "per_request"), ("query", "query"))
# The orders `s` steps through: a name, and the key that sorts by it.
SORTS: tuple[tuple[str, Callable[[StatementStat], tuple[float, str]]], ...] = (
    ("total time", lambda s: (-s.total_ms, s.id)),
    ("mean time", lambda s: (-(s.mean_ms if s.mean_ms is not None else -1.0), s.id)),
    ("calls", lambda s: (-float(s.calls), s.id)),
)


def clock_time(wall: float) -> str:
    """HH:MM:SS, local time, as the charts show it."""
    return time.strftime("%H:%M:%S", time.localtime(wall))


def _num(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


class StatementsScreen(Screen[None]):
    DEFAULT_CSS = """
    StatementsScreen #statements-head { height: auto; padding: 0 1; }
    StatementsScreen DataTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("s", "sort", "Sort"),
    ]

    def __init__(self, assessment: Assessment | None) -> None:
        super().__init__()
        self._latest = assessment
        self.sort = 0
        self.rows: list[StatementStat] = []

    def compose(self) -> ComposeResult:
        yield Static(id="statements-head")
        table: DataTable[Text] = DataTable(id="statements", cursor_type="row")
        for label, key in COLUMNS:
            table.add_column(label, key=key)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_rows(self._latest)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "sort":  # in the footer only when there is something to sort
            return bool(self.rows)
        return True

    def refresh_rows(self, a: Assessment | None) -> None:
        self._latest = a
        view = a.statements if a is not None else None
        head = self.query_one("#statements-head", Static)
        table = self.query_one("#statements", DataTable)
        had = bool(self.rows)
        self.rows = _listed(view) if view is not None else []
        if had != bool(self.rows):
            self.refresh_bindings()
        head.update(Text("\n".join(self._head(view))))
        self.rows.sort(key=SORTS[self.sort][1])
        with self.app.batch_update():
            table.clear()
            for s in self.rows:
                table.add_row(
                    Text(_num(s.total_ms_per_s, 0), justify="right"),
                    Text(_num(s.mean_ms, 2), justify="right"),
                    Text(_num(s.calls_per_s), justify="right"),
                    Text(_num(s.calls_per_request), justify="right"),
                    Text(s.text or f"(queryid {s.id})"), key=s.id)

    def _head(self, view: StatementsView | None) -> list[str]:
        if view is None:
            return ["Statements: not read (no database, or statements = false in [db])"]
        if view.reason is not None:
            return [f"Statements ({view.source}): {view.reason}"]
        name = SORTS[self.sort][0]
        read = "" if view.polled_wall is None else f", read at {clock_time(view.polled_wall)}"
        lines = [f"Statements ({view.source}) over the last {view.window_s or 0:.0f} s"
                 f"{read}: {view.statements} ran; sorted by {name} (s)"]
        if view.hint is not None:
            lines.append(f"{view.hint} (the /req column: calls per HTTP request)")
        elif view.hint_reason is not None:
            lines.append(view.hint_reason)
        lines += list(view.notes)
        if not self.rows:
            lines.append("no statement ran in the window")
        return lines

    def action_sort(self) -> None:
        self.sort = (self.sort + 1) % len(SORTS)
        self.refresh_rows(self._latest)


def _listed(view: StatementsView) -> list[StatementStat]:
    """Every statement the view ranks (the top by time, by mean and by calls), once."""
    seen: dict[str, StatementStat] = {}
    for s in view.by_total + view.by_mean + view.by_calls:
        seen.setdefault(s.id, s)
    return list(seen.values())
