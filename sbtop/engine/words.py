"""Numbers and durations as the engine writes them into its own sentences (a gate criterion's
"soak 5m00s: 2m10s left", a note's "the page's clock is 42s ahead").

They live here, not in sbtop.format, so the engine stays the bottom layer: the presentation
module imports the engine, never the reverse. sbtop.format re-exports both, so a panel and the
engine's prose write a figure the same way.
"""

from __future__ import annotations

import math


def number(value: float | None, unit: str) -> str:
    """A figure's value in its unit: '218 ms', '0.21%', '40.2/s', '1,300'."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1e12:  # a figure that large is a bug upstream: not 300 digits of it
        return f"{value:.3g}" + ("%" if unit == "%" else f" {unit}" if unit else "")
    # Precision where it matters (0.95% against a 1% threshold), no more: digits that flicker
    # on every tick are noise to read and bytes to send.
    if unit == "%":
        return f"{value:.2f}%" if abs(value) < 10 else f"{value:.1f}%"
    if unit == "ms":
        return f"{value:.0f} ms" if abs(value) >= 10 else f"{value:.1f} ms"
    if unit == "x":  # a burn rate: a multiple of the error budget
        return f"{value:.2f}x" if abs(value) < 10 else f"{value:.1f}x"
    if unit == "pts":  # percentage points: a difference, signed
        return f"{value:+.2f} pts"
    if unit.endswith("/h"):  # a trend: its sign is the news ("+12.5 MB/h", "-3/h")
        space = " " if unit[0].isalpha() else ""
        digits = f"{value:+.1f}" if abs(value) < 10 else f"{value:+,.0f}"
        return f"{digits}{space}{unit}"
    if unit == "/s":
        return f"{value:.0f}/s" if abs(value) >= 100 else f"{value:.1f}/s"
    return f"{value:,.0f}"


def duration(seconds: float) -> str:
    """Compact and coarse where precision does not help: '42s', '3m12s', '2h05m'."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"
