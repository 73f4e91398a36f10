"""A pre-flight SQL probe ("these indexes exist"): one query in a read-only transaction under a
statement timeout, on a connection of its own that is closed after. Passes when the first
column of the first row is true (a true boolean, a non-zero number, a non-empty string).

Safe whatever the text says: it is sent as one prepared statement (the extended protocol
refuses `COMMIT; DROP ...`, several statements in one), on a session that is read-only by its
connection options (a transaction it could begin or end is read-only too), under a statement
timeout set the same way."""

from __future__ import annotations

import asyncio

import psycopg
from psycopg.conninfo import conninfo_to_dict

from sbtop import untrusted
from sbtop.sources.database.shown import connect_reason, first_line, secrets_of
from sbtop.sources.database.source import bounded


async def sql_probe(dsn: str, query: str, *, connect_timeout_s: float = 3.0,
                    statement_timeout_s: float = 10.0) -> tuple[bool, str]:
    """(passed, what it found or why it failed), in one safe line with no password."""
    ok, text = await _probe(dsn, query, connect_timeout_s, statement_timeout_s)
    for secret in secrets_of(dsn):
        text = text.replace(secret, "***")
    return ok, untrusted.line(text, 300)


async def _probe(dsn: str, query: str, connect_s: float, statement_s: float
                 ) -> tuple[bool, str]:
    try:
        conn = await asyncio.wait_for(psycopg.AsyncConnection.connect(
            dsn, autocommit=False, application_name="sbtop preflight",
            connect_timeout=max(2, round(connect_s)),
            options=_options(dsn, statement_s)), timeout=connect_s + 1.0)
    except TimeoutError:
        return False, f"connect timeout: no answer within {connect_s:g} s"
    except psycopg.Error as e:
        return False, connect_reason(e)
    except (OSError, ValueError) as e:
        return False, f"cannot connect: {e}"
    try:
        async with conn:
            await conn.set_read_only(True)  # psycopg opens the transaction READ ONLY
            # The query is the config's own text (never built from outside input), prepared:
            # one statement only, so nothing can follow a COMMIT or a SET inside it. Bounded
            # as the polls are: on a server that stops answering, asyncio.wait_for waited
            # 10 s more for psycopg's cancel of the query on the server.
            cur = await bounded(conn.execute(query.encode(), prepare=True),
                                statement_s + 2.0)
            row = await cur.fetchone() if cur.description else None
            await conn.rollback()
    except TimeoutError:
        return False, f"no answer within {statement_s:g} s"
    except psycopg.errors.QueryCanceled:
        return False, f"cancelled by the statement timeout ({statement_s:g} s)"
    except psycopg.Error as e:
        return False, f"query failed: {first_line(e)}"
    if row is None or not row:
        return False, "no row returned"
    value = row[0]
    return bool(value), f"first column: {untrusted.line(str(value), 80)}"


def _options(dsn: str, statement_s: float) -> str:
    """The session's settings from the start: read-only by default (so a transaction begun
    after any COMMIT is read-only too) and the statement timeout, after the DSN's own options
    (a search_path there still counts; ours, later, win)."""
    ms = max(1, round(statement_s * 1000))
    try:
        own = str(conninfo_to_dict(dsn).get("options") or "")
    except psycopg.Error:
        own = ""  # the connection says what is wrong with the DSN
    return f"{own} -c default_transaction_read_only=on -c statement_timeout={ms}".strip()
