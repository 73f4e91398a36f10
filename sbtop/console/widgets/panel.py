"""The building blocks: a line that repaints only on change, and a focusable bordered panel.

Over SSH every repaint is bytes: a panel is split into lines so a tick repaints only the lines
whose text changed, and nothing at all when the numbers hold still.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from sbtop.console import marks
from sbtop.console.messages import ChartRequested
from sbtop.console.sparkline import sparkline
from sbtop.engine.assessment import Assessment
from sbtop.engine.history import History
from sbtop.engine.levels import Level, Threshold, worst
from sbtop.session.snapshot import Snapshot


class Line(Static):
    DEFAULT_CSS = """
    Line { height: 1; width: 1fr; text-wrap: nowrap; text-overflow: clip; }
    """

    def __init__(self, markup: str = "", *, id: str | None = None,
                 collapse_empty: bool = False, fixed: bool = True) -> None:
        super().__init__(Content.from_markup(markup), id=id, markup=False)
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
            self.update(Content.from_markup(markup), layout=not self._fixed)
            if self.collapse_empty:
                self.display = bool(markup)

    @property
    def text(self) -> str:
        return self._markup


class Sparkline(Line):
    """A Line holding a sparkline of one figure, in bars of `step` seconds: it changes once a
    bar, not once a tick, which keeps it cheap to send."""

    def __init__(self, key: str, label: str, *, step: float = 5.0, agg: str = "max",
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.key = key
        self.label = label
        self.step = step
        self.agg = max if agg == "max" else _mean
        self._drawn: tuple[float, int] | None = None

    def draw(self, history: History, threshold: Threshold | None) -> None:
        ring = history.ring(self.key)
        last = ring.latest_wall()
        suffix = f" [$text-muted]{self.label}·{self.step:g}s[/]"
        width = max(4, (self.size.width or 30) - len(self.label) - len(f"{self.step:g}") - 3)
        drawn = (0.0 if last is None else float(int(last // self.step)), width)
        if drawn == self._drawn:
            return
        self._drawn = drawn
        values = ring.buckets(self.step, width, self.agg)
        self.set(sparkline(values, width, threshold) + suffix)


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
    Panel:focus { border: round $border; }
    Panel.-warning { border: round $warning; }
    Panel.-critical { border: heavy $error; }
    Panel.-stale, Panel.-down { border: dashed $warning; }
    Panel.-warning:focus, Panel.-critical:focus { border-title-style: reverse; }
    """
    BINDINGS = [Binding("enter", "chart", "Chart")]

    title: str = ""
    # The figures drawn in the panel's full-screen chart (enter).
    chart_figures: tuple[str, ...] = ()

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

    def judge(self, a: Assessment, keys: tuple[str, ...]) -> None:
        """Colour the border by the worst judged figure among `keys`."""
        levels = [f.level for k in keys if (f := a.figures.get(k)) is not None and f.judged]
        self.set_state(marks.CLASS[worst(levels)] if levels else "-ok", None)

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
