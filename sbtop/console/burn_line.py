"""One line of error-budget burn rates under the raw rates they come from: the fast pair (1h,
5m) then the slow pair (6h, 30m), a value over its pair's factor in the critical style (the
pair's alert, in the Alerts panel, says it in words). It keeps within the panel's width (36
columns at 80x24) for any value: a value takes 5 columns at most ('9.9x', '140x', '>999x'), and
where the whole line does not fit, the label and then the gap between the pairs go first.
Empty without an SLO, so the line takes no room."""

from __future__ import annotations

import math

from textual.content import Content

from sbtop.console.marks import STALE_STYLE, STYLE
from sbtop.engine.assessment import Assessment
from sbtop.engine.figures import Figure
from sbtop.engine.levels import Level
from sbtop.engine.slo import BURN_FIGURES, ENGINE_PAIRS


def rate(v: float) -> str:
    """'0.4x', '9.9x', '14x', '999x', '>999x': at most five columns, whatever the burn (a
    budget spent 5,000 times too fast is as urgent as 1,000, and must not push the slow pair
    off the line)."""
    if not math.isfinite(v) or v >= 999.5:
        return ">999x"
    return f"{v:.0f}x" if v >= 9.95 else f"{v:.1f}x"


def _value(f: Figure | None) -> str:
    if f is None or f.value is None:
        return "[$text-muted]-[/]"
    v = f.value
    text = rate(v)
    if f.stale_s is not None:
        return f"[{STALE_STYLE}]{text}[/]"
    over = f.detail.page_at is not None and v > f.detail.page_at
    return f"[{STYLE[Level.CRITICAL]}]{text}[/]" if over else text


def burn_line(a: Assessment, slo: str, label: str = "burn", width: int = 36) -> str:
    """'burn 1h 20x 5m 40x  6h - 30m 40x' for `slo`, or '' when it is not watched; within
    `width` columns: '1h 2.5x 5m 2.5x  6h 2.5x 30m 2.5x' (no label) when the label does not
    fit, '1h >999x 5m >999x 6h >999x 30m >999x' (36) at the widest."""
    if (slo, "5m") not in BURN_FIGURES or BURN_FIGURES[(slo, "5m")] not in a.figures:
        return ""
    parts = [" ".join(f"{w} {_value(a.figures.get(BURN_FIGURES[(slo, w)]))}"
                      for w in (pair.long, pair.short)) for pair in ENGINE_PAIRS]
    forms = [f"[$text-muted]{label}[/] " + "  ".join(parts),
             f"[$text-muted]{label}[/] " + " ".join(parts),
             "  ".join(parts), " ".join(parts)]
    return next((line for line in forms if len(Content.from_markup(line).plain) <= width),
                forms[-1])
