"""The database figures from one poll of its sessions: pure, like the rest of the engine."""

from __future__ import annotations

from sbtop.engine.detail import Detail
from sbtop.engine.figures import Figure, judge, unknown
from sbtop.engine.levels import Level
from sbtop.engine.observations import DbSnapshot
from sbtop.engine.settings import FIGURE_UNITS, EngineSettings

DB_FIGURES = ("db_connections_pct", "db_pool_pct", "db_sessions")


def db_figures(snap: DbSnapshot, settings: EngineSettings) -> dict[str, Figure]:
    """db_sessions (with its breakdown), db_connections_pct, and db_pool_pct when a pool size
    is configured. A failed poll gives unknown figures with the reason."""
    pool = settings.db_pool_size
    if snap.error is not None:
        reason = f"database unavailable: {snap.error}"
        out: dict[str, Figure] = {k: unknown(k, reason, settings)
                                  for k in ("db_connections_pct", "db_sessions")}
        if pool:
            out["db_pool_pct"] = unknown("db_pool_pct", reason, settings)
        return out
    states = snap.states
    detail = Detail(
        active=states.get("active", 0), idle=states.get("idle", 0),
        idle_in_transaction=states.get("idle in transaction", 0),
        idle_in_transaction_aborted=states.get("idle in transaction (aborted)", 0),
        waiting=snap.waiting, other=states.get("other") or None, hidden=snap.hidden or None)
    out = {"db_sessions": judge("db_sessions", snap.total, settings,
                                reason="no session count", detail=detail)}
    if snap.capacity is None or snap.capacity <= 0 or snap.pressure is None:
        # Unlimited (CockroachDB's -1) or unknowable: nothing to judge, said plainly.
        out["db_connections_pct"] = Figure(
            "db_connections_pct", None, Level.UNKNOWN, FIGURE_UNITS["db_connections_pct"],
            settings.thresholds.get("db_connections_pct"),
            snap.capacity_note or "no connection limit known", Detail(), judged=False)
    else:
        out["db_connections_pct"] = judge(
            "db_connections_pct", 100.0 * snap.pressure / snap.capacity, settings,
            detail=Detail(sessions=snap.pressure, capacity=snap.capacity,
                          capacity_from=snap.capacity_note))
    if pool:
        used = snap.pool_sessions if snap.pool_sessions is not None else snap.total
        out["db_pool_pct"] = judge("db_pool_pct", None if used is None else 100.0 * used / pool,
                                   settings, reason="no session count",
                                   detail=Detail(sessions=used, pool_size=pool))
    return out
