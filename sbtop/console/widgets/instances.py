"""Instances: each one's up/down and its own p95, when the target runs several (listed metrics
URLs, or Prometheus). Down ones first, then the slowest: one bad instance among healthy ones
hides in the sum, and this is where it shows.

Only shown when there are instances and the terminal has the rows (at 80x24 the routes need
them more; the header still counts the instances up, and the alerts panel names one down).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.content import Content

from sbtop import format
from sbtop.console import marks
from sbtop.console.marks import esc
from sbtop.console.widgets.panel import Panel, Rows
from sbtop.engine.assessment import Assessment
from sbtop.engine.keys import Fig
from sbtop.engine.levels import Level
from sbtop.engine.observations import InstanceStatus
from sbtop.session.snapshot import Snapshot

ROWS = 2
GAP = 3  # columns between two instances on a row
NAME_MAX = 24
MIN_SCREEN_ROWS = 30


class InstancesPanel(Panel):
    title = "Instances"
    DEFAULT_CSS = """
    InstancesPanel { display: none; }
    """

    def compose(self) -> ComposeResult:
        yield Rows(id="in-rows")

    def draw(self, a: Assessment, s: Snapshot) -> None:
        wanted = bool(a.instances) and self.app.size.height >= MIN_SCREEN_ROWS
        if self.display != wanted:
            self.display = wanted
        if not wanted:
            return
        ordered = sorted(a.instances, key=lambda i: (i.up, -(i.p95_ms or -1.0), i.name))
        name_w = min(NAME_MAX, max(len(i.name) for i in ordered))
        cells = [self._cell(i, a, name_w) for i in ordered]
        cell_w = max(len(Content.from_markup(c).plain) for c in cells) + GAP
        width = self.content_size.width or (self.app.size.width - 4)
        per_row = max(1, (width + GAP) // cell_w)
        room = per_row * ROWS
        if len(cells) > room:
            cells = [*cells[: room - 1], f"[$text-muted]+{len(cells) - room + 1} more "
                                         "(sbtop check lists all)[/]"]
        self.query_one("#in-rows", Rows).set(
            ["".join(_pad(c, cell_w) for c in cells[r * per_row:(r + 1) * per_row]).rstrip()
             for r in range(ROWS)])
        down = [i for i in a.instances if not i.up]
        up = len(a.instances) - len(down)
        self.set_state("-warning" if down else "-ok", f"{up}/{len(a.instances)} up")

    @staticmethod
    def _cell(i: InstanceStatus, a: Assessment, name_w: int) -> str:
        name = esc(_short(i.name, name_w).ljust(name_w))
        if not i.up:
            why = esc(_short(i.error or "", 16))
            return f"{name} [b $warning]DOWN[/] [$text-muted]{why}[/]"
        if i.p95_ms is None:
            return f"{name} up   [$text-muted]p95 -[/]"
        p95 = a.figures.get(Fig.LATENCY_P95_MS)
        threshold = p95.threshold if p95 is not None else None
        lv = threshold.judge(i.p95_ms) if threshold is not None else Level.OK
        return f"{name} up   p95 {format.number(i.p95_ms, 'ms')} {marks.level(lv)}"


def _short(text: str, n: int) -> str:
    """Cut in the middle: two instances differ at the end (the port) as often as not."""
    if len(text) <= n:
        return text
    head = (n - 1) // 2
    return text[:head] + "…" + text[len(text) - (n - 1 - head):]


def _pad(cell: str, width: int) -> str:
    """A cell padded to `width` visible columns (markup does not count)."""
    return cell + " " * max(GAP, width - len(Content.from_markup(cell).plain))
