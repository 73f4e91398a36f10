"""Routes: the slowest and most failing routes, sortable (s) and filterable (/)."""

from __future__ import annotations

import math

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import DataTable, Input

from sbtop.console.widgets.panel import Line, Panel
from sbtop.engine.assessment import Assessment
from sbtop.engine.figures import RouteStat
from sbtop.engine.history import History

# (label, sort key): every order puts the route that needs attention first.
SORTS: tuple[tuple[str, str], ...] = (
    ("slowest p95", "p95"),
    ("most 5xx", "5xx"),
    ("busiest", "rps"),
    ("name", "name"),
)
COLUMNS = (("route", "route"), ("req/s", "rps"), ("p95 ms", "p95"), ("5xx %", "5xx"),
           ("4xx %", "4xx"))


def _sort_key(mode: str):  # type: ignore[no-untyped-def]
    def missing_last(v: float | None) -> float:
        return -math.inf if v is None else v

    if mode == "p95":
        return lambda r: (-missing_last(r.p95_ms), r.name)
    if mode == "5xx":
        return lambda r: (-missing_last(r.error_5xx_pct), -r.requests, r.name)
    if mode == "rps":
        return lambda r: (-r.requests_per_s, r.name)
    return lambda r: r.name


def _cell(v: float | None, digits: int) -> Text:
    return Text("-" if v is None else f"{v:.{digits}f}", justify="right")


class RoutesPanel(Panel):
    title = "Routes"
    DEFAULT_CSS = """
    RoutesPanel { height: 1fr; min-height: 5; }
    RoutesPanel DataTable { height: 1fr; background: $surface; }
    RoutesPanel Input { display: none; height: 1; border: none; padding: 0; }
    RoutesPanel.-filtering Input { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.sort_index = 0
        self.filter_text = ""
        self._routes: tuple[RouteStat, ...] = ()
        self._reason: str | None = "waiting for the first scrape…"
        self._shown: list[str] = []

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter routes (enter keeps, escape clears)", id="rt-filter")
        yield Line(f"[$text-muted]{self._reason}[/]", id="rt-reason")
        table: DataTable[Text] = DataTable(id="rt-table", cursor_type="row", zebra_stripes=False,
                                           show_cursor=False)
        for label, key in COLUMNS:
            table.add_column(label, key=key)
        yield table

    def on_mount(self) -> None:
        self._retitle()

    def show(self, a: Assessment, history: History) -> None:
        self._routes = a.routes.every
        self._reason = a.routes.reason
        self._redraw()
        self.set_state("-ok", None)

    def cycle_sort(self) -> str:
        self.sort_index = (self.sort_index + 1) % len(SORTS)
        self._retitle()
        self._redraw()
        return SORTS[self.sort_index][0]

    def start_filter(self) -> None:
        self.add_class("-filtering")
        self.query_one("#rt-filter", Input).focus()

    @on(Input.Changed, "#rt-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self._retitle()
        self._redraw()

    @on(Input.Submitted, "#rt-filter")
    def _filter_done(self) -> None:
        if not self.filter_text:
            self.remove_class("-filtering")
        self.focus()

    def clear_filter(self) -> None:
        box = self.query_one("#rt-filter", Input)
        box.value = ""
        self.filter_text = ""
        self.remove_class("-filtering")
        self._retitle()
        self._redraw()
        self.focus()

    def _retitle(self) -> None:
        label = SORTS[self.sort_index][0]
        filt = f", filter: {self.filter_text}" if self.filter_text else ""
        self.border_title = f"Routes by {label}{filt}"

    def _redraw(self) -> None:
        table = self.query_one("#rt-table", DataTable)
        reason = self.query_one("#rt-reason", Line)
        reason.set(f"[$text-muted]{self._reason}[/]" if self._reason else "")
        reason.display = bool(self._reason)
        needle = self.filter_text.lower()
        rows = [r for r in self._routes if needle in r.name.lower()]
        rows.sort(key=_sort_key(SORTS[self.sort_index][1]))
        names = [r.name for r in rows]
        with self.app.batch_update():
            if names != self._shown:
                # Another set or order of routes: rebuild, keeping the cursor on its route.
                cursor = self._shown[table.cursor_row] if (
                    table.show_cursor and 0 <= table.cursor_row < len(self._shown)) else None
                table.clear()
                for r in rows:
                    table.add_row(*self._cells(r), key=r.name)
                self._shown = names
                if cursor in names:
                    table.move_cursor(row=names.index(cursor))
            else:
                for r in rows:
                    for (_label, col), cell in zip(COLUMNS, self._cells(r), strict=True):
                        if table.get_cell(r.name, col).plain != cell.plain:
                            table.update_cell(r.name, col, cell)

    @staticmethod
    def _cells(r: RouteStat) -> tuple[Text, ...]:
        # Route names come from the page: plain Text, so markup in them is never parsed.
        return (Text(r.name, overflow="ellipsis", no_wrap=True), _cell(r.requests_per_s, 1),
                _cell(r.p95_ms, 0), _cell(r.error_5xx_pct, 1), _cell(r.error_4xx_pct, 1))
