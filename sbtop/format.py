"""How figures read as text, shared by `check` and the console."""

from __future__ import annotations

from sbtop.engine.figures import Figure
from sbtop.engine.keys import Fig
from sbtop.engine.labels import LABELS
from sbtop.engine.observations import ExternalAlert
from sbtop.engine.words import duration, number

# `number` and `duration` are the engine's (it writes them into its own sentences, and may not
# import this module): one implementation, so a panel and a gate criterion say a figure alike.
__all__ = ["LABELS", "duration", "external_origin", "figure_value", "number", "size"]

# Short names for figures (the engine's one table: the gate and the plan say them too).


def figure_value(f: Figure) -> str:
    if f.key == Fig.HEALTH:
        return "-" if f.value is None else f"HTTP {f.value:.0f}"
    return number(f.value, f.unit)


def size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if abs(n) < 10 and unit != "B" else f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.0f} GB"


def external_origin(x: ExternalAlert) -> str:
    """Where a Prometheus alert comes from, and whether it counts in the level."""
    if x.counted:
        return "Prometheus"
    if x.scope == "unchosen":
        return "Prometheus, no target chosen: shown, not counted"
    return "Prometheus, without the target's labels: shown, not counted"
