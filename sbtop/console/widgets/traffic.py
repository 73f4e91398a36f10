"""Traffic and errors: requests/s, 5xx and 4xx ratios, a requests/s sparkline, health."""

from __future__ import annotations

from textual.app import ComposeResult

from sbtop.console import marks
from sbtop.console.burn_line import burn_line
from sbtop.console.widgets.panel import Line, Panel, Sparkline
from sbtop.engine.assessment import Assessment
from sbtop.engine.keys import Fig
from sbtop.engine.slo import AVAILABILITY
from sbtop.session.snapshot import Snapshot


class TrafficPanel(Panel):
    title = "Traffic & errors"
    chart_figures = (Fig.REQUESTS_PER_S, Fig.ERROR_RATE_5XX_PCT, Fig.ERROR_RATE_4XX_PCT)

    def compose(self) -> ComposeResult:
        yield Line("[$text-muted]waiting for the first scrape…[/]", id="tr-values")
        yield Line(id="tr-errors")
        yield Line(id="tr-burn", collapse_empty=True)  # with an availability SLO only
        yield Sparkline(Fig.REQUESTS_PER_S, "req/s", agg="mean", id="tr-spark")

    def draw(self, a: Assessment, s: Snapshot) -> None:
        f = a.figures
        e5 = f.get(Fig.ERROR_RATE_5XX_PCT)
        self.query_one("#tr-values", Line).set(
            f"{marks.figure(f.get(Fig.REQUESTS_PER_S), mark=False)} req  "
            f"{marks.figure(e5, label='5xx')}")
        health = f.get(Fig.HEALTH)
        parts = [marks.figure(f.get(Fig.ERROR_RATE_4XX_PCT), label="4xx", mark=False)]
        if health is not None:
            parts.append(marks.figure(health, label="health"))
        self.query_one("#tr-errors", Line).set("  ".join(parts))
        # The values' line is always shown (the burn line is hidden until an SLO has one):
        # the width is read from it.
        width = self.query_one("#tr-values", Line).size.width or 36
        self.query_one("#tr-burn", Line).set(burn_line(a, AVAILABILITY, width=width))
        self.query_one(Sparkline).draw(s.history, None)
        self.judge(a, (Fig.ERROR_RATE_5XX_PCT, Fig.HEALTH))
