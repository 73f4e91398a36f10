"""The canary ladder and its gate, from the runbook: step the flag 0 -> 5 -> 25 -> 100 %, soak
each step (30 min at 5 %, 1 h at 25 %), and go on only while the 5xx rate stays under 1 %, p95
stays within 10 % of the baseline taken before the first step, and DB connections stay under
80 %. With a cohort label configured and seen, the p95 rule is replaced by the canary cohort
judged against the stable one in the same window (sbtop.engine.cohort_gate). Pure: figures and
times in, a verdict out."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from sbtop.engine import words
from sbtop.engine.cohort_gate import cohort_criteria, fallback_note
from sbtop.engine.figures import Figure
from sbtop.engine.keys import Fig
from sbtop.engine.labels import label


@dataclass(frozen=True, slots=True)
class GateSettings:
    steps: tuple[int, ...] = (0, 5, 25, 100)
    # Seconds to soak at a step before the next; steps not listed soak 0 s.
    soak_s: Mapping[int, float] = field(default_factory=lambda: {5: 1800.0, 25: 3600.0})
    max_5xx_pct: float = 1.0
    max_p95_regression_pct: float = 10.0
    max_db_connections_pct: float = 80.0


@dataclass(frozen=True, slots=True)
class Criterion:
    name: str
    passed: bool | None  # None: not measured here (no database), so not blocking
    # The live value, then the rule it must meet ("5xx 1.98%, must be < 1%"): read beside a
    # FAIL mark, "5xx 1.98% < 1%" would state something false.
    shown: str
    # Not passed for want of requests yet (the cohort comparison's minimum): shut, as a FAIL
    # is, but marked "wait" where it is shown, since nothing failed.
    waiting: bool = False


@dataclass(frozen=True, slots=True)
class Gate:
    percent: int | None  # the flag as read from the provider
    next_percent: int | None  # None at the top of the ladder (or off it)
    soak_total_s: float
    soak_left_s: float | None  # None when the step's start is not known
    criteria: tuple[Criterion, ...]

    @property
    def open(self) -> bool:
        return self.next_percent is not None and all(c.passed is not False
                                                     for c in self.criteria)

    @property
    def failing(self) -> tuple[Criterion, ...]:
        return tuple(c for c in self.criteria if c.passed is False)


def next_step(percent: int | None, steps: tuple[int, ...]) -> int | None:
    """The next rung above `percent` (a value between rungs goes to the next one above)."""
    if percent is None:
        return None
    higher = [s for s in steps if s > percent]
    return min(higher) if higher else None


def evaluate(percent: int | None, step_started_wall: float | None, now_wall: float,
             baseline_p95_ms: float | None, figures: Mapping[str, Figure],
             settings: GateSettings) -> Gate:
    nxt = next_step(percent, settings.steps)
    soak_total = 0.0
    if percent is not None:
        # A step off the ladder (an override to 10 %) soaks as the rung below it does.
        rung = max((s for s in settings.steps if s <= percent), default=0)
        soak_total = float(settings.soak_s.get(percent, settings.soak_s.get(rung, 0.0)))
    criteria: list[Criterion] = []
    left: float | None = None
    if soak_total > 0:
        if step_started_wall is None:
            criteria.append(Criterion("soak", False, "soak: start of the step not known"))
        else:
            left = max(0.0, soak_total - (now_wall - step_started_wall))
            criteria.append(Criterion("soak", left <= 0, f"soak {words.duration(soak_total)}: "
                                      + ("done" if left <= 0 else f"{words.duration(left)} left")))
    else:
        left = 0.0
    e5 = _fresh(figures.get(Fig.ERROR_RATE_5XX_PCT))
    s5xx, sp95, sdb = (label(Fig.ERROR_RATE_5XX_PCT), label(Fig.LATENCY_P95_MS),
                       label(Fig.DB_CONNECTIONS_PCT))
    criteria.append(Criterion(
        s5xx, e5 is not None and e5 < settings.max_5xx_pct,
        f"{s5xx} {_num(e5, '%')}, must be < {settings.max_5xx_pct:g}%"))
    p95 = _fresh(figures.get(Fig.LATENCY_P95_MS))
    compared = cohort_criteria(percent, figures)
    if compared:
        # The canary cohort against the stable one, in the same window: the comparison the
        # baseline stands in for when the app labels no cohort.
        criteria.extend(Criterion(*c) for c in compared)
    elif baseline_p95_ms is None and not percent:
        # Before the first step there is nothing to compare with yet: the p95 of the moment
        # of stepping becomes the baseline.
        criteria.append(Criterion(sp95, None, f"{sp95} {_num(p95, 'ms')} becomes the baseline"))
    elif baseline_p95_ms is None:
        criteria.append(Criterion(sp95, False, f"{sp95}: no baseline captured (press B)"))
    else:
        bound = baseline_p95_ms * (1 + settings.max_p95_regression_pct / 100)
        criteria.append(Criterion(
            sp95, p95 is not None and p95 <= bound,
            f"{sp95} {_num(p95, 'ms')}, must be <= {bound:.0f} ms (baseline {baseline_p95_ms:.0f} "
            f"+{settings.max_p95_regression_pct:g}%)" + fallback_note(figures)))
    db = figures.get(Fig.DB_CONNECTIONS_PCT)
    if db is None or (db.value is None and not db.judged and db.stale_s is None
                      and "no connection limit" in (db.reason or "")):
        # Not blocking: no database watched, or one without a connection limit (CockroachDB).
        criteria.append(Criterion("db", None, "db: no database" if db is None
                                  else f"{sdb}: no connection limit"))
    else:
        value = _fresh(db)
        criteria.append(Criterion(
            "db", value is not None and value < settings.max_db_connections_pct,
            f"{sdb} {_num(value, '%')}, must be < {settings.max_db_connections_pct:g}%"))
    return Gate(percent, nxt, soak_total, left, tuple(criteria))


def _fresh(f: Figure | None) -> float | None:
    """A value the gate may trust: known and not carried over from an older scrape."""
    if f is None or f.value is None or f.stale_s is not None or math.isnan(f.value):
        return None
    return f.value


def _num(v: float | None, unit: str) -> str:
    return "unknown" if v is None else words.number(v, unit.strip())
