"""The command line's numeric options, each checked as argparse reads it, against the range in
sbtop.units that the config's validation uses for the same setting, and refused in one line
that says the unit: "argument --baseline-p95: must be more than 0 and at most 3600000 ms"."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from sbtop import units
from sbtop.units import Range


def number(bounds: Range, noun: str) -> Callable[[str], float]:
    """A number in `bounds`; `noun` says what was expected ("seconds") when it is not one."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
        problem = bounds.problem(value)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    return parse


def whole(bounds: Range, noun: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {noun} (a whole number), got "
                                             f"{text!r}") from None
        problem = bounds.problem(value)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    return parse


refresh = number(units.REFRESH_S, "seconds")
window = number(units.WINDOW_S, "seconds")
max_mb = number(units.RECORDING_MB, "megabytes")
latency_ms = number(units.LATENCY_MS, "milliseconds")
percent = number(units.PERCENT, "a percentage")
instances = whole(units.INSTANCES, "a number of instances")
port = whole(units.PORT, "a port number")


def duration(text: str) -> float:
    """Seconds, as a number or a duration: 90, 90s, 30m, 2h."""
    try:
        value: float | None = float(text)
    except ValueError:
        value = units.duration_text_seconds(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90, 90s, 30m, 2h)")
    problem = units.RECORD_FOR_S.problem(value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


def speed(text: str) -> int:
    choices = ", ".join(map(str, units.SPEEDS[:-1])) + f" or {units.SPEEDS[-1]}"
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value not in units.SPEEDS:
        raise argparse.ArgumentTypeError(f"expected {choices} (times real time), got {text!r}")
    return value


def canary_percent(text: str) -> int:
    """A canary step's percentage: a whole number from 0 to 100."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage (a whole number, 0 to "
                                         "100)") from None
    if not units.CANARY_PERCENT.contains(value):
        raise argparse.ArgumentTypeError(f"{value} is not a percentage (0 to 100)")
    return value
