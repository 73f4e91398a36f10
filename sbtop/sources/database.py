"""Sessions and connection pressure from PostgreSQL or CockroachDB, one polling connection.

The connection is sbtop's own: application_name 'sbtop', read-only, a statement timeout, left
out of every count. It is reused from poll to poll; when it breaks, the next poll reconnects,
and failed connects back off (1, 2, 4 ... 30 s) so a dead database is not hammered. Every failure
becomes a snapshot with a reason, never an exception to the caller.

CockroachDB is detected from version(). There, pg_stat_activity exists but is empty, so the
sessions come from crdb_internal.cluster_sessions and cluster_queries, whose columns differ
between versions: rows are read by column name (see `crdb_snapshot`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import re
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from sbtop import untrusted
from sbtop.clock import SYSTEM, Clock
from sbtop.engine.observations import DB_STATES, DbSession, DbSnapshot

QUERY_CHARS = 300  # a query is shown on one line; more would not fit anyway
LONGEST = 10


@dataclass(frozen=True, slots=True)
class DbSettings:
    connect_timeout_s: float = 3.0
    statement_timeout_s: float = 2.0
    # Count only the sessions of the DSN's database (a cluster shared by several apps); the
    # capacity stays the server's.
    only_database: bool = False
    pool_user: str = ""  # count only this role's sessions against the pool; "" = all
    max_backoff_s: float = 30.0


# A role without pg_read_all_stats sees other roles' sessions with backend_type and state
# NULL: counting only 'client backend' would show a calm, low count. A row with a user and a
# database but its type hidden is such a session (background workers have no user or no
# database), so it counts, and its state is reported as hidden.
HIDDEN_CLIENT = "(s.backend_type IS NULL AND s.usename IS NOT NULL AND s.datname IS NOT NULL)"

# One round trip, one snapshot of pg_stat_activity (the CTE is materialized: it is read
# several times), so the counts and the tables agree with each other.
PG_POLL = """
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
        FROM a WHERE state IS NOT NULL AND state <> 'idle'
       ORDER BY query_start NULLS LAST LIMIT %(longest)s) t),
  'oldest_xact', (SELECT row_to_json(t) FROM (
      SELECT pid, usename, application_name, client, state,
             extract(epoch FROM now() - xact_start) AS duration_s, query
        FROM a WHERE xact_start IS NOT NULL ORDER BY xact_start LIMIT 1) t),
  'blocked', (SELECT coalesce(json_agg(json_build_array(pid, by)), '[]') FROM (
      SELECT pid, unnest(pg_blocking_pids(pid)) AS by FROM a
       WHERE wait_event_type = 'Lock') b)
)
"""


class DatabaseSource:
    """Use as an async context manager; `poll()` never raises."""

    def __init__(self, dsn: str, settings: DbSettings | None = None,
                 clock: Clock = SYSTEM) -> None:
        self._dsn = dsn
        self.settings = settings or DbSettings()
        self.clock = clock
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self.kind = "postgresql"
        self.version = ""
        self._failures = 0
        self._retry_at = 0.0
        self._last_error: str | None = None
        self._own_session = ""

    def __repr__(self) -> str:  # the DSN may hold a password: never in a repr
        return f"DatabaseSource(kind={self.kind!r})"

    async def __aenter__(self) -> DatabaseSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            # Closing a broken connection can fail in its own way: nothing is left to save.
            with contextlib.suppress(Exception):
                await conn.close()

    async def poll(self) -> DbSnapshot:
        """One poll, bounded on this side too: statement_timeout is the server's to enforce,
        and a server or network that stops answering must not hold a tick."""
        limit = self.settings.connect_timeout_s + self.settings.statement_timeout_s + 1.0
        try:
            snap = await asyncio.wait_for(self._poll(), timeout=limit)
        except TimeoutError:
            await self.close()
            t, wall = self.clock.now()
            self._last_error = f"no answer within {limit:g} s (the connection is dropped)"
            snap = DbSnapshot(t, wall, error=self._last_error, kind=self.kind)
        if snap.error is not None:
            # libpq's and the server's words: the password scrubbed, then made safe to show.
            snap = dataclasses.replace(snap, error=untrusted.line(self._scrub(snap.error)))
        return snap

    def _scrub(self, text: str) -> str:
        """Whatever libpq quotes of the DSN, the password is not shown."""
        for secret in _secrets_of(self._dsn):
            text = text.replace(secret, "***")
        return text

    async def _poll(self) -> DbSnapshot:
        t, wall = self.clock.now()
        if self._conn is None or self._conn.closed:
            if time.monotonic() < self._retry_at:
                wait = self._retry_at - time.monotonic()
                return DbSnapshot(t, wall, error=f"{self._last_error} (retrying in {wait:.0f} s)",
                                  kind=self.kind)
            error = await self._connect()
            if error is not None:
                return DbSnapshot(t, wall, error=error, kind=self.kind)
        started = time.perf_counter()
        try:
            assert self._conn is not None
            if self.kind == "cockroachdb":
                snap = await self._poll_crdb(t, wall)
            else:
                snap = await self._poll_pg(t, wall)
        except psycopg.errors.QueryCanceled:
            return DbSnapshot(t, wall, kind=self.kind, error=(
                f"the sessions query took longer than statement_timeout "
                f"({self.settings.statement_timeout_s:g} s)"))
        except psycopg.errors.InsufficientPrivilege as e:
            return DbSnapshot(t, wall, kind=self.kind, error=f"not allowed: {_first_line(e)}")
        except (psycopg.OperationalError, psycopg.InterfaceError) as e:
            # The connection broke (the server restarted, or killed us): reconnect next poll.
            await self.close()
            self._last_error = f"connection lost: {_first_line(e)}"
            return DbSnapshot(t, wall, kind=self.kind, error=self._last_error)
        except psycopg.Error as e:
            return DbSnapshot(t, wall, kind=self.kind, error=_first_line(e))
        poll_ms = (time.perf_counter() - started) * 1000.0
        return _with(snap, poll_ms=poll_ms, version=self.version)

    async def _connect(self) -> str | None:
        s = self.settings
        try:
            conn = await asyncio.wait_for(psycopg.AsyncConnection.connect(
                self._dsn, autocommit=True, application_name="sbtop",
                connect_timeout=max(2, round(s.connect_timeout_s))),
                timeout=s.connect_timeout_s + 1.0)
        except TimeoutError:
            return self._failed(f"connect timeout: no answer within {s.connect_timeout_s:g} s")
        except psycopg.Error as e:
            return self._failed(_connect_reason(e))
        except (OSError, ValueError) as e:
            return self._failed(f"cannot connect: {e}")
        try:
            cur = await conn.execute("SELECT version()")
            row = await cur.fetchone()
            self.version = untrusted.line(row[0]) if row else ""
            self.kind = "cockroachdb" if self.version.startswith("CockroachDB") else "postgresql"
            ms = max(1, round(s.statement_timeout_s * 1000))
            await conn.execute(sql.SQL("SET statement_timeout = {}").format(sql.Literal(ms)))
            # sbtop only reads (a cancel is a function call, not a write).
            await conn.execute("SET default_transaction_read_only = on")
            if self.kind == "cockroachdb":
                cur = await conn.execute("SHOW session_id")
                row = await cur.fetchone()
                self._own_session = str(row[0]) if row else ""
        except psycopg.Error as e:
            await conn.close()
            return self._failed(_first_line(e))
        self._conn = conn
        self._failures = 0
        self._last_error = None
        return None

    def _failed(self, reason: str) -> str:
        # The first retry comes at once (a restart is often quick), then 1, 2, 4 ... s.
        delay = 0.0 if self._failures == 0 else min(self.settings.max_backoff_s,
                                                     2.0 ** (self._failures - 1))
        self._failures += 1
        self._retry_at = time.monotonic() + delay
        self._last_error = reason
        return reason

    async def _poll_pg(self, t: float, wall: float) -> DbSnapshot:
        assert self._conn is not None
        s = self.settings
        query = PG_POLL.replace("%(hidden_client)s", HIDDEN_CLIENT)
        cur = await self._conn.execute(query, {
            "chars": QUERY_CHARS, "only_db": s.only_database, "pool_user": s.pool_user,
            "longest": LONGEST})
        row = await cur.fetchone()
        assert row is not None
        return pg_snapshot(row[0], t, wall)

    async def _poll_crdb(self, t: float, wall: float) -> DbSnapshot:
        assert self._conn is not None
        cur = await self._conn.execute("SELECT * FROM crdb_internal.cluster_sessions")
        session_cols = [c.name for c in cur.description or ()]
        sessions = await cur.fetchall()
        cur = await self._conn.execute("SELECT * FROM crdb_internal.cluster_queries")
        query_cols = [c.name for c in cur.description or ()]
        queries = await cur.fetchall()
        cur = await self._conn.execute("SELECT * FROM crdb_internal.cluster_transactions")
        txn_cols = [c.name for c in cur.description or ()]
        txns = await cur.fetchall()
        limit: int | None = None
        limit_note = ""
        try:
            cur = await self._conn.execute(
                "SHOW CLUSTER SETTING server.max_connections_per_gateway")
            got = await cur.fetchone()
            limit = int(got[0]) if got else None
        except psycopg.errors.InsufficientPrivilege:
            limit_note = "cannot read server.max_connections_per_gateway (needs VIEWCLUSTERSETTING)"
        return crdb_snapshot(session_cols, sessions, query_cols, queries, self._own_session,
                             limit, t, wall, pool_user=self.settings.pool_user,
                             limit_note=limit_note, txn_cols=txn_cols, txns=txns)

    async def cancel(self, session: DbSession) -> str:
        """Cancel the session's running query, and only that one: the query must still be
        the one shown (same session start, same query start, still active); returns what
        happened, in words."""
        if self._conn is None or self._conn.closed:
            return "not cancelled: no database connection"
        target = session.cancel_id or session.id
        if self.kind == "postgresql" and session.state != "active":
            return (f"not cancelled: nothing runs on pid {target} ({session.state}); a cancel "
                    "stops a running query only")
        try:
            if self.kind == "cockroachdb":
                await self._conn.execute(sql.SQL("CANCEL QUERY {}").format(sql.Literal(target)))
                return f"cancelled query {target}"
            cur = await self._conn.execute(
                "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = %s "
                "AND backend_start::text = %s AND query_start::text = %s AND state = 'active'",
                (int(target), session.backend_start, session.query_start))
            row = await cur.fetchone()
        except (psycopg.Error, ValueError) as e:
            return self._scrub(f"not cancelled: {_first_line(e)}")
        if row is None:
            return (f"not cancelled: pid {target} no longer runs that query (it ended, or the "
                    "pid now belongs to another session)")
        if row[0]:
            return f"cancel sent to pid {target}"
        return f"not cancelled: this role may not signal pid {target}"


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
        wait=untrusted.optional(r.get("wait")), query=_one_line(r.get("query")),
        cancel_id=str(r["pid"]),
        backend_start=r.get("backend_start_text"), query_start=r.get("query_start_text"))


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
                  query=_one_line(q.get("query")), cancel_id=str(q.get("query_id")))
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
                           query=_one_line(sess.get("last_active_query")))
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


def _one_line(text: Any) -> str | None:
    """Query text on one line (its own line breaks and runs of spaces become one space), made
    safe to show."""
    if text is None:
        return None
    return untrusted.line(" ".join(str(text).split()), QUERY_CHARS)


def _first_line(e: BaseException) -> str:
    """The first line of a database error (the server's words), made safe to show."""
    text = str(e).strip().splitlines()
    return untrusted.line(text[0]) if text else type(e).__name__


def _secrets_of(dsn: str) -> list[str]:
    """The password in a DSN, in the forms it may be quoted (raw and percent-decoded), read
    without trusting the DSN to parse."""
    found: list[str] = []
    m = re.search(r"://[^:/@\s]*:([^@\s]+)@", dsn)
    if m:
        found.append(m.group(1))
    m = re.search(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", dsn)
    if m:
        found.append(m.group(1).strip("'"))
    out = []
    for value in found:
        out += [value, urllib.parse.unquote(value)]
    return sorted({v for v in out if len(v) >= 2}, key=len, reverse=True)


def _connect_reason(e: psycopg.Error) -> str:
    # libpq's message names host and port; a DSN it cannot parse may be quoted (scrubbed by
    # the caller); keep the first line.
    text = _first_line(e)
    lowered = text.lower()
    if "password authentication failed" in lowered:
        return "password authentication failed (check the DSN's credentials)"
    if "refused" in lowered:
        return f"connection refused: {text}"
    return text


def _with(snap: DbSnapshot, **changes: Any) -> DbSnapshot:
    return dataclasses.replace(snap, **changes)
