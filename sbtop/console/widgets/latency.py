"""Latency: p50 / p95 / p99, a p95 sparkline, the thresholds in sight."""

from __future__ import annotations

from textual.app import ComposeResult

from sbtop.console import marks
from sbtop.console.burn_line import burn_line
from sbtop.console.marks import esc
from sbtop.console.widgets.panel import Line, Panel, Sparkline
from sbtop.engine.assessment import Assessment
from sbtop.engine.figures import Figure
from sbtop.engine.keys import Fig
from sbtop.engine.slo import LATENCY
from sbtop.session.snapshot import Snapshot


class LatencyPanel(Panel):
    title = "Latency"
    chart_figures = (Fig.LATENCY_P50_MS, Fig.LATENCY_P95_MS, Fig.LATENCY_P99_MS)

    def compose(self) -> ComposeResult:
        yield Line("[$text-muted]waiting for the first scrape…[/]", id="lat-values")
        yield Sparkline(Fig.LATENCY_P95_MS, "p95", unit=" ms", id="lat-spark")
        yield Line(id="lat-thresholds")
        yield Line(id="lat-burn", collapse_empty=True)  # with a latency SLO only

    def draw(self, a: Assessment, s: Snapshot) -> None:
        f = a.figures
        p95 = f.get(Fig.LATENCY_P95_MS)
        # p50 and p99 go without their unit: 36 columns must hold all three at 80x24.
        self.query_one("#lat-values", Line).set(
            f"{marks.figure(p95, label='p95')}  "
            f"[$text-muted]p50[/] {_bare(f.get(Fig.LATENCY_P50_MS))}  "
            f"[$text-muted]p99[/] {_bare(f.get(Fig.LATENCY_P99_MS))}")
        self.query_one(Sparkline).draw(s.history, p95.threshold if p95 else None)
        reason = p95.reason if p95 is not None and p95.value is None else None
        self.query_one("#lat-thresholds", Line).set(
            f"[$text-muted]{esc(reason)}[/]" if reason else marks.threshold_note(p95))
        # The values' line is always shown (the burn line is hidden until an SLO has one):
        # the width is read from it.
        width = self.query_one("#lat-values", Line).size.width or 36
        self.query_one("#lat-burn", Line).set(burn_line(a, LATENCY, width=width))
        self.judge(a, (Fig.LATENCY_P95_MS,))


def _bare(f: Figure | None) -> str:
    return "-" if f is None or f.value is None else f"{f.value:.0f}"
