"""The units and ranges of sbtop's numeric settings, and durations as people write them.

One place for the config's validation and the command line's option checks, so that
`--refresh 0.05` and `ui.refresh_s = 0.05` are refused alike, and every refusal says the unit
the number is in ("--baseline-p95 4000" is milliseconds, not seconds). Standard library only:
the command line checks its options before anything heavy is loaded (`sbtop check --help`
answers at once).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    """The values a numeric setting may take, and the unit it is counted in."""

    low: float
    high: float
    unit: str  # as said after the upper bound: "seconds", "ms", "MB", "percent", ""
    # The lower bound itself refused: a window of 0 s measures nothing.
    low_open: bool = False
    # The upper bound as said to a person, where "2592000 seconds" would not be read.
    high_text: str = ""

    def describe(self) -> str:
        high = self.high_text or f"{_number(self.high)} {self.unit}".rstrip()
        if self.low_open:
            return f"more than {_number(self.low)} and at most {high}"
        return f"between {_number(self.low)} and {high}"

    def contains(self, value: float) -> bool:
        above_low = self.low < value if self.low_open else self.low <= value
        return math.isfinite(value) and above_low and value <= self.high

    def problem(self, value: float) -> str | None:
        """None for a value in range, else one line saying the range and the unit."""
        if self.contains(value):
            return None
        return f"must be {self.describe()}, got {_number(value)}"


def _number(value: float) -> str:
    """A bound or a value as written: 3600000, not 3.6e+06; 0.05 as 0.05."""
    if math.isfinite(value) and value == int(value):
        return str(int(value))
    return f"{value:g}"


# Seconds between ticks: the console, the demo and `sbtop record` (--refresh), and ui.refresh_s.
# Under half a second the scrapes and the database poll would overlap on a busy backend.
REFRESH_S = Range(0.5, 3600, "seconds")
# Seconds of figures a one-off judgement takes (check, verify, the canary's gate: --window).
WINDOW_S = Range(0, 3600, "seconds", low_open=True)
# How long `sbtop record` runs (--for).
RECORD_FOR_S = Range(0, 30 * 86400, "seconds", low_open=True, high_text="30 days")
# The size at which `sbtop record` stops (--max-mb).
RECORDING_MB = Range(0, 100 * 1024, "MB", low_open=True)
# A p95 latency to compare with (verify --baseline-p95), in milliseconds as the figure is.
LATENCY_MS = Range(0, 3_600_000, "ms", low_open=True, high_text="3600000 ms (an hour)")
# A share of requests (verify --baseline-5xx), and a canary step (canary set N, canary.steps).
PERCENT = Range(0, 100, "percent")
CANARY_PERCENT = Range(0, 100, "percent")
# How many simulated instances the demo runs (demo --instances).
INSTANCES = Range(1, 8, "instances")
# A TCP port to listen on; 0 asks the system for a free one (demo --port).
PORT = Range(0, 65535, "")
# Replay's playback speeds, times real time (replay --speed; the keys 1, 2 and 3).
SPEEDS = (1, 10, 60)

_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)(ms|s|m|h|d))")
_SCALE = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_text_seconds(text: str) -> float | None:
    """Seconds in a Prometheus-style duration ("250ms", "90s", "30m", "1h30m", "2d"), or None
    when the text is not one."""
    text = text.strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _SCALE[u] for n, u in parts)
