"""The database figures from one poll of its sessions: pure, like the rest of the engine."""

from __future__ import annotations

from sbtop.engine.detail import Detail
from sbtop.engine.figures import Figure, judge, unknown
from sbtop.engine.keys import Fig
from sbtop.engine.levels import Level
from sbtop.engine.observations import DbSnapshot
from sbtop.engine.settings import FIGURE_UNITS, EngineSettings


def db_figures(snap: DbSnapshot, settings: EngineSettings) -> dict[str, Figure]:
    """db_sessions (with its breakdown), db_connections_pct, and db_pool_pct when a pool size
    is configured. A failed poll gives unknown figures with the reason."""
    pool = settings.db_pool_size
    if snap.error is not None:
        reason = f"database unavailable: {snap.error}"
        out: dict[str, Figure] = {k: unknown(k, reason, settings)
                                  for k in (Fig.DB_CONNECTIONS_PCT, Fig.DB_SESSIONS)}
        if pool:
            out[Fig.DB_POOL_PCT] = unknown(Fig.DB_POOL_PCT, reason, settings)
        return out
    states = snap.states
    detail = Detail(
        active=states.get("active", 0), idle=states.get("idle", 0),
        idle_in_transaction=states.get("idle in transaction", 0),
        idle_in_transaction_aborted=states.get("idle in transaction (aborted)", 0),
        waiting=snap.waiting, other=states.get("other") or None, hidden=snap.hidden or None)
    out = {Fig.DB_SESSIONS: judge(Fig.DB_SESSIONS, snap.total, settings,
                                reason="no session count", detail=detail)}
    if snap.capacity is None or snap.capacity <= 0 or snap.pressure is None:
        # Unlimited (CockroachDB's -1) or unknowable: nothing to judge, said plainly.
        out[Fig.DB_CONNECTIONS_PCT] = Figure(
            Fig.DB_CONNECTIONS_PCT, None, Level.UNKNOWN, FIGURE_UNITS[Fig.DB_CONNECTIONS_PCT],
            settings.thresholds.get(Fig.DB_CONNECTIONS_PCT),
            snap.capacity_note or "no connection limit known", Detail(), judged=False)
    else:
        out[Fig.DB_CONNECTIONS_PCT] = judge(
            Fig.DB_CONNECTIONS_PCT, 100.0 * snap.pressure / snap.capacity, settings,
            detail=Detail(sessions=snap.pressure, capacity=snap.capacity,
                          capacity_from=snap.capacity_note))
    if pool:
        used = snap.pool_sessions if snap.pool_sessions is not None else snap.total
        out[Fig.DB_POOL_PCT] = judge(Fig.DB_POOL_PCT, None if used is None else 100.0 * used / pool,
                                   settings, reason="no session count",
                                   detail=Detail(sessions=used, pool_size=pool))
    return out
