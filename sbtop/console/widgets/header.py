"""The header line: target (PRODUCTION unmistakable), overall level, the action running,
refresh, PAUSED, data age.

Each part is its own widget, so the one that changes (say, the age of stale data) repaints
alone. There is no clock: a clock would repaint every second for nothing.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.css.scalar import Scalar

from sbtop import format
from sbtop.console import marks
from sbtop.console.marks import esc
from sbtop.console.widgets.panel import Line
from sbtop.engine.levels import Level


class HeaderBar(Horizontal):
    """Most important first, so a narrow terminal cuts the least important: the URL goes
    first (it shrinks to an ellipsis), the level and staleness never."""

    DEFAULT_CSS = """
    HeaderBar { height: 1; background: $panel; }
    HeaderBar Line { width: auto; padding: 0 1 0 0; }
    HeaderBar #hd-url { width: 1fr; text-overflow: ellipsis; padding: 0 1; }
    /* A provider's incident title can be long: cut, so the level and age keep their room. */
    HeaderBar #hd-them { max-width: 40%; text-overflow: ellipsis; }
    """

    def __init__(self, target: str, production: bool, base_url: str,
                 read_only: bool = False) -> None:
        super().__init__(id="header")
        self._read_only = read_only
        self._target = target
        self._production = production
        self._base_url = base_url

    def compose(self) -> ComposeResult:
        prod = "[b reverse $error] PRODUCTION [/] " if self._production else ""
        # Parts sized to their text need a layout pass when they change (rarely).
        yield Line(f" [b]sbtop[/] {prod}[b]{esc(self._target)}[/]", id="hd-target", fixed=False)
        yield Line(f"{marks.level(Level.UNKNOWN)}", id="hd-level", fixed=False)
        yield Line(id="hd-canary", fixed=False, collapse_empty=True)
        yield Line(id="hd-action", fixed=False, collapse_empty=True)
        yield Line(id="hd-instances", fixed=False, collapse_empty=True)
        yield Line(id="hd-them", fixed=False, collapse_empty=True)
        yield Line(id="hd-replay", fixed=False, collapse_empty=True)
        yield Line(id="hd-age", fixed=False, collapse_empty=True)
        yield Line(id="hd-paused", fixed=False, collapse_empty=True)
        if self._read_only:
            yield Line("[b $accent]READ-ONLY[/]", id="hd-readonly", fixed=False)
        # The deploy window's line: after the level, staleness and PAUSED, so a narrow screen
        # cuts it, not them. Sized by set_plan: its countdown changes each second, a layout
        # pass only when the line's length does.
        yield Line(id="hd-plan", collapse_empty=True)
        yield Line(id="hd-refresh", fixed=False)
        yield Line(f"[$text-muted]{esc(self._base_url)}[/]", id="hd-url")

    def set_level(self, level: Level) -> None:
        self.query_one("#hd-level", Line).set(marks.level(level))

    def set_canary(self, percent: int | None) -> None:
        self.query_one("#hd-canary", Line).set(
            "" if percent is None else f"[$text-muted]canary[/] [b]{percent}%[/]")

    def set_plan(self, markup: str) -> None:
        """The deploy window in one line (sbtop.console.plan_text.header_line)."""
        line = self.query_one("#hd-plan", Line)
        width = Content.from_markup(markup).cell_length + 1  # its padding
        if markup and line.styles.width != Scalar.parse(str(width)):
            line.styles.width = width
        line.set(markup)

    def set_action(self, request: str | None, seconds: float = 0.0) -> None:
        """While an action runs: which, and for how long (nothing when none runs)."""
        self.query_one("#hd-action", Line).set(
            "" if request is None else
            f"[b reverse $warning] ACTION: {esc(request)} running "
            f"{format.duration(seconds)} [/]")

    def set_instances(self, up: int, total: int) -> None:
        """'instances 3/3'; fewer up is a warning. Nothing for a single instance."""
        if not total:
            text = ""
        elif up < total:
            text = f"[b $warning]instances {up}/{total} up[/]"
        else:
            text = f"[$text-muted]instances[/] {up}/{total}"
        self.query_one("#hd-instances", Line).set(text)

    def set_replay(self, text: str) -> None:
        """In a replay: where in the recording, playing or paused, the speed."""
        self.query_one("#hd-replay", Line).set(text)

    def set_refresh(self, seconds: float) -> None:
        self.query_one("#hd-refresh", Line).set(f"[$text-muted]every[/] {seconds:g}s")

    def set_paused(self, paused: bool) -> None:
        self.query_one("#hd-paused", Line).set("[b reverse $warning] PAUSED [/]" if paused
                                               else "")

    def set_them(self, markup: str) -> None:
        """The providers' status pages (sbtop.console.them); nothing when none is watched."""
        self.query_one("#hd-them", Line).set(markup)

    def set_age(self, text: str) -> None:
        self.query_one("#hd-age", Line).set(text)
