"""The canary baseline: the p95 and 5xx rate that a canary's later steps are judged against.

What capturing it takes from the figures, and the question put before capturing it again
(during a canary that is an override: the canary would be judged against itself). No I/O: the
Controller holds the lock, saves the state and writes the audit log."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sbtop.actions.state import CanaryState
from sbtop.engine.figures import Figure
from sbtop.engine.keys import Fig


def question(canary: CanaryState, figures: Mapping[str, Figure]) -> tuple[str, list[str], bool]:
    """What capturing the baseline again would do, to confirm: the question, the details
    (the old baseline and the new), and whether it is an override (during a canary, the
    canary's own figures would become what it is judged against)."""
    p95 = figures.get(Fig.LATENCY_P95_MS)
    new = ("p95 unknown right now" if p95 is None or p95.value is None
           else f"p95 {p95.value:.0f} ms now")
    old = canary.baseline.get(Fig.LATENCY_P95_MS) if canary.baseline else None
    details = ["the baseline now: " + (f"p95 {old:.0f} ms, captured "
                                         f"{wall_clock(canary.baseline_wall)}" if old is not None
                                         else "none"),
               f"the new one: {new}"]
    during = bool(canary.percent) and not canary.read_error
    if during:
        details.append(f"The canary is at {canary.percent} %: its own figures would become the "
                       "baseline, and the gate and the checklist would then pass the canary "
                       "against itself. Going on is an override, recorded as one.")
    return "Capture the canary baseline again?", details, during


def capture(canary: CanaryState, figures: Mapping[str, Figure], wall: float) -> bool:
    """Take the current p95 and 5xx rate as the baseline, captured at `wall`. False, and the
    state left as it was, when p95 is unknown or stale right now."""
    p95 = figures.get(Fig.LATENCY_P95_MS)
    e5 = figures.get(Fig.ERROR_RATE_5XX_PCT)
    if p95 is None or p95.value is None or p95.stale_s is not None:
        return False
    canary.baseline = {Fig.LATENCY_P95_MS: p95.value,
                       Fig.ERROR_RATE_5XX_PCT: e5.value if e5 else None}
    canary.baseline_wall = wall
    return True


def wall_clock(wall: Any) -> str:
    """A wall time the state file holds (when a baseline was captured, when an abort was
    sent), as the plans and questions show it; "earlier" when it holds none."""
    if not isinstance(wall, int | float):
        return "earlier"
    return time.strftime("%H:%M UTC", time.gmtime(wall))
