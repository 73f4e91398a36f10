"""The Canary panel's cohort line: the canary and the stable cohort side by side, as compact as
an 80-column panel allows (the comparison's verdicts are on the gate line below it)."""

from __future__ import annotations

from textual.content import Content

from sbtop import format
from sbtop.console.marks import esc
from sbtop.engine.cohorts import CohortFigures, Cohorts


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"


def _side(name: str, f: CohortFigures, tier: int) -> str:
    """Tier 0: every figure, named; 1: p95, 5xx and requests, named; 2: without "req";
    3: bare."""
    if not f.requests:
        # Before the first step (or at 100 %): dashes for every figure say less than this.
        return f"{name}: no requests in the window"
    five = format.number(f.error_rate_5xx_pct, "%")
    if tier == 0:
        return (f"{name} p95/p99 {_ms(f.p95_ms)}/{_ms(f.p99_ms)} ms 5xx {five} "
                f"{format.number(f.requests_per_s, '/s')} ({f.requests:,.0f} req)")
    if tier < 3:
        req = " req" if tier == 1 else ""
        return f"{name} p95 {_ms(f.p95_ms)} ms 5xx {five} ({f.requests:,.0f}{req})"
    return f"{name} {_ms(f.p95_ms)} ms {five} ({f.requests:,.0f})"


def cohort_line(c: Cohorts | None, width: int) -> str:
    """Empty without cohorts configured; the reason while there is no comparison; else each
    cohort's p95 (and p99), 5xx share (and rate) and requests, shortened to fit `width`."""
    if c is None:
        return ""
    if c.canary is None or c.stable is None:
        return _reason(c, width)
    text = ""
    for tier in range(4):
        text = f"{_side('canary', c.canary, tier)} | {_side('stable', c.stable, tier)}"
        if len(text) <= width:
            break
    return esc(text)


def _reason(c: Cohorts, width: int) -> str:
    """Why there are no cohorts yet, in the panel's width: without the label in the window,
    the short words of it (the gate line names the baseline as well, when it is shown);
    another reason too long for the line is cut at a word, with an ellipsis."""
    label = esc(c.label)
    if c.no_label:
        forms = [f"cohorts: no {label} label seen: the gate compares with the baseline",
                 f"cohorts: no {label} label seen: gate on the baseline",
                 f"cohorts: no {label} label seen"]
    else:
        forms = [f"cohorts: {esc(c.reason or 'none yet')}"]
    for text in forms:
        if len(Content.from_markup(text).plain) <= width:
            return f"[$text-muted]{text}[/]"
    plain = Content.from_markup(forms[-1]).plain
    cut = plain[:max(width - 1, 0)].rsplit(" ", 1)[0] if width > 1 else ""
    return f"[$text-muted]{esc(cut)}…[/]"
