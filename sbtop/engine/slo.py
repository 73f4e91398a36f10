"""The service level objectives whose error budgets sbtop watches, and the Google SRE
workbook's multi-window, multi-burn-rate pairs ("Alerting on SLOs").

A burn rate is the error ratio over a window divided by the budget (1 - objective): 1x spends
the budget exactly over the SLO's period, 14.4x spends a 30-day budget in about two days. Each
pair alerts when both its long and its short window burn faster than its factor: the long one
says enough budget went, the short one that it is still going (so the alert resets soon after
the problem stops). The factors follow from the share of the budget a pair guards, so a period
other than 30 days keeps the workbook's budget shares: factor = share x period / long window.
"""

from __future__ import annotations

from dataclasses import dataclass

from sbtop.engine.keys import Fig
from sbtop.engine.levels import Level

# Every window a burn rate is figured over, in seconds, by its PromQL spelling.
WINDOW_S: dict[str, float] = {"5m": 300.0, "30m": 1800.0, "1h": 3600.0, "6h": 21600.0,
                              "3d": 259200.0}
# The windows the engine figures (the console, check). 3d only in the generated rules: no
# console session holds three days, and a 3-day range every round is a heavy query.
FIGURE_WINDOWS = ("5m", "30m", "1h", "6h")

AVAILABILITY = "availability"
LATENCY = "latency"

BURN_FIGURES: dict[tuple[str, str], Fig] = {
    (AVAILABILITY, "5m"): Fig.BURN_RATE_5M,
    (AVAILABILITY, "30m"): Fig.BURN_RATE_30M,
    (AVAILABILITY, "1h"): Fig.BURN_RATE_1H,
    (AVAILABILITY, "6h"): Fig.BURN_RATE_6H,
    (LATENCY, "5m"): Fig.LATENCY_BURN_RATE_5M,
    (LATENCY, "30m"): Fig.LATENCY_BURN_RATE_30M,
    (LATENCY, "1h"): Fig.LATENCY_BURN_RATE_1H,
    (LATENCY, "6h"): Fig.LATENCY_BURN_RATE_6H,
}


@dataclass(frozen=True, slots=True)
class BurnPair:
    """Alert when both windows burn faster than the factor that spends `budget_share` of the
    budget over the long window."""

    name: str  # "Fast", "Slow", "Ticket": the alert's name ends with it
    long: str
    short: str
    budget_share: float
    severity: Level  # CRITICAL pages, WARNING opens a ticket

    def factor(self, period_s: float) -> float:
        return self.budget_share * period_s / WINDOW_S[self.long]


# The workbook's table for a 30-day SLO: 2 % of the budget in 1 h (14.4x) and 5 % in 6 h (6x)
# page; 10 % in 3 d (1x) opens a ticket.
PAGE_FAST = BurnPair("Fast", "1h", "5m", 0.02, Level.CRITICAL)
PAGE_SLOW = BurnPair("Slow", "6h", "30m", 0.05, Level.CRITICAL)
TICKET = BurnPair("Ticket", "3d", "6h", 0.10, Level.WARNING)
PAIRS = (PAGE_FAST, PAGE_SLOW, TICKET)
# The pairs the engine judges: both windows among FIGURE_WINDOWS.
ENGINE_PAIRS = (PAGE_FAST, PAGE_SLOW)


@dataclass(frozen=True, slots=True)
class SloSettings:
    """The objectives, in per cent (None: not watched), the latency bound a request must beat,
    and the period the budget is spent over."""

    availability_pct: float | None = None
    latency_pct: float | None = None
    latency_threshold_ms: float = 500.0
    period_s: float = 30 * 86400.0

    def objectives(self) -> dict[str, float]:
        """Each watched SLO's objective as a ratio (0.995)."""
        out = {}
        if self.availability_pct is not None:
            out[AVAILABILITY] = self.availability_pct / 100.0
        if self.latency_pct is not None:
            out[LATENCY] = self.latency_pct / 100.0
        return out


def page_at(window: str, period_s: float) -> float | None:
    """The factor the engine's pair holding `window` pages at."""
    pair = next((p for p in ENGINE_PAIRS if window in (p.long, p.short)), None)
    return None if pair is None else round(pair.factor(period_s), 6)


def alert_name(slo: str, pair: BurnPair) -> str:
    return f"Sbtop{'Error' if slo == AVAILABILITY else 'Latency'}BudgetBurn{pair.name}"


def describe(slo: str, settings: SloSettings) -> str:
    """The SLO in words: 'availability 99.5% over 30d'."""
    pct = settings.availability_pct if slo == AVAILABILITY else settings.latency_pct
    what = ("requests answered without a 5xx" if slo == AVAILABILITY else
            f"requests faster than {settings.latency_threshold_ms:g} ms")
    return f"{pct:g}% of {what} over {_period(settings.period_s)}"


def _period(seconds: float) -> str:
    if seconds % 86400 == 0:
        return f"{seconds / 86400:g}d"
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    return f"{seconds:g}s"
