"""`enter` on a panel: its figures' history, full screen, one pane per unit, with labelled
thresholds and action markers; `enter` on a route: that route's own figures."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from sbtop.cadence import ROUTES_REDRAW_S
from sbtop.console import chart
from sbtop.engine.history import History
from sbtop.engine.keys import Fig
from sbtop.engine.levels import Threshold
from sbtop.engine.route_history import RouteTrack
from sbtop.engine.settings import FIGURE_UNITS

# Series colours: never the warning or error colours, which the threshold lines use.
PALETTE = ("primary", "accent", "secondary", "foreground")

# A figure in words, as its legend and threshold lines name it (the unit is added).
WORDS: dict[str, str] = {
    Fig.LATENCY_P50_MS: "p50 latency",
    Fig.LATENCY_P95_MS: "p95 latency",
    Fig.LATENCY_P99_MS: "p99 latency",
    Fig.REQUESTS_PER_S: "requests",
    Fig.ERROR_RATE_5XX_PCT: "5xx errors",
    Fig.ERROR_RATE_4XX_PCT: "4xx errors",
    Fig.SOCKET_CONNECTIONS: "socket connections",
    Fig.SOCKET_MESSAGES_PER_S: "socket messages",
    Fig.MEMORY_PCT: "memory",
    Fig.EVENT_LOOP_LAG_MS: "event loop lag",
    Fig.DB_CONNECTIONS_PCT: "database connections",
    Fig.DB_POOL_PCT: "database pool",
    Fig.DB_SESSIONS: "database sessions",
}
# A unit as a legend writes it, and the title of the pane holding it.
UNIT_WORDS: dict[str, tuple[str, str]] = {
    "ms": ("ms", "milliseconds"),
    "/s": ("per s", "per second"),
    "%": ("%", "percent"),
    "": ("count", "count"),
}


def legend(key: str) -> str:
    """'p95 latency (ms)', 'requests (per s)', 'memory (%)'."""
    unit = UNIT_WORDS.get(FIGURE_UNITS.get(key, ""), ("", ""))[0]
    return f"{WORDS.get(key, key)} ({unit})"


def threshold_label(key: str, level: str, value: float) -> str:
    """'p95 latency WARN 500 ms'."""
    unit = FIGURE_UNITS.get(key, "")
    shown = f"{value:g}"
    return f"{WORDS.get(key, key)} {level} {shown}{' ' + unit if unit else ''}"


class ChartScreen(Screen[None]):
    DEFAULT_CSS = """
    ChartScreen { background: $background; }
    ChartScreen #chart-title { height: 1; padding: 0 1; text-style: bold; }
    ChartScreen #chart { height: 1fr; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,enter,q", "app.pop_screen", "Back")]

    def __init__(self, title: str, keys: tuple[str, ...], history: History,
                 thresholds: dict[str, Threshold]) -> None:
        super().__init__()
        self.chart_title = title
        self.keys = keys
        self.history = history
        self.thresholds = thresholds

    def compose(self) -> ComposeResult:
        yield Static(Text(self.heading()), id="chart-title")  # a route's name is not markup
        yield Static(id="chart")
        yield Footer()

    def heading(self) -> str:
        return f"{self.chart_title}: {', '.join(WORDS.get(k, k) for k in self.keys)}"

    def on_mount(self) -> None:
        self.redraw()
        # The chart moves on with the data, at the pace the route table is redrawn: a chart
        # costs a whole screen of text, so not once a tick.
        self.set_interval(ROUTES_REDRAW_S, self.redraw)

    def on_resize(self) -> None:
        self.redraw()

    def colour(self, name: str) -> chart.Colour:
        return chart.plot_colour(self.app.theme_variables.get(name))

    def hlines(self, key: str) -> list[chart.HLine]:
        th = self.thresholds.get(key)
        out = []
        if th is not None:
            for level, value, colour in (("WARN", th.warning, "warning"),
                                         ("CRIT", th.critical, "error")):
                if value is not None:
                    unit = FIGURE_UNITS.get(key, "")
                    out.append(chart.HLine(value, self.colour(colour),
                                           threshold_label(key, level, value),
                                           f"{level} {value:g}{' ' + unit if unit else ''}"))
        return out

    def panes(self) -> list[chart.Pane]:
        """One pane per unit, in the order the figures come."""
        by_unit: dict[str, list[str]] = {}
        for key in self.keys:
            by_unit.setdefault(FIGURE_UNITS.get(key, ""), []).append(key)
        panes = []
        i = 0
        for unit, keys in by_unit.items():
            series, hlines = [], []
            for key in keys:
                walls, values = self.history.ring(key).points()
                series.append(chart.Series(legend(key), walls, values,
                                           self.colour(PALETTE[i % len(PALETTE)])))
                hlines.extend(self.hlines(key))
                i += 1
            title = UNIT_WORDS.get(unit, (unit, unit))[1]
            panes.append(chart.Pane(title, series, hlines))
        return panes

    def markers(self) -> list[tuple[float, str]]:
        return [(m.wall, m.label) for m in self.history.markers]

    def redraw(self) -> None:
        box = self.query_one("#chart", Static)
        width = box.size.width or self.size.width - 2
        height = box.size.height or self.size.height - 3
        text = chart.build(self.panes(), self.markers(), width, height,
                           self.colour("accent"))
        box.update(Text.from_ansi(text, no_wrap=True))
        self.query_one("#chart-title", Static).update(Text(self.heading()))


class RouteChartScreen(ChartScreen):
    """One route's p50, p95 and p99, its request rate and its 5xx share, as the session kept
    them (a sample each time the route table is redrawn), beside the service's thresholds
    (there are no thresholds of a route's own)."""

    # (series on the track, the figure it is the route's own of)
    LATENCY = (("p50_ms", Fig.LATENCY_P50_MS), ("p95_ms", Fig.LATENCY_P95_MS),
               ("p99_ms", Fig.LATENCY_P99_MS))

    def __init__(self, route: str, track: Callable[[], RouteTrack | None], history: History,
                 thresholds: dict[str, Threshold], every_s: float) -> None:
        """`track`: the route's track as the session keeps it now (asked again each redraw:
        the route may appear later)."""
        super().__init__(f"Route {route}", (), history, thresholds)
        self.route = route
        self._track = track
        self.track = track()
        self.every_s = every_s

    def heading(self) -> str:
        if self.track is None:
            return f"{self.chart_title}: no history kept for this route yet"
        return f"{self.chart_title}, a sample every {self.every_s:g} s"

    def _series(self, name: str, key: str, i: int) -> chart.Series:
        walls, values = self.track.points(name) if self.track is not None else ([], [])
        return chart.Series(legend(key), walls, values,
                            self.colour(PALETTE[i % len(PALETTE)]))

    def panes(self) -> list[chart.Pane]:
        self.track = self._track()
        latency = [self._series(name, key, i) for i, (name, key) in enumerate(self.LATENCY)]
        return [
            chart.Pane("milliseconds", latency, self.hlines(Fig.LATENCY_P95_MS), weight=2),
            chart.Pane("per second", [self._series("requests_per_s", Fig.REQUESTS_PER_S, 0)]),
            chart.Pane("percent of the route's requests",
                       [self._series("error_5xx_pct", Fig.ERROR_RATE_5XX_PCT, 1)],
                       self.hlines(Fig.ERROR_RATE_5XX_PCT)),
        ]
