"""The building blocks: a line that repaints only on change, and a focusable bordered panel.

Over SSH every repaint is bytes: a panel is split into lines so a tick repaints only the lines
whose text changed, and nothing at all when the numbers hold still.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Static

from sbtop.console import marks, quick_markup
from sbtop.console.messages import ChartRequested
from sbtop.console.sparkline import chart, sparkline
from sbtop.engine.assessment import Assessment
from sbtop.engine.figures import Figure
from sbtop.engine.history import History
from sbtop.engine.levels import Level, Threshold, worst
from sbtop.session.snapshot import Snapshot

# A history chart of at least this many rows replaces the sparkline, in bars of this many
# seconds: three times a sparkline's, so a chart three rows high sends what a sparkline does.
CHART_MIN_ROWS = 3
CHART_MAX_ROWS = 16
CHART_STEP_S = 15.0


class Line(Static):
    DEFAULT_CSS = """
    Line { height: 1; width: 1fr; text-wrap: nowrap; text-overflow: clip; }
    """

    def __init__(self, markup: str = "", *, id: str | None = None,
                 collapse_empty: bool = False, fixed: bool = True) -> None:
        super().__init__(quick_markup.content(markup), id=id, markup=False)
        self._markup = markup
        # A line of fixed size repaints without a layout pass (cheaper on every tick).
        self._fixed = fixed
        # An empty line takes no room (the alerts panel shrinks when all is quiet).
        self.collapse_empty = collapse_empty
        if collapse_empty and not markup:
            self.display = False

    def set(self, markup: str) -> None:
        if markup != self._markup:
            self._markup = markup
            self.update(quick_markup.content(markup), layout=not self._fixed)
            if self.collapse_empty:
                self.display = bool(markup)

    @property
    def text(self) -> str:
        return self._markup


class Rows(Widget):
    """Lines of text in one widget, as many rows high as it has lines: a table's rows without
    a widget per row. A widget costs memory (the routes' 60 one-line widgets held about 2 MB)
    and the compositor visits every visible one on each frame that repaints near it. Repaints
    only the rows whose text changed; an empty line takes no room, as a collapsing Line."""

    DEFAULT_CSS = """
    Rows { height: 1; width: 1fr; text-wrap: nowrap; text-overflow: clip; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rows: list[str] = []
        self._parsed: list[Content] = []
        self._content = Content("")
        self.display = False

    def render(self) -> Content:
        return self._content

    @property
    def rows(self) -> list[str]:
        """The markup shown, a line each."""
        return list(self._rows)

    def set(self, rows: list[str]) -> None:
        rows = [r for r in rows if r]
        old = self._rows
        if rows == old:
            return
        # Each line is markup of its own (as a Line's): parsed alone, only when it changed.
        kept = self._parsed
        self._parsed = [kept[i] if i < len(old) and old[i] == r else quick_markup.content(r)
                        for i, r in enumerate(rows)]
        self._rows = rows
        self._content = Content("\n").join(self._parsed)
        width = self.size.width
        if len(rows) != len(old) or not width:
            if len(rows) != len(old):
                self.styles.height = max(1, len(rows))
                self.display = bool(rows)
            self.refresh()
            return
        self.refresh(*(Region(0, y, width, 1)
                       for y, (was, now) in enumerate(zip(old, rows, strict=True)) if was != now))


class Sparkline(Widget):
    """A line holding a sparkline of one figure, in bars of `step` seconds: it changes once a
    bar, not once a tick, which keeps it cheap to send. Given rows to spare (the layout's
    `rows`), it becomes a history chart that many rows high, in bars of `CHART_STEP_S`. One
    widget whatever its height, repainting only the rows whose text changed: the rows above
    the bars, the threshold lines and rows of full bars mostly stay as they were."""

    DEFAULT_CSS = """
    Sparkline { height: 1; width: 1fr; text-wrap: nowrap; text-overflow: clip; }
    """

    def __init__(self, key: str, label: str, *, step: float = 5.0, agg: str = "max",
                 unit: str = "", id: str | None = None) -> None:
        super().__init__(id=id)
        self.key = key
        self.label = label
        self.unit = unit
        self.step = step
        self.agg = max if agg == "max" else _mean
        self.rows = 1
        self._shown: list[str] = [""]
        self._content = Content("")
        self._drawn: tuple[float, int, int] | None = None
        self._source: tuple[History, Threshold | None] | None = None

    def render(self) -> Content:
        return self._content

    @property
    def text(self) -> str:
        """The markup shown, a line per row."""
        return "\n".join(self._shown)

    def set_rows(self, rows: int) -> None:
        """The rows the layout gives this chart (1: a sparkline)."""
        rows = max(1, min(CHART_MAX_ROWS, rows))
        if rows != self.rows:
            self.rows = rows
            self.styles.height = rows
            self.redraw()

    def on_resize(self) -> None:
        self.redraw()  # as wide as the panel now, not at the next bar

    def redraw(self) -> None:
        if self._source is not None:
            self.draw(*self._source)

    def draw(self, history: History, threshold: Threshold | None) -> None:
        self._source = (history, threshold)
        ring = history.ring(self.key)
        last = ring.latest_wall()
        tall = self.rows >= CHART_MIN_ROWS
        step = CHART_STEP_S if tall else self.step
        full = self.size.width or 30
        width = full if tall else max(4, full - len(self.label) - len(f"{step:g}") - 3)
        drawn = (0.0 if last is None else float(int(last // step)), width, self.rows)
        if drawn == self._drawn:
            return
        self._drawn = drawn
        values = ring.buckets(step, width, self.agg)
        if tall:
            self._show_rows(chart(values, width, self.rows, threshold,
                                  f"{self.label}·{step:g}s", self.unit))
        else:
            self._show_rows([sparkline(values, width, threshold)
                             + f" [$text-muted]{self.label}·{step:g}s[/]"])

    def _show_rows(self, rows: list[str]) -> None:
        old, self._shown = self._shown, rows
        if rows == old:
            return
        self._content = Content.from_markup("\n".join(rows))
        width = self.size.width
        if len(rows) != len(old) or not width:
            self.refresh()
            return
        self.refresh(*(Region(0, y, width, 1)
                       for y, (was, now) in enumerate(zip(old, rows, strict=True)) if was != now))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


class Panel(Vertical, can_focus=True):
    """A bordered panel whose border colour and subtitle follow the worst level it shows."""

    DEFAULT_CSS = """
    Panel {
        height: auto;
        border: round $border-blurred;
        border-title-color: $foreground;
        border-subtitle-color: $text-muted;
        padding: 0 1;
    }
    /* The level shows in the border's shape too, for screens without colour: OK round,
       warning square, critical heavy, stale or down dashed. */
    Panel.-warning { border: solid $warning; }
    Panel.-critical { border: heavy $error; }
    Panel.-stale, Panel.-down { border: dashed $warning; }
    /* Focus is a double line and a reversed title whatever the level: without colour it
       still differs from every unfocused border (round, square, heavy, dashed). */
    Panel:focus { border: double $border; border-title-style: reverse; }
    Panel.-warning:focus, Panel.-stale:focus, Panel.-down:focus { border: double $warning; }
    Panel.-critical:focus { border: double $error; }
    """
    BINDINGS = [Binding("enter", "chart", "Chart")]

    title: str = ""
    # The figures drawn in the panel's full-screen chart (enter).
    chart_figures: tuple[str, ...] = ()
    # A breached figure's "what to do now" as the border's subtitle (the app sets it).
    advise: Callable[[Figure], str | None] | None = None

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = self.title
        self._state = ""

    def compose(self) -> ComposeResult:
        yield from ()

    def show(self, s: Snapshot) -> None:
        """Draw the snapshot (from its first assessment on)."""
        if s.assessment is not None:
            self.draw(s.assessment, s)

    def draw(self, a: Assessment, s: Snapshot) -> None:
        """Draw the assessment (the snapshot has the history and the canary); subclasses
        fill their lines."""

    def judge(self, a: Assessment, keys: tuple[str, ...], subtitle: str | None = None) -> None:
        """Colour the border by the worst judged figure among `keys`."""
        judged = [f for k in keys if (f := a.figures.get(k)) is not None and f.judged]
        levels = [f.level for f in judged]
        # What to do now, in the border beside the breach: the worst breach's advice; else
        # what the panel's own subtitle says (a trend, a restart's effects).
        now = None
        if self.advise is not None:
            for f in sorted(judged, key=lambda f: -f.level.severity):
                if (now := self.advise(f)) is not None:
                    break
        self.set_state(marks.CLASS[worst(levels)] if levels else "-ok", now or subtitle)

    def set_state(self, css_class: str, subtitle: str | None) -> None:
        state = f"{css_class}|{subtitle}"
        if state == self._state:
            return
        self._state = state
        for c in ("-ok", "-warning", "-critical", "-unknown", "-stale", "-down"):
            self.set_class(c == css_class, c)
        # Plain Content: a subtitle may quote an error, whose brackets are not markup.
        self.border_subtitle = Content(subtitle or "")

    def action_chart(self) -> None:
        if self.chart_figures:
            self.post_message(ChartRequested(self.chart_figures, self.title))
        else:
            self.app.notify(f"{self.title}: no history chart for this panel")


def level_of(a: Assessment, key: str) -> Level:
    f = a.figures.get(key)
    return f.level if f is not None else Level.UNKNOWN
