"""PostgreSQL: one query a poll over pg_stat_activity, its JSON answer as a snapshot, a
cancel that stops only the query that was shown, and a terminate that ends only the session
shown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg

from sbtop import untrusted
from sbtop.engine.observations import DB_STATES, DbSession, DbSnapshot
from sbtop.sources.database.shown import LONGEST, QUERY_CHARS, one_line
from sbtop.sources.settings import DbSettings

# A role without pg_read_all_stats sees other roles' sessions with backend_type and state
# NULL: counting only 'client backend' would show a calm, low count. A row with a user and a
# database but its type hidden is such a session (background workers have no user or no
# database), so it counts, and its state is reported as hidden.
HIDDEN_CLIENT = "(s.backend_type IS NULL AND s.usename IS NOT NULL AND s.datname IS NOT NULL)"

# One round trip, one snapshot of pg_stat_activity (the CTE is materialized: it is read
# several times), so the counts and the tables agree with each other. The leading comment
# marks it as sbtop's own in pg_stat_statements (left out of the statements listed).
PG_POLL = """/* sbtop */
WITH me AS (SELECT pg_backend_pid() AS pid, current_database() AS db),
a AS MATERIALIZED (
  SELECT s.pid, s.usename, s.application_name, s.client_addr::text AS client, s.state,
         s.query_start, s.xact_start, s.wait_event_type, s.wait_event, s.datname,
         s.backend_start::text AS backend_start_text, s.query_start::text AS query_start_text,
         left(regexp_replace(s.query, '\\s+', ' ', 'g'), %(chars)s) AS query
    FROM pg_stat_activity s, me
   WHERE s.pid <> me.pid AND (s.backend_type = 'client backend' OR %(hidden_client)s)
     AND (NOT %(only_db)s OR s.datname = me.db)
)
SELECT json_build_object(
  'states', (SELECT coalesce(json_object_agg(coalesce(state, '?'), n), '{}')
               FROM (SELECT state, count(*) AS n FROM a GROUP BY state) g),
  'total', (SELECT count(*) FROM a),
  'server_total', (SELECT count(*) FROM pg_stat_activity s, me
                    WHERE s.pid <> me.pid
                      AND (s.backend_type = 'client backend' OR %(hidden_client)s)),
  'waiting', (SELECT count(*) FROM a WHERE wait_event_type = 'Lock'),
  'pool', (SELECT count(*) FROM a WHERE %(pool_user)s = '' OR usename = %(pool_user)s),
  'max_connections', current_setting('max_connections')::int,
  'superuser_reserved', current_setting('superuser_reserved_connections')::int,
  'reserved', coalesce(current_setting('reserved_connections', true), '0')::int,
  'longest', (SELECT coalesce(json_agg(t), '[]') FROM (
      SELECT pid, usename, application_name, client, state,
             extract(epoch FROM now() - query_start) AS duration_s,
             CASE WHEN wait_event IS NULL THEN NULL
                  ELSE wait_event_type || ':' || wait_event END AS wait, query,
             backend_start_text, query_start_text
        FROM a WHERE state IS NOT NULL
       ORDER BY state = 'idle', query_start NULLS LAST LIMIT %(longest)s) t),
  'oldest_xact', (SELECT row_to_json(t) FROM (
      SELECT pid, usename, application_name, client, state,
             extract(epoch FROM now() - xact_start) AS duration_s, query
        FROM a WHERE xact_start IS NOT NULL ORDER BY xact_start LIMIT 1) t),
  'blocked', (SELECT coalesce(json_agg(json_build_array(pid, by)), '[]') FROM (
      SELECT pid, unnest(pg_blocking_pids(pid)) AS by FROM a
       WHERE wait_event_type = 'Lock') b)
)
"""


async def poll(conn: psycopg.AsyncConnection[Any], s: DbSettings, t: float, wall: float
               ) -> DbSnapshot:
    query = PG_POLL.replace("%(hidden_client)s", HIDDEN_CLIENT)
    cur = await conn.execute(query, {
        "chars": QUERY_CHARS, "only_db": s.only_database, "pool_user": s.pool_user,
        "longest": LONGEST})
    row = await cur.fetchone()
    assert row is not None
    return pg_snapshot(row[0], t, wall)


async def cancel(conn: psycopg.AsyncConnection[Any], session: DbSession, target: str) -> str:
    """Cancel the session's query if it is still the one shown (same session start, same
    query start, still active); what happened, in words. Raises psycopg.Error or ValueError
    (a pid that is not a number) for the caller to say."""
    if session.state != "active":
        return (f"not cancelled: nothing runs on pid {target} ({session.state}); a cancel "
                "stops a running query only")
    cur = await conn.execute(
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = %s "
        "AND backend_start::text = %s AND query_start::text = %s AND state = 'active'",
        (int(target), session.backend_start, session.query_start))
    row = await cur.fetchone()
    if row is None:
        return (f"not cancelled: pid {target} no longer runs that query (it ended, or the "
                "pid now belongs to another session)")
    if row[0]:
        return f"cancel sent to pid {target}"
    return f"not cancelled: this role may not signal pid {target}"


async def terminate(conn: psycopg.AsyncConnection[Any], session: DbSession, target: str) -> str:
    """End the session (its connection closed, an open transaction rolled back) if the pid
    still belongs to the session shown (same session start); what happened, in words.
    Raises psycopg.Error or ValueError for the caller to say."""
    cur = await conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = %s "
        "AND backend_start::text = %s", (int(target), session.backend_start))
    row = await cur.fetchone()
    if row is None:
        return (f"not terminated: pid {target} is gone or now belongs to another session")
    if row[0]:
        return f"terminated session {target}"
    return f"not terminated: this role may not signal pid {target}"


def pg_snapshot(data: Mapping[str, Any], t: float, wall: float) -> DbSnapshot:
    """The poll's JSON as a snapshot."""
    raw_states: dict[str, int] = {str(k): int(v) for k, v in (data.get("states") or {}).items()}
    hidden = raw_states.pop("?", 0)  # NULL state: another role's session we may not inspect
    states = {state: raw_states.get(state, 0) for state in DB_STATES}
    # 'fastpath function call', 'disabled' (track_activities off): counted, not lost.
    other = sum(n for state, n in raw_states.items() if state not in DB_STATES)
    if other:
        states["other"] = other
    capacity = (int(data["max_connections"]) - int(data["superuser_reserved"])
                - int(data.get("reserved") or 0))
    note = "max_connections - superuser_reserved_connections"
    if data.get("reserved"):
        note += " - reserved_connections"
    if hidden:
        # Without pg_read_all_stats, other roles' rows hide their type: counting them errs
        # high (they may include parallel workers), never reassuringly low.
        note += f"; an upper bound: {hidden} hidden rows counted"
    return DbSnapshot(
        t, wall, kind="postgresql", states=states, total=int(data["total"]),
        waiting=int(data["waiting"]), capacity=capacity, capacity_note=note,
        pressure=int(data["server_total"]), pool_sessions=int(data["pool"]), hidden=hidden,
        longest=tuple(_pg_session(r) for r in data.get("longest") or ()),
        oldest_xact=_pg_session(data["oldest_xact"]) if data.get("oldest_xact") else None,
        blocked=tuple((str(a), str(b)) for a, b in data.get("blocked") or ()),
    )


def _pg_session(r: Mapping[str, Any]) -> DbSession:
    # Query text, application name and user are anyone's text (a client sets them): safe to
    # show. backend_start and query_start go back to the server as they came (the cancel's
    # check), so they are kept as read.
    return DbSession(
        id=str(r["pid"]), user=untrusted.optional(r.get("usename")),
        application=untrusted.optional(r.get("application_name")),
        client=untrusted.optional(r.get("client")), state=untrusted.optional(r.get("state")),
        duration_s=None if r.get("duration_s") is None else float(r["duration_s"]),
        wait=untrusted.optional(r.get("wait")), query=one_line(r.get("query")),
        cancel_id=str(r["pid"]),
        backend_start=r.get("backend_start_text"), query_start=r.get("query_start_text"))
