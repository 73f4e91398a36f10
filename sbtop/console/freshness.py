"""The header's word for old data: the session judges how old, this says it on screen."""

from __future__ import annotations

from sbtop import format
from sbtop.session.snapshot import Fresh, Freshness

# The panels that show metrics: marked when the metrics are old or their source is down.
METRIC_PANELS = ("latency", "traffic", "sockets", "routes")


def age_markup(f: Freshness) -> str:
    """'' while fresh; DOWN (and since when) or STALE (its age, and how long the tick in
    flight has waited) otherwise."""
    if f.state is Fresh.DOWN:
        since = f" {format.duration(f.age_s)}" if f.age_s is not None else ""
        return f"[b reverse $warning] DOWN{since} [/]"
    if f.state is Fresh.STALE and f.age_s is not None:
        text = f"[b reverse $warning] STALE {format.duration(f.age_s)} [/]"
        if f.waiting_s > 1:
            text += f" [$text-muted]waiting {format.duration(f.waiting_s)}[/]"
        return text
    return ""


def panel_state(f: Freshness) -> tuple[str, str]:
    """The CSS class and subtitle of a metrics panel while the data is old."""
    if f.state is Fresh.DOWN:
        return "-down", ("DOWN: " + (f.reason or "?"))[:60]
    return "-stale", "STALE"
