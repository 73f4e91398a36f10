"""A one-line sparkline as plain characters and few style runs: cheap to send over SSH.

Textual's Sparkline gives every bar its own colour (a gradient), which costs an escape sequence
per cell on every tick. This one styles only the bars beyond a threshold.
"""

from __future__ import annotations

import math

from sbtop.engine.levels import Threshold

BARS = "▁▂▃▄▅▆▇█"
GAP = " "  # a tick without a value: drawn as nothing, never as a low bar


def sparkline(values: list[float], width: int, threshold: Threshold | None = None) -> str:
    """Markup for the last `width` values; the scale tops out at the larger of the highest
    value (with headroom) and the warning bound, so a full bar means the threshold is near."""
    if width <= 0:
        return ""
    shown = values[-width:]
    finite = [v for v in shown if not math.isnan(v)]
    # Headroom above the highest value, so a steady figure reads as steady, not as a wall.
    top = max(finite, default=0.0) * 1.25
    if threshold is not None and threshold.above and threshold.warning is not None:
        top = max(top, threshold.warning)
    out: list[str] = []
    style = ""
    for v in shown:
        if math.isnan(v):
            ch, want = GAP, ""
        else:
            i = 0 if top <= 0 else min(len(BARS) - 1, int(v / top * (len(BARS) - 1) + 0.5))
            ch = BARS[max(0, i)]
            want = _style(v, threshold)
        if want != style:
            if style:
                out.append("[/]")
            if want:
                out.append(f"[{want}]")
            style = want
        out.append(ch)
    if style:
        out.append("[/]")
    pad = width - len(shown)
    return GAP * pad + "".join(out)


def _style(v: float, threshold: Threshold | None) -> str:
    if threshold is None:
        return ""
    level = threshold.judge(v)
    if level.name == "CRITICAL":
        return "$error"
    if level.name == "WARNING":
        return "$warning"
    return ""
