"""What to do now: the runbook's Action column beside each breached figure.

A breach names its action in words and, where the console has one that acts on it, which
console action to offer (its key). The book is plain data the config builds per threshold; the
judgement of which figures are breached is the engine's own levels, nothing new."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from sbtop.engine.figures import Figure
from sbtop.engine.keys import Fig
from sbtop.engine.levels import Level


class Offer(enum.StrEnum):
    """The console action a breach offers beside its words; NONE: words only."""

    NONE = "none"
    SESSIONS = "sessions"  # the database sessions, longest running first
    ROLLBACK = "rollback"
    RESTART = "restart"


@dataclass(frozen=True, slots=True)
class Advice:
    words: str
    offer: Offer = Offer.NONE
    # The level from which the advice stands: the runbook's "rollback immediately" is for a
    # critical error rate, not for a warning one.
    at: Level = Level.CRITICAL


# The runbook's table (section 4, "Key Metrics to Watch"), its Action column. The issue asks
# for p95, errors and memory at critical; connections and sockets from the warning on (80 %
# of connections is when to scale; 1000 sockets is the Redis adapter's own threshold).
RUNBOOK_ADVICE: Mapping[str, Advice] = {
    Fig.LATENCY_P95_MS: Advice("check slow query logs", Offer.SESSIONS),
    Fig.ERROR_RATE_5XX_PCT: Advice("rollback immediately", Offer.ROLLBACK),
    Fig.DB_CONNECTIONS_PCT: Advice("scale or optimize", Offer.NONE, Level.WARNING),
    Fig.DB_POOL_PCT: Advice("scale or optimize", Offer.NONE, Level.WARNING),
    Fig.MEMORY_PCT: Advice("restart service", Offer.RESTART),
    Fig.SOCKET_CONNECTIONS: Advice("enable Redis adapter", Offer.NONE, Level.WARNING),
}


def advice_for(f: Figure | None, book: Mapping[str, Advice]) -> Advice | None:
    """The advice standing for `f` now: a judged, known, fresh figure at or past the advice's
    level. A stale or unknown figure is not a breach to act on (its value is not now's)."""
    if f is None or not f.judged or f.value is None or f.stale_s is not None:
        return None
    advice = book.get(f.key)
    if advice is None or not advice.words:
        return None
    if f.level not in (Level.WARNING, Level.CRITICAL):
        return None
    return advice if f.level.severity >= advice.at.severity else None


def standing(figures: Mapping[str, Figure], book: Mapping[str, Advice]
             ) -> dict[str, Advice]:
    """Every breached figure's advice, in the figures' order."""
    out = {}
    for key, f in figures.items():
        advice = advice_for(f, book)
        if advice is not None:
            out[key] = advice
    return out
