"""One level type and one threshold type for every figure sbtop judges."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass


class Level(enum.Enum):
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"

    @property
    def severity(self) -> int:
        # Unknown sits between ok and warning: a figure sbtop cannot read must never look
        # reassuring, but a known warning or critical outranks it.
        return _SEVERITY[self]

    @property
    def exit_code(self) -> int:
        """The monitoring-plugin convention: 0 ok, 1 warning, 2 critical, 3 unknown."""
        return _EXIT[self]

    @property
    def mark(self) -> str:
        """A word that reads without colour (NO_COLOR, monochrome, colour-blind)."""
        return _MARK[self]


_SEVERITY = {Level.OK: 0, Level.UNKNOWN: 1, Level.WARNING: 2, Level.CRITICAL: 3}
_EXIT = {Level.OK: 0, Level.WARNING: 1, Level.CRITICAL: 2, Level.UNKNOWN: 3}
_MARK = {Level.OK: "OK", Level.WARNING: "WARN", Level.CRITICAL: "CRIT", Level.UNKNOWN: "UNKN"}


def worst(levels: list[Level] | tuple[Level, ...]) -> Level:
    """The most severe of `levels`; OK when there are none."""
    result = Level.OK
    for level in levels:
        if level.severity > result.severity:
            result = level
    return result


@dataclass(frozen=True, slots=True)
class Threshold:
    """Warning and critical bounds; crossing means strictly beyond, as the runbook's '> 500ms'."""

    warning: float | None = None
    critical: float | None = None
    # False for figures where low is bad (say, a request rate that collapses).
    above: bool = True

    def judge(self, value: float | None) -> Level:
        if value is None or math.isnan(value):
            return Level.UNKNOWN
        if self.critical is not None and self._beyond(value, self.critical):
            return Level.CRITICAL
        if self.warning is not None and self._beyond(value, self.warning):
            return Level.WARNING
        return Level.OK

    def _beyond(self, value: float, bound: float) -> bool:
        return value > bound if self.above else value < bound

    def describe(self) -> str:
        """'warn > 500, crit > 1000' (or '<' when low is bad); '' without bounds."""
        op = ">" if self.above else "<"
        parts = []
        if self.warning is not None:
            parts.append(f"warn {op} {_num(self.warning)}")
        if self.critical is not None:
            parts.append(f"crit {op} {_num(self.critical)}")
        return ", ".join(parts)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"
