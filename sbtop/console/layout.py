"""Which layout for which terminal size, and what goes first.

The rules (the README's console section says them to the user):
- compact, fewer than 30 rows (80x24): the metric panels keep their figures, levels and
  thresholds but drop their sparklines, and the Canary panel its gate line while no canary is
  under way; while one is, Sockets & memory and Database step aside unless they warn (the
  header's level and the alerts still speak for them). The rows go to the routes.
- standard: the four metric panels two by two, as many routes as there are (or as fit).
- wide, 160 columns or more: the four metric panels side by side in one row.
- At any size but compact, the rows the routes do not need go to the metric panels: with three
  rows or more to give each, the sparklines become history charts that high (threshold lines,
  a scale), once the number of routes has held for a minute (so the screen does not fold and
  unfold while routes seldom called come into the window).
- While a canary is under way (the flag read, above 0 %, below the top of the ladder), the
  Canary panel comes first, right under the header, so its step, gate and the routes it moves
  are what is seen; otherwise latency and errors come first and the Canary panel follows the
  metric panels.

Arranging costs nothing per tick when nothing changes: each step compares before it sets.
"""

from __future__ import annotations

import contextlib
import enum

from textual.containers import Grid
from textual.css.query import NoMatches
from textual.events import Resize
from textual.screen import Screen

from sbtop.console.view import SnapshotView
from sbtop.console.widgets.canary import CanaryPanel
from sbtop.console.widgets.panel import CHART_MAX_ROWS, CHART_MIN_ROWS, Sparkline
from sbtop.console.widgets.routes import MAX_ROWS, RoutesPanel
from sbtop.engine.gate import Gate
from sbtop.session.snapshot import Snapshot

COMPACT_BELOW_ROWS = 30
WIDE_FROM_COLUMNS = 160
# Routes are figures over a 60 s window: once their number has held for that long, the routes
# a target serves are all in sight, and rows left over can go to charts without the layout
# folding them again a few seconds later.
ROUTES_SETTLE_S = 60.0

LAYOUT_CSS = """
Screen.-compact Sparkline { display: none; }
Screen.-compact #db-statements, #database.-no-statements #db-statements { display: none; }
Screen.-compact.-calm #cn-gate, Screen.-compact.-calm #cn-gate2 { display: none; }
Screen.-compact.-canary #sockets, Screen.-compact.-canary #database { display: none; }
Screen.-compact.-canary #sockets.-warning, Screen.-compact.-canary #sockets.-critical,
Screen.-compact.-canary #sockets.-stale, Screen.-compact.-canary #sockets.-down,
Screen.-compact.-canary #database.-warning, Screen.-compact.-canary #database.-critical,
Screen.-compact.-canary #database.-stale, Screen.-compact.-canary #database.-down {
    display: block;
}
Screen.-wide #panels { grid-size: 4; grid-columns: 1fr 1fr 1fr 1fr; }
"""


class Size(enum.Enum):
    COMPACT = "compact"
    STANDARD = "standard"
    WIDE = "wide"


def size_of(width: int, height: int) -> Size:
    if height < COMPACT_BELOW_ROWS:
        return Size.COMPACT
    if width >= WIDE_FROM_COLUMNS:
        return Size.WIDE
    return Size.STANDARD


def canary_under_way(gate: Gate | None) -> bool:
    """A canary is under way between its first step and the top of the ladder."""
    return (gate is not None and gate.percent is not None and gate.percent > 0
            and gate.next_percent is not None)


def chart_rows(spare: int, panel_rows: int) -> int:
    """How high each metric panel's chart is, given the rows the routes leave spare and how
    many rows of metric panels share them (a chart of one row is the sparkline)."""
    rows = 1 + max(0, spare) // max(1, panel_rows)
    return min(CHART_MAX_ROWS, rows) if rows >= CHART_MIN_ROWS else 1


class LayoutView(SnapshotView):
    """Arranges the main screen by its size and by the moment (a canary under way or not)."""

    _layout_size: Size | None = None
    _canary_first = False
    _charted: tuple[list[Sparkline], RoutesPanel] | None = None
    _most_routes = 0
    _routes_grew_t: float | None = None  # when the routes first showed or last grew

    def on_resize(self, _event: Resize) -> None:
        self.call_after_refresh(self._arrange)

    def _show(self, s: Snapshot) -> None:
        super()._show(s)
        self._arrange()

    def _show_canary(self, s: Snapshot) -> None:
        super()._show_canary(s)
        self._arrange()

    def _arrange(self) -> None:
        screen = self.screen_stack[0] if self.screen_stack else None
        if screen is None or not screen.is_mounted:
            return
        size, first = self._arrange_screen(screen)
        if first != self._canary_first:
            self._canary_first = first
            with contextlib.suppress(NoMatches):  # no Canary panel (no deploy provider)
                canary = screen.query_one(CanaryPanel)
                panels = screen.query_one("#panels", Grid)
                if first:
                    screen.move_child(canary, before=panels)
                else:
                    screen.move_child(canary, after=panels)
        self._fit_charts(size)

    def _arrange_screen(self, screen: Screen[object]) -> tuple[Size, bool]:
        """The screen's classes for its size and the moment (a canary under way or not); also
        called before the screen's widgets are mounted, so they are styled once, already
        arranged. (The size, the moment.)"""
        size = size_of(self.size.width, self.size.height)
        if size is not self._layout_size:
            self._layout_size = size
            for s in Size:
                screen.set_class(s is size, f"-{s.value}")
        gate = self.snapshot.gate if self.snapshot is not None else None
        first = canary_under_way(gate)
        screen.set_class(first, "-canary")
        screen.set_class(not first, "-calm")
        return size, first

    def _fit_charts(self, size: Size) -> None:
        """Give the metric panels' charts the rows the routes do not need."""
        if self._charted is None:  # looked up once: the panels stay for the app's life
            screen = self.screen_stack[0]
            self._charted = (list(screen.query(Sparkline)), screen.query_one(RoutesPanel))
        sparks, routes = self._charted
        if not sparks:
            return
        rows = 1
        room = routes.content_size.height
        if size is not Size.COMPACT and room > 0:
            panel_rows = 1 if size is Size.WIDE else 2
            # The room the routes would have with one-row sparklines (less what overflows the
            # screen: the routes panel keeps a minimum height, then the screen scrolls).
            screen = self.screen_stack[0]
            overflow = max(0, screen.virtual_size.height - screen.size.height)
            base = room + panel_rows * (sparks[0].rows - 1) - overflow
            a = self.snapshot.assessment if self.snapshot is not None else None
            if a is None or self.snapshot is None or self.snapshot.ticks < 2:
                return  # no rates (and no routes) before a second scrape
            # The most routes seen so far: a route seldom called that comes and goes from the
            # window must not fold the charts and unfold them again (a repaint of the screen).
            # Counted in the table the routes panel last drew (every few seconds), not in this
            # tick's: reading that would make the route table every tick, the work its
            # laziness saves (a fifth of a tick on a page of hundreds of routes).
            listed = min(MAX_ROWS, routes.listed)
            if self._routes_grew_t is None or listed > self._most_routes:
                self._most_routes = listed
                self._routes_grew_t = self.snapshot.t
            need = 1 + max(1, self._most_routes) + (1 if routes.has_class("-filtering") else 0)
            rows = chart_rows(base - need, panel_rows)
            settled = self.snapshot.t - self._routes_grew_t >= ROUTES_SETTLE_S
            if rows > sparks[0].rows and not settled:
                rows = sparks[0].rows  # charts grow once the routes held still a whole window
        for sp in sparks:
            sp.set_rows(rows)
