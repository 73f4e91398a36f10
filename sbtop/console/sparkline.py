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
    cells: list[tuple[str, str]] = []
    for v in shown:
        if math.isnan(v):
            cells.append((GAP, ""))
        else:
            i = 0 if top <= 0 else min(len(BARS) - 1, int(v / top * (len(BARS) - 1) + 0.5))
            cells.append((BARS[max(0, i)], _style(v, threshold)))
    pad = width - len(shown)
    return GAP * pad + _styled(cells)


def _styled(cells: list[tuple[str, str]]) -> str:
    """Characters with their styles as markup, one tag per run of the same style (a tag per
    character would make every frame longer to send)."""
    out: list[str] = []
    style = ""
    for ch, want in cells:
        if want != style:
            if style:
                out.append("[/]")
            if want:
                out.append(f"[{want}]")
            style = want
        out.append(ch)
    if style:
        out.append("[/]")
    return "".join(out)


def _style(v: float, threshold: Threshold | None) -> str:
    if threshold is None:
        return ""
    level = threshold.judge(v)
    if level.name == "CRITICAL":
        return "$error"
    if level.name == "WARNING":
        return "$warning"
    return ""


# A tall chart's cells, by eighths filled from the bottom: an empty cell is a space.
_EIGHTHS = " ▁▂▃▄▅▆▇█"
RULE = "╌"  # a threshold line, drawn in the cells the bars leave empty


def nice_top(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above `value`: a scale that reads
    at a glance and stays put while the figure moves a little (a new top repaints it all)."""
    if value <= 0 or math.isnan(value) or math.isinf(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * power >= value * (1 - 1e-9):
            return m * power
    return 10.0 * power


def chart(values: list[float], width: int, rows: int, threshold: Threshold | None,
          name: str, unit: str = "") -> list[str]:
    """A history chart `rows` high as markup lines, top first: bars in eighths of a row, the
    warning and critical bounds as labelled dashed lines (readable without colour), the
    scale's top and the figure's name in a label column on the right."""
    bounds: list[tuple[str, float]] = []
    if threshold is not None and threshold.above:
        bounds = [(word, v) for word, v in (("warn", threshold.warning),
                                             ("crit", threshold.critical)) if v is not None]
    finite = [v for v in values[-width:] if not math.isnan(v)]
    high = max(finite, default=0.0)
    top = high * 1.25
    # The warning bound sets the scale when it is near the data (how far from it reads at a
    # glance); one more than four times above it (152 sockets against 1,000) would flatten the
    # bars to a line, so it is named above the scale instead, as the full-screen charts do.
    far = bool(bounds) and high > 0 and bounds[0][1] > 4 * high
    if bounds and not far:
        top = max(top, bounds[0][1] * 1.25)
    top = nice_top(top)
    labels = [""] * rows
    labels[0] = f"{_short(top)}{unit}"
    labels[-1] = name
    rule_rows: dict[int, str] = {}
    for word, v in bounds:
        if v >= top:
            if far and word == "warn" and rows >= 3:
                labels[1] = f"{word} {_short(v)} \u2191"  # above the top of the scale
            continue
        r = rows - 1 - min(rows - 1, int(v / top * rows))
        rule_rows[r] = word
        labels[r] = f"{word} {_short(v)}"
    label_w = max(len(t) for t in labels) + 1
    bars = max(1, width - label_w)
    shown = values[-bars:]
    shown = [math.nan] * (bars - len(shown)) + shown
    heights = [-1 if math.isnan(v) else max(0, min(rows * 8, round(v / top * rows * 8)))
               for v in shown]
    styles = [("" if math.isnan(v) else _style(v, threshold)) for v in shown]
    lines = []
    for r in range(rows):
        base = (rows - 1 - r) * 8
        rule = r in rule_rows
        rule_style = "$error" if rule_rows.get(r) == "crit" else "$warning"
        cells: list[tuple[str, str]] = []
        for h, st in zip(heights, styles, strict=True):
            fill = 0 if h < 0 else max(0, min(8, h - base))
            cells.append((RULE, rule_style) if fill == 0 and rule else
                         (_EIGHTHS[fill], st if fill else ""))
        lines.append(_styled(cells) + f" [$text-muted]{labels[r]:<{label_w - 1}}[/]")
    return lines


def _short(v: float) -> str:
    """A scale label: 2000 reads 2k, 1.5 reads 1.5."""
    if v >= 10_000:
        return f"{v / 1000:g}k"
    return f"{v:g}"
