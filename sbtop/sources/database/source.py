"""The database source: sbtop's own connection, one poll a tick, never an exception out."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from sbtop import untrusted
from sbtop.clock import SYSTEM, Clock
from sbtop.engine.observations import DbSession, DbSnapshot
from sbtop.engine.statements import StatementsPoll
from sbtop.sources.database import cockroach, postgres
from sbtop.sources.database.backoff import Backoff
from sbtop.sources.database.encoding import read_text_leniently
from sbtop.sources.database.shown import connect_reason, first_line, secrets_of
from sbtop.sources.database.statements import PgStatements, crdb_read
from sbtop.sources.settings import DbSettings

T = TypeVar("T")


async def bounded(work: Coroutine[Any, Any, T], limit: float) -> T:
    """`work`'s result, or TimeoutError at `limit` seconds: at `limit`, not later. Cancelled
    in the middle of a query, psycopg tries to cancel it on the server and waits for that (up
    to 5 s, then 5 s more: asyncio.wait_for waited with it, 10 s past the bound on a server
    that stopped answering). Interrupted a second time, it closes the connection at once; the
    caller drops it anyway."""
    task = asyncio.ensure_future(work)
    task.add_done_callback(_retrieved)
    try:
        done, _ = await asyncio.wait({task}, timeout=limit)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if done:
        return task.result()
    task.cancel()
    await asyncio.sleep(0)  # it steps into psycopg's handler, which starts the server cancel
    task.cancel()  # and gives up on it: the connection is closed
    await asyncio.wait({task}, timeout=1.0)
    raise TimeoutError


def _retrieved(task: asyncio.Future[Any]) -> None:
    """A task given up on ends with an error nobody awaits: read, not logged as lost."""
    if not task.cancelled():
        task.exception()


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
        self._backoff = Backoff(clock, self.settings.max_backoff_s)
        self._last_error: str | None = None
        self._own_session = ""
        self._statements = PgStatements()
        self._statements_due = -1e18

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
            snap = await bounded(self._poll(), limit)
        except TimeoutError:
            await self.close()
            t, wall = self.clock.now()
            self._last_error = f"no answer within {limit:g} s (the connection is dropped)"
            snap = DbSnapshot(t, wall, error=self._last_error, kind=self.kind)
        if snap.error is not None:
            # libpq's and the server's words: the password scrubbed, then made safe to show.
            snap = dataclasses.replace(snap, error=untrusted.line(self._scrub(snap.error)))
        return snap

    def _shown(self, e: BaseException) -> str:
        """The server's words about a failure: the password scrubbed, then made safe."""
        return untrusted.line(self._scrub(first_line(e)))

    def _scrub(self, text: str) -> str:
        """Whatever libpq quotes of the DSN, the password is not shown."""
        for secret in secrets_of(self._dsn):
            text = text.replace(secret, "***")
        return text

    async def _poll(self) -> DbSnapshot:
        t, wall = self.clock.now()
        if self._conn is None or self._conn.closed:
            wait = self._backoff.wait_s()
            if wait > 0:
                return DbSnapshot(t, wall, error=f"{self._last_error} (retrying in {wait:.0f} s)",
                                  kind=self.kind)
            error = await self._connect()
            if error is not None:
                return DbSnapshot(t, wall, error=error, kind=self.kind)
        # The poll's own duration, as measured (shown as the database's round trip), not a
        # schedule: the performance counter, whatever clock drives the ticks.
        started = time.perf_counter()
        try:
            assert self._conn is not None
            if self.kind == "cockroachdb":
                snap = await cockroach.poll(self._conn, self._own_session,
                                            self.settings.pool_user, t, wall)
            else:
                snap = await postgres.poll(self._conn, self.settings, t, wall)
        except psycopg.errors.QueryCanceled:
            return DbSnapshot(t, wall, kind=self.kind, error=(
                f"the sessions query took longer than statement_timeout "
                f"({self.settings.statement_timeout_s:g} s)"))
        except psycopg.errors.InsufficientPrivilege as e:
            return DbSnapshot(t, wall, kind=self.kind, error=f"not allowed: {first_line(e)}")
        except (psycopg.OperationalError, psycopg.InterfaceError) as e:
            # The connection broke (the server restarted, or killed us): reconnect next poll.
            await self.close()
            self._last_error = f"connection lost: {first_line(e)}"
            return DbSnapshot(t, wall, kind=self.kind, error=self._last_error)
        except psycopg.Error as e:
            return DbSnapshot(t, wall, kind=self.kind, error=first_line(e))
        poll_ms = (time.perf_counter() - started) * 1000.0
        return dataclasses.replace(snap, poll_ms=poll_ms, version=self.version)

    async def poll_statements(self) -> StatementsPoll | None:
        """The statement statistics when due (every `statements_every_s`, first at once),
        else None; never raises. A failure is said in the poll's `unavailable`, apart from
        the sessions: a missing extension hides nothing else of the database."""
        s = self.settings
        if not s.statements or self._conn is None or self._conn.closed:
            return None
        t, wall = self.clock.now()
        if t < self._statements_due:
            return None
        self._statements_due = t + s.statements_every_s
        started = time.perf_counter()
        limit = 2 * s.statement_timeout_s + 1.0  # two or three queries, each under the timeout
        try:
            if self.kind == "cockroachdb":
                got = await bounded(crdb_read(self._conn, t, wall), limit)
            else:
                got = await bounded(self._statements.read(self._conn, t, wall), limit)
        except TimeoutError:
            await self.close()
            got = StatementsPoll(t, wall, unavailable=(
                f"statement statistics: no answer within {limit:g} s (the connection is "
                "dropped)"))
        except psycopg.errors.QueryCanceled:
            got = StatementsPoll(t, wall, unavailable=(
                "statement statistics took longer than statement_timeout "
                f"({s.statement_timeout_s:g} s)"))
        except psycopg.errors.InsufficientPrivilege as e:
            got = StatementsPoll(t, wall, unavailable=(
                f"statement statistics not allowed: {self._shown(e)} (grant "
                "pg_read_all_stats; on CockroachDB VIEWACTIVITY)"))
        except psycopg.Error as e:
            got = StatementsPoll(t, wall, unavailable=f"statement statistics: {self._shown(e)}")
        if self.kind == "cockroachdb" and got.source == "pg_stat_statements":
            got = dataclasses.replace(got, source="crdb_internal")
        return dataclasses.replace(got, elapsed_ms=(time.perf_counter() - started) * 1000.0)

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
            return self._failed(connect_reason(e))
        except (OSError, ValueError) as e:
            return self._failed(f"cannot connect: {e}")
        read_text_leniently(conn)
        try:
            cur = await conn.execute("/* sbtop */ SELECT version()")
            row = await cur.fetchone()
            self.version = untrusted.line(row[0]) if row else ""
            self.kind = "cockroachdb" if self.version.startswith("CockroachDB") else "postgresql"
            ms = max(1, round(s.statement_timeout_s * 1000))
            await conn.execute(sql.SQL("/* sbtop */ SET statement_timeout = {}").format(
                sql.Literal(ms)))
            # sbtop only reads (a cancel is a function call, not a write).
            await conn.execute("/* sbtop */ SET default_transaction_read_only = on")
            if self.kind == "cockroachdb":
                self._own_session = await cockroach.own_session(conn)
        except psycopg.Error as e:
            await conn.close()
            return self._failed(first_line(e))
        self._conn = conn
        self._backoff.succeeded()
        self._last_error = None
        return None

    def _failed(self, reason: str) -> str:
        self._backoff.failed()
        self._last_error = reason
        return reason

    async def cancel(self, session: DbSession) -> str:
        """Cancel the session's running query, and only that one: the query must still be
        the one shown (same session start, same query start, still active); returns what
        happened, in words."""
        if self._conn is None or self._conn.closed:
            return "not cancelled: no database connection"
        target = session.cancel_id or session.id
        try:
            if self.kind == "cockroachdb":
                return await cockroach.cancel(self._conn, target)
            return await postgres.cancel(self._conn, session, target)
        except (psycopg.Error, ValueError) as e:
            return untrusted.line(self._scrub(f"not cancelled: {first_line(e)}"))

    async def terminate(self, session: DbSession) -> str:
        """End the session shown, and only that one (PostgreSQL: the same pid and session
        start); returns what happened, in words."""
        if self._conn is None or self._conn.closed:
            return "not terminated: no database connection"
        try:
            if self.kind == "cockroachdb":
                return await cockroach.terminate(self._conn, session.id)
            return await postgres.terminate(self._conn, session, session.cancel_id or session.id)
        except (psycopg.Error, ValueError) as e:
            return untrusted.line(self._scrub(f"not terminated: {first_line(e)}"))
