"""Routes: the slowest and most failing routes, sortable (s) and filterable (/); a cursor
(j/k, the arrows) picks a route and enter opens its own chart.

Rows are plain lines, not a DataTable: a row repaints only when its text changes, and nothing
repaints the empty rows below. (A DataTable re-rendered the whole table on each redraw, which
cost more CPU than everything else on the screen.)
"""

from __future__ import annotations

import math
from collections.abc import Callable

from rich.cells import cell_len, set_cell_size
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Input

from sbtop.cadence import ROUTES_REDRAW_S, routes_due
from sbtop.console.marks import esc
from sbtop.console.messages import RouteChartRequested
from sbtop.console.widgets.panel import Line, Panel, Rows
from sbtop.engine.assessment import Assessment
from sbtop.engine.routes import Routes, RouteStat
from sbtop.session.snapshot import Snapshot

# (label, sort key): every order puts the route that needs attention first.
SORTS: tuple[tuple[str, str], ...] = (
    ("slowest p95", "p95"),
    ("most 5xx", "5xx"),
    ("busiest", "rps"),
    ("name", "name"),
)
# The figures cover the whole window, so they drift slowly: redrawing every few seconds keeps
# the table current for triage without resending it every tick.
REDRAW_S = ROUTES_REDRAW_S
# The order in the title: the column, its direction as an arrow and again in words (the words
# carry it on a terminal without the arrows, or read aloud).
ORDERS: dict[str, str] = {
    "p95": "p95 \u25bc (slowest first)",
    "5xx": "5xx % \u25bc (most first)",
    "rps": "req/s \u25bc (busiest first)",
    "name": "name \u25b2 (A to Z)",
}
# The column header's mark on the sorted column.
SORTED_COLUMN = {"p95": "p95 ms", "5xx": "5xx %", "rps": "req/s"}
# ASCII: the cursor row reads without colour (it is also reversed). Its column is there only
# while the panel has the focus (the only time the cursor moves).
CURSOR = "> "
MAX_ROWS = 60
NUMBERS = (("req/s", 7), ("p95 ms", 8), ("5xx %", 7), ("4xx %", 7))


def sort_key(mode: str) -> Callable[[RouteStat], tuple[float | str, ...]]:
    def high_first(v: float | None) -> float:
        return math.inf if v is None else -v  # routes without the figure go last

    if mode == "p95":
        return lambda r: (high_first(r.p95_ms), r.name)
    if mode == "5xx":
        return lambda r: (high_first(r.error_5xx_pct), -r.requests, r.name)
    if mode == "rps":
        return lambda r: (-r.requests_per_s, r.name)
    return lambda r: (r.name,)


def _num(v: float | None, digits: int) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


