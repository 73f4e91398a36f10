"""CockroachDB: pg_stat_activity is empty there, so sessions, queries and transactions come
from crdb_internal's cluster tables, read by column name (their columns differ by version)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql

from sbtop import untrusted
from sbtop.engine.observations import DB_STATES, DbSession, DbSnapshot
from sbtop.sources.database.shown import LONGEST, one_line


async def own_session(conn: psycopg.AsyncConnection[Any]) -> str:
    """sbtop's own session id, left out of every count."""
    cur = await conn.execute("SHOW session_id")
    row = await cur.fetchone()
    return str(row[0]) if row else ""


async def poll(conn: psycopg.AsyncConnection[Any], own: str, pool_user: str, t: float,
               wall: float) -> DbSnapshot:
    cur = await conn.execute("SELECT * FROM crdb_internal.cluster_sessions")
    session_cols = [c.name for c in cur.description or ()]
    sessions = await cur.fetchall()
    cur = await conn.execute("SELECT * FROM crdb_internal.cluster_queries")
    query_cols = [c.name for c in cur.description or ()]
    queries = await cur.fetchall()
    cur = await conn.execute("SELECT * FROM crdb_internal.cluster_transactions")
    txn_cols = [c.name for c in cur.description or ()]
    txns = await cur.fetchall()
    limit: int | None = None
    limit_note = ""
    try:
        cur = await conn.execute("SHOW CLUSTER SETTING server.max_connections_per_gateway")
        got = await cur.fetchone()
        limit = int(got[0]) if got else None
    except psycopg.errors.InsufficientPrivilege:
        limit_note = "cannot read server.max_connections_per_gateway (needs VIEWCLUSTERSETTING)"
    return crdb_snapshot(session_cols, sessions, query_cols, queries, own, limit, t, wall,
                         pool_user=pool_user, limit_note=limit_note, txn_cols=txn_cols,
                         txns=txns)


async def cancel(conn: psycopg.AsyncConnection[Any], target: str) -> str:
    """Cancel one query by its id (raises psycopg.Error for the caller to say)."""
    await conn.execute(sql.SQL("CANCEL QUERY {}").format(sql.Literal(target)))
    return f"cancelled query {target}"


async def terminate(conn: psycopg.AsyncConnection[Any], session_id: str) -> str:
    """End one session by its id (raises psycopg.Error for the caller to say)."""
    await conn.execute(sql.SQL("CANCEL SESSION {}").format(sql.Literal(session_id)))
    return f"terminated session {session_id}"


def crdb_snapshot(session_cols: Sequence[str], sessions: Sequence[Sequence[Any]],
                  query_cols: Sequence[str], queries: Sequence[Sequence[Any]],
                  own_session: str, max_per_gateway: int | None, t: float, wall: float, *,
                  pool_user: str = "", limit_note: str = "",
                  txn_cols: Sequence[str] = (), txns: Sequence[Sequence[Any]] = ()
                  ) -> DbSnapshot:
    """CockroachDB's session and query rows, read by column name (they differ by version).

    Internal sessions ('$ internal...') and sbtop's own are left out. A session is active when
    it runs a query, idle in transaction when it holds an open transaction (kv_txn) without
    one, idle otherwise; CockroachDB has no 'aborted' state to read, and lock waits are not in
    these tables, so `waiting` is unknown.
    """
    rows = [dict(zip(session_cols, r, strict=False)) for r in sessions]
    rows = [r for r in rows
            if not str(r.get("application_name") or "").startswith("$ internal")
            and str(r.get("session_id")) != own_session
            and str(r.get("status") or "ACTIVE").upper() != "CLOSED"]
    states = dict.fromkeys(DB_STATES, 0)
    per_node: dict[Any, int] = {}
    for r in rows:
        per_node[r.get("node_id")] = per_node.get(r.get("node_id"), 0) + 1
        states[_crdb_state(r)] += 1
    qrows = [dict(zip(query_cols, r, strict=False)) for r in queries]
    qrows = [q for q in qrows if not str(q.get("application_name") or "").startswith("$ internal")
             and str(q.get("session_id")) != own_session]
    # Oldest first; a query without a start time cannot be ranked, so it goes last.
    qrows.sort(key=lambda q: (q.get("start") is None, _epoch(q.get("start")) or 0.0))
    longest = tuple(
        DbSession(id=untrusted.line(q.get("session_id")),
                  user=untrusted.optional(q.get("user_name")),
                  application=untrusted.optional(q.get("application_name")),
                  client=untrusted.optional(q.get("client_address")),
                  state=str(q.get("phase") or "executing"),
                  duration_s=_age(q.get("start"), wall),
                  query=one_line(q.get("query")), cancel_id=str(q.get("query_id")))
        for q in qrows[:LONGEST])
    # The oldest open transaction, from the transactions table (a session idle in a
    # transaction has no query start to go by).
    visible = {str(r.get("session_id")): r for r in rows}
    trows = [dict(zip(txn_cols, r, strict=False)) for r in txns]
    trows = [x for x in trows if str(x.get("session_id")) in visible
             and _epoch(x.get("start")) is not None]
    oldest = None
    if trows:
        first = min(trows, key=lambda x: _epoch(x.get("start")) or 0.0)
        sess = visible[str(first.get("session_id"))]
        oldest = DbSession(id=untrusted.line(first.get("session_id")),
                           user=untrusted.optional(sess.get("user_name")),
                           application=untrusted.optional(sess.get("application_name")),
                           client=untrusted.optional(sess.get("client_address")),
                           state=_crdb_state(sess),
                           duration_s=_age(first.get("start"), wall),
                           query=one_line(sess.get("last_active_query")))
    unlimited = max_per_gateway is None or max_per_gateway < 0
    if unlimited:
        note = limit_note or ("server.max_connections_per_gateway = -1 (unlimited): set "
                              "db.pool_size to judge the pool instead")
    else:
        note = "server.max_connections_per_gateway, busiest node"
    return DbSnapshot(
        t, wall, kind="cockroachdb", states=states, total=len(rows), waiting=None,
        capacity=None if unlimited else max_per_gateway, capacity_note=note,
        pressure=max(per_node.values(), default=0),
        pool_sessions=sum(1 for r in rows if not pool_user or r.get("user_name") == pool_user),
        longest=longest, oldest_xact=oldest)


def _crdb_state(r: Mapping[str, Any]) -> str:
    if str(r.get("active_queries") or "").strip():
        return "active"
    if r.get("kv_txn"):
        return "idle in transaction"
    return "idle"


def _epoch(value: Any) -> float | None:
    """A CockroachDB TIMESTAMP as epoch seconds. The columns carry no time zone and hold UTC,
    so a naive datetime is UTC, never the machine's local time."""
    if not isinstance(value, datetime.datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return float(value.timestamp())


def _age(start: Any, wall: float) -> float | None:
    stamp = _epoch(start)
    return None if stamp is None else max(0.0, wall - stamp)
