"""One line of error-budget burn rates under the raw rates they come from: the fast pair (1h,
5m) then the slow pair (6h, 30m), a value over its pair's factor in the critical style (the
pair's alert, in the Alerts panel, says it in words). 33 columns: it fits the 36 a panel has
at 80x24. Empty without an SLO, so the line takes no room."""

from __future__ import annotations

from sbtop.console.marks import STALE_STYLE, STYLE
from sbtop.engine.assessment import Assessment
from sbtop.engine.figures import Figure
from sbtop.engine.levels import Level
from sbtop.engine.slo import BURN_FIGURES, ENGINE_PAIRS


def _value(f: Figure | None) -> str:
    if f is None or f.value is None:
        return "[$text-muted]-[/]"
    v = f.value
    text = f"{v:.0f}x" if v >= 10 else f"{v:.1f}x"
    if f.stale_s is not None:
        return f"[{STALE_STYLE}]{text}[/]"
    over = f.detail.page_at is not None and v > f.detail.page_at
    return f"[{STYLE[Level.CRITICAL]}]{text}[/]" if over else text


def burn_line(a: Assessment, slo: str, label: str = "burn") -> str:
    """'burn 1h 20x 5m 40x  6h - 30m 40x' for `slo`, or '' when it is not watched."""
    if (slo, "5m") not in BURN_FIGURES or BURN_FIGURES[(slo, "5m")] not in a.figures:
        return ""
    parts = [" ".join(f"{w} {_value(a.figures.get(BURN_FIGURES[(slo, w)]))}"
                      for w in (pair.long, pair.short)) for pair in ENGINE_PAIRS]
    return f"[$text-muted]{label}[/] " + "  ".join(parts)