class RoutesPanel(Panel):
    title = "Routes"
    DEFAULT_CSS = """
    RoutesPanel { height: 1fr; min-height: 4; }
    RoutesPanel { overflow: hidden hidden; }
    RoutesPanel Input { display: none; height: 1; border: none; padding: 0; }
    RoutesPanel.-filtering Input { display: block; }
    """
    BINDINGS = [
        Binding("j,down", "cursor(1)", "Move", key_display="j/k", show=False),
        Binding("k,up", "cursor(-1)", "Previous route", show=False),
        Binding("enter", "chart", "Chart"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.sort_index = 0
        self.filter_text = ""
        # The latest route table, read only when redrawn (made then, when the engine made
        # it lazily: the panel redraws every few seconds, not every tick).
        self._table: Routes = Routes(reason="waiting for the first scrape…")
        self._drawn_at: float | None = None
        self.shown: list[str] = []  # route names on screen, in order
        self.listed = 0  # routes in the table last drawn (filtered or not, shown or not)
        self.cursor: str | None = None  # the route under the cursor (it follows re-sorting)

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter routes (enter keeps, escape clears)", id="rt-filter",
                    compact=True)
        yield Line(id="rt-head")
        yield Rows(id="rt-rows")  # one widget for every row: a widget a row cost 2 MB

    def on_mount(self) -> None:
        self._retitle()
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def on_focus(self) -> None:
        self._redraw()  # the cursor shows while the panel has the focus

    def on_blur(self) -> None:
        self._redraw()

    def action_cursor(self, step: int) -> None:
        if not self.shown:
            return
        i = self.shown.index(self.cursor) if self.cursor in self.shown else -1
        i = 0 if i < 0 else max(0, min(len(self.shown) - 1, i + step))
        self.cursor = self.shown[i]
        self._redraw()

    def action_chart(self) -> None:
        if self.cursor is not None and self.cursor in self.shown:  # it is, once rows are
            self.post_message(RouteChartRequested(self.cursor))
        else:
            self.app.notify("Routes: no route to chart yet")

    def draw(self, a: Assessment, s: Snapshot) -> None:
        if routes_due(self._drawn_at, a.t, had_routes=bool(self.listed)):
            # Only the table drawn is kept: a redraw between (a resize, the focus, a sort or a
            # filter) shows the same table again, as the recording keeps it, and makes none.
            self._table = a.routes
            self._drawn_at = a.t
            self._redraw()
        self.set_state("-ok", f"redrawn every {REDRAW_S:g}s")

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
        self.query_one("#rt-filter", Input).value = ""
        self.filter_text = ""
        self.remove_class("-filtering")
        self._retitle()
        self._redraw()
        self.focus()

    def _retitle(self) -> None:
        order = ORDERS[SORTS[self.sort_index][1]]
        filt = f", filter: {self.filter_text}" if self.filter_text else ""
        self.border_title = Content(f"Routes by {order}{filt}")  # the filter is typed text

    def _redraw(self) -> None:
        width = max(30, self.content_size.width or 76)
        focused = self.has_focus
        gutter = len(CURSOR) if focused else 0
        name_width = width - sum(w for _l, w in NUMBERS) - gutter
        mode = SORTS[self.sort_index][1]
        column = "route" + (" \u25b2" if mode == "name" else "")
        labels = [(label + "\u25bc" if SORTED_COLUMN.get(mode) == label else label, w)
                  for label, w in NUMBERS]
        head = " " * gutter + f"{column:<{name_width}}" + "".join(
            f"{label:>{w}}" for label, w in labels)
        self.query_one("#rt-head", Line).set(f"[b]{head}[/]")
        needle = self.filter_text.lower()
        self.listed = len(self._table.every)
        rows = sorted((r for r in self._table.every if needle in r.name.lower()),
                      key=sort_key(SORTS[self.sort_index][1]))
        room = max(1, (self.content_size.height or 10) - 1 - (1 if self.filter_text else 0))
        lines: list[str] = []
        if self._table.reason:
            lines.append(f"[$text-muted]{esc(self._table.reason)}[/]")
        elif not rows:
            lines.append("[$text-muted]no route matches the filter[/]" if needle
                         else "[$text-muted]no traffic on any route in the window[/]")
        shown = rows if len(rows) <= room - len(lines) else rows[: max(0, room - len(lines) - 1)]
        for r in shown:
            lines.append(self._row(r, name_width, self.app.no_color))
        if len(shown) < len(rows):
            lines.append(f"[$text-muted]+{len(rows) - len(shown)} more routes (/ filters)[/]")
        self.shown = [r.name for r in shown]
        self._place_cursor(lines, len(lines) - len(shown) - (len(shown) < len(rows)), gutter)
        self.query_one("#rt-rows", Rows).set(lines[:MAX_ROWS])

    def _place_cursor(self, lines: list[str], first: int, gutter: int) -> None:
        """The route rows (from `first` on) behind the cursor's column, the cursor's row
        marked; the cursor kept on its route, else on the first."""
        if self.cursor not in self.shown:
            self.cursor = self.shown[0] if self.shown else None
        for i, name in enumerate(self.shown):
            row = lines[first + i]
            if gutter and name == self.cursor:
                lines[first + i] = f"[reverse]{CURSOR}{row}[/reverse]"
            else:
                lines[first + i] = " " * gutter + row

    @staticmethod
    def _row(r: RouteStat, name_width: int, no_color: bool = False) -> str:
        # Widths in terminal cells, not characters: a CJK route name is twice as wide.
        name = r.name if cell_len(r.name) <= name_width - 1 else (
            set_cell_size(r.name, name_width - 2) + "…")
        name = set_cell_size(name, name_width)
        numbers = (_num(r.requests_per_s, 1), _num(r.p95_ms, 0), _num(r.error_5xx_pct, 1),
                   _num(r.error_4xx_pct, 1))
        cells = "".join(f"{v:>{w}}" for v, (_l, w) in zip(numbers, NUMBERS, strict=True))
        # Route names come from the page: escaped, so markup in them is never parsed.
        text = esc(name) + cells
        # 5xx above 1 % bold, above 5 % reversed: a failing row stands out in every theme and
        # without colour (a grey of the warning colour alone reads dimmer than healthy rows).
        if r.error_5xx_pct is not None and r.error_5xx_pct > 5:
            return f"[b reverse $error]{text}[/]"
        if r.error_5xx_pct is not None and r.error_5xx_pct > 1:
            return f"[b]{text}[/]" if no_color else f"[b $warning]{text}[/]"
        return text
