"""A figure's history as a plotext chart: time axis, threshold lines, markers for actions.

plotext draws with ANSI colours; the colours given here come from the Textual theme's
variables, so the chart follows the theme (and NO_COLOR strips them with everything else).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

Colour = str | tuple[int, int, int]


@dataclass(frozen=True)
class Series:
    label: str
    walls: list[float]
    values: list[float]
    colour: Colour


@dataclass(frozen=True)
class HLine:
    value: float
    colour: Colour


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


def build(series: Sequence[Series], hlines: Sequence[HLine], markers: Sequence[tuple[float, str]],
          width: int, height: int, title: str, unit: str, marker_colour: Colour = "default"
          ) -> str:
    import plotext as plt  # here, not at start-up: ~25 ms and 1.4 MB until a chart is drawn

    plt.clf()
    plt.theme("clear")
    plt.plotsize(max(20, width), max(6, height))
    plt.title(title)
    start = min((s.walls[0] for s in series if s.walls), default=time.time())
    end = max((s.walls[-1] for s in series if s.walls), default=start + 1)
    if end <= start:
        end = start + 1
    drawn = False
    for s in series:
        labelled = False
        for xs, ys in _segments(s.walls, s.values):
            plt.plot(xs, ys, color=s.colour, marker="braille",
                     label=None if labelled else s.label)
            labelled = drawn = True
    for h in hlines:
        plt.horizontal_line(h.value, color=h.colour)
    for wall, _label in markers:
        if start <= wall <= end:
            plt.vertical_line(wall, color=marker_colour)
    if not drawn:
        plt.text("no data in this window yet", x=(start + end) / 2, y=0.5, alignment="center")
        plt.ylim(0, 1)
    else:
        low = min((v for s in series for v in s.values if not math.isnan(v)), default=0.0)
        top = max([v for s in series for v in s.values if not math.isnan(v)]
                  + [h.value for h in hlines], default=1.0)
        plt.ylim(min(0.0, low), top * 1.08 if top > 0 else 1.0)
    ticks = [start + (end - start) * i / 4 for i in range(5)]
    plt.xticks(ticks, [time.strftime("%H:%M:%S", time.localtime(t)) for t in ticks])
    plt.ylabel(unit)
    plt.xlim(start, end)
    return str(plt.build())


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
