"""`enter` on a panel: its figures' history, full screen, with thresholds and action markers."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from sbtop.console import chart
from sbtop.engine.history import History
from sbtop.engine.levels import Threshold
from sbtop.engine.settings import FIGURE_UNITS

# Series colours: never the warning or error colours, which the threshold lines use.
PALETTE = ("primary", "accent", "secondary", "foreground")


class ChartScreen(Screen[None]):
    DEFAULT_CSS = """
    ChartScreen { background: $background; }
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
        yield Static(id="chart")
        yield Footer()

    def on_mount(self) -> None:
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        box = self.query_one("#chart", Static)
        width = box.size.width or self.size.width - 2
        height = box.size.height or self.size.height - 2
        colours = self.app.theme_variables
        series = []
        for i, key in enumerate(self.keys):
            walls, values = self.history.ring(key).points()
            colour = chart.plot_colour(colours.get(PALETTE[i % len(PALETTE)]))
            series.append(chart.Series(key, walls, values, colour))
        hlines = []
        for key in self.keys:
            th = self.thresholds.get(key)
            if th is None:
                continue
            if th.warning is not None:
                hlines.append(chart.HLine(th.warning, chart.plot_colour(colours.get("warning"))))
            if th.critical is not None:
                hlines.append(chart.HLine(th.critical, chart.plot_colour(colours.get("error"))))
        units = {FIGURE_UNITS.get(k, "") for k in self.keys}
        unit = units.pop() if len(units) == 1 else ""
        markers = [(m.wall, m.label) for m in self.history.markers]
        text = chart.build(series, hlines, markers, width, height,
                           f"{self.chart_title}: {', '.join(self.keys)}", unit,
                           chart.plot_colour(colours.get("accent")))
        box.update(Text.from_ansi(text, no_wrap=True))
