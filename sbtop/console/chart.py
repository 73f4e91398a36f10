"""Figures' history as plotext charts: one pane per unit over one time axis, threshold lines
and action markers labelled in words.

plotext draws with ANSI colours; the colours given here come from the Textual theme's
variables, so the chart follows the theme (and NO_COLOR strips them with everything else).
Colour only repeats what the words and shapes say: each series has its own marker (braille
dots, half blocks, bullets), shown in its legend; a threshold line carries its level and
value; an action marker its name and time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

Colour = str | tuple[int, int, int]

# Each series of a pane its own shape, so lines are told apart without colour.
MARKERS = ("braille", "hd", "•", "x")
MIN_PANE_ROWS = 6  # frame, title and three rows of plot


@dataclass(frozen=True)
class Series:
    label: str  # in words, with the unit: "p95 latency (ms)"
    walls: list[float]
    values: list[float]
    colour: Colour


@dataclass(frozen=True)
class HLine:
    value: float
    colour: Colour
    label: str  # "p95 latency WARN 500 ms"
    short: str = ""  # "WARN 500 ms": in the pane's title when the line is above the chart


@dataclass(frozen=True)
class Pane:
    """One axis: every series in it has the same unit."""

    title: str
    series: Sequence[Series]
    hlines: Sequence[HLine] = ()
    weight: int = 1  # its share of the height


def plot_colour(theme_value: str | None, fallback: str = "default") -> Colour:
    """A Textual colour ('#rrggbb' or 'ansi_red') as plotext understands it."""
    if not theme_value:
        return fallback
    if theme_value.startswith("ansi_"):
        name = theme_value[len("ansi_"):]
        if name.startswith("bright_"):
            return name[len("bright_"):] + "+"
        return "default" if name == "default" else name
    if theme_value.startswith("#") and len(theme_value) >= 7:
        try:
            return (int(theme_value[1:3], 16), int(theme_value[3:5], 16),
                    int(theme_value[5:7], 16))
        except ValueError:
            return fallback
    return fallback


def heights(panes: Sequence[Pane], height: int) -> list[int]:
    """Each pane's rows: shares of `height` by weight, none under MIN_PANE_ROWS; the last one
    takes the time axis' row too."""
    total = max(sum(p.weight for p in panes), 1)
    spare = max(0, height - 1 - MIN_PANE_ROWS * len(panes))
    out = [MIN_PANE_ROWS + spare * p.weight // total for p in panes]
    out[-1] += height - sum(out) if height > sum(out) else 1
    return out


def build(panes: Sequence[Pane], markers: Sequence[tuple[float, str]], width: int,
          height: int, marker_colour: Colour = "default") -> str:
    import plotext as plt  # here, not at start-up: ~25 ms and ~3 MB until a chart is opened

    plt.main()  # the whole figure cleared, not only the pane last drawn
    plt.clf()
    plt.theme("clear")
    width = max(40, width)
    walls = [w for p in panes for s in p.series for w in s.walls]
    start = min(walls, default=time.time())
    end = max(walls, default=start + 1)
    if end <= start:
        end = start + 1
    shown = [(w, label) for w, label in markers if start <= w <= end]
    rows = heights(panes, height)
    plt.subplots(len(panes), 1)
    plt.limitsize(False, False)  # the screen's size, not the terminal plotext would guess
    plt.plotsize(width, sum(rows))
    ranges = [_range(p) for p in panes]
    ticks = [_yticks(lo, hi, n) for (lo, hi, _off), n in zip(ranges, rows, strict=True)]
    # One width for every pane's numbers, so the panes' time axes line up.
    label_width = max((len(t) for _v, labels in ticks for t in labels), default=1)
    for i, (pane, n) in enumerate(zip(panes, rows, strict=True)):
        plt.subplot(i + 1, 1)
        plt.limitsize(False, False)
        plt.plotsize(width, n)
        plt.theme("clear")
        lo, hi, off_chart = ranges[i]
        title = pane.title + (f" (above the top: {', '.join(off_chart)})" if off_chart
                              else "")
        # plotext leaves out a title wider than the pane: cut it instead.
        plt.title(title if len(title) <= width - 6 else title[:width - 7] + "\u2026")
        drawn = False
        for j, s in enumerate(pane.series):
            labelled = False
            for xs, ys in _segments(s.walls, s.values):
                plt.plot(xs, ys, color=s.colour, marker=MARKERS[j % len(MARKERS)],
                         label=None if labelled else s.label)
                labelled = drawn = True
        for h in pane.hlines:
            if lo <= h.value <= hi:
                plt.horizontal_line(h.value, color=h.colour)
                plt.text(h.label, x=end, y=h.value, alignment="right", color=h.colour)
        for wall, label in shown:
            plt.vertical_line(wall, color=marker_colour)
            if i == 0:  # named once, at the foot of the first pane (thresholds sit high)
                right = wall > start + (end - start) * 0.7
                plt.text(f"{label} {time.strftime('%H:%M', time.localtime(wall))}", x=wall,
                         y=lo, alignment="right" if right else "left", color=marker_colour)
        if not drawn:
            plt.text("no data in this window yet", x=(start + end) / 2, y=(lo + hi) / 2,
                     alignment="center")
        values, labels = ticks[i]
        plt.yticks(values, [t.rjust(label_width) for t in labels])
        plt.ylim(lo, hi)
        plt.xlim(start, end)
        if i < len(panes) - 1:
            plt.xticks([], [])
        else:
            xs = [start + (end - start) * k / 4 for k in range(5)]
            plt.xticks(xs, [time.strftime("%H:%M:%S", time.localtime(t)) for t in xs])
    return str(plt.build())


def _range(pane: Pane) -> tuple[float, float, list[str]]:
    """(bottom, top, the threshold lines left out): the data with headroom; a threshold line
    joins the axis when it is no more than twice the data's top away, else it would flatten
    the data, and its label goes in the pane's title instead."""
    values = [v for s in pane.series for v in s.values if not math.isnan(v)]
    if not values:
        return 0.0, 1.0, []
    low, high = min(values), max(values)
    top = data_top = high * 1.15 if high > 0 else 1.0
    off: list[str] = []
    for h in pane.hlines:
        if h.value <= data_top * 2:
            top = max(top, h.value * 1.08)
        else:
            off.append(h.short or h.label)
    return min(0.0, low), top, off


def _yticks(lo: float, hi: float, rows: int) -> tuple[list[float], list[str]]:
    n = 3 if rows < 9 else 5
    values = [lo + (hi - lo) * k / (n - 1) for k in range(n)]
    return values, [_short(v, hi - lo) for v in values]


def _short(v: float, span: float) -> str:
    if abs(v) >= 10_000:
        return f"{v / 1000:.0f}k"
    if span >= 10:
        return f"{v:.0f}"
    if span >= 1:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _segments(walls: list[float], values: list[float]) -> list[tuple[list[float], list[float]]]:
    """Split at gaps (NaN): a gap is drawn as a gap, not bridged by a line."""
    out: list[tuple[list[float], list[float]]] = []
    xs: list[float] = []
    ys: list[float] = []
    for t, v in zip(walls, values, strict=True):
        if math.isnan(v):
            if xs:
                out.append((xs, ys))
                xs, ys = [], []
            continue
        xs.append(t)
        ys.append(v)
    if xs:
        out.append((xs, ys))
    return out
