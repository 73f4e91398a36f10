"""The header's "is it us or them" part: the providers' status pages in a few words."""

from __future__ import annotations

from sbtop.console.marks import esc
from sbtop.engine.status_pages import PageState, PageStatus, summary, view

_STYLE = {PageState.OUTAGE: "b $text-error", PageState.DEGRADED: "b $text-warning",
          PageState.MAINTENANCE: "$text-accent"}


def them_markup(pages: tuple[PageStatus, ...], now_wall: float) -> str:
    """'' with no page watched; a quiet 'them: ok' (or unknown: a jump box without a way out
    is not an alarm); a provider's trouble in the warning or error colour, with its title."""
    if not pages:
        return ""
    views = [view(p, now_wall) for p in pages]
    worst = max(views, key=lambda v: v.state.rank)
    text = esc(summary(views))
    style = _STYLE.get(worst.state)
    if style is None:
        return f"[$text-muted]them: {text}[/]"
    return f"[{style}]them: {text}[/]"
