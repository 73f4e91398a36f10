"""Statement statistics: pg_stat_statements on PostgreSQL, crdb_internal's statement
statistics on CockroachDB, read as counters (the engine takes the differences).

Bounded: at most ROW_LIMIT statements a read, under the connection's statement timeout and
read-only transaction, and read less often than the sessions (DbSettings.statements_every_s).
On PostgreSQL the counters are read without their text (pg_stat_statements(false) does not
read the query-text file); the texts are read once per new statement and kept.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql

from sbtop import untrusted
from sbtop.engine.statements import StatementCounters, StatementsPoll
from sbtop.sources.database.shown import first_line, one_line

# sbtop's own queries start with this comment, which pg_stat_statements keeps in the text:
# they are left out of the statements listed (sbtop is not the load it watches).
OWN = "/* sbtop */"
ROW_LIMIT = 5000  # pg_stat_statements.max's default: every statement of a default server
TEXT_READ = 1000  # characters of a statement's text read (300 are shown)

PRELOAD = ("add pg_stat_statements to shared_preload_libraries in postgresql.conf and restart "
           "PostgreSQL")
CREATE = "run CREATE EXTENSION pg_stat_statements in this database"


class PgStatements:
    """The PostgreSQL reader; keeps the statements' texts between reads (they do not change
    for a queryid), so each text is read once."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}
        self.own: set[str] = set()  # sbtop's own statements (their text starts with OWN)

    async def read(self, conn: psycopg.AsyncConnection[Any], t: float, wall: float
                   ) -> StatementsPoll:
        cur = await conn.execute(
            f"{OWN} SELECT n.nspname "
            "FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'pg_stat_statements'")
        found = await cur.fetchone()
        if found is None:
            steps = CREATE if await _preloaded(conn) else f"{PRELOAD}, then {CREATE}"
            return StatementsPoll(t, wall, unavailable=(
                f"pg_stat_statements is not installed: {steps} (as a superuser); "
                "reading other roles' statements needs pg_read_all_stats"))
        schema = str(found[0])
        cols = await _columns(conn, schema)
        total = "total_exec_time" if "total_exec_time" in cols else "total_time"
        view = sql.SQL("{}.pg_stat_statements").format(sql.Identifier(schema))
        try:
            # One counter per statement and role (nested and top level summed): the
            # engine adds the roles' up. The current database only: the app's.
            cur = await conn.execute(sql.SQL(
                OWN + " SELECT queryid::text, sum(calls)::bigint, sum({total})::float8, "
                "count(*)::int, userid::text "
                "FROM {view}(false) "
                "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "GROUP BY queryid, userid ORDER BY 3 DESC LIMIT {limit}").format(
                    total=sql.Identifier(total), view=view, limit=sql.Literal(ROW_LIMIT)))
            counted = await cur.fetchall()
        except psycopg.errors.ObjectNotInPrerequisiteState:
            return StatementsPoll(t, wall, unavailable=(
                f"pg_stat_statements is installed but not loaded: {PRELOAD}"))
        reset, evictions, size = await _info(conn, schema)
        # Other roles' statements without pg_read_all_stats: queryid NULL, one group.
        hidden = sum(int(r[3]) for r in counted if r[0] is None)
        rows = [r for r in counted if r[0] is not None]
        new = list({str(r[0]) for r in rows if str(r[0]) not in self.texts})
        texts_failed = None
        if new:
            try:
                cur = await conn.execute(sql.SQL(
                    OWN + " SELECT DISTINCT ON (queryid) queryid::text, left(query, {read}), "
                    "length(query) "
                    "FROM {view}(true) WHERE queryid::text = ANY(%s) "
                    "AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
                ).format(view=view, read=sql.Literal(TEXT_READ)), (new,))
                got = await cur.fetchall()
            except (psycopg.errors.CharacterNotInRepertoire,
                    psycopg.errors.UntranslatableCharacter) as e:
                # The function converts every statement's text, of every database, before
                # the WHERE: one of a database in another encoding fails them all. The
                # counters stand without texts, asked again next read.
                texts_failed = untrusted.line(first_line(e))
            else:
                # Read once: a statement whose text does not come back is not asked again.
                self.texts.update(dict.fromkeys(new, ""))
                for key, text, total in got:
                    shown = one_line(text, total, TEXT_READ)
                    if shown:
                        self.texts[str(key)] = shown
        present = {str(r[0]) for r in rows}
        for gone in [k for k in self.texts if k not in present]:
            del self.texts[gone]
        self.own = {k for k, text in self.texts.items() if text.startswith(OWN)}
        rows = [r for r in rows if str(r[0]) not in self.own]
        return StatementsPoll(
            t, wall, rows=tuple(StatementCounters(str(r[0]), self.texts.get(str(r[0])) or None,
                                                  int(r[1] or 0), float(r[2] or 0.0),
                                                  part=str(r[4]))
                                for r in rows),
            reset_mark=reset, hidden=hidden, evictions=evictions, max_statements=size,
            texts_failed=texts_failed,
            capped=ROW_LIMIT if len(counted) >= ROW_LIMIT else None)


async def _preloaded(conn: psycopg.AsyncConnection[Any]) -> bool:
    """Whether the server loads the library. shared_preload_libraries may be read only by a
    superuser or pg_read_all_settings; without that, the library's own setting tells: it
    exists in every session of a server that preloads it (one set in postgresql.conf without
    the library is a placeholder there too, so it is the second choice, not the first)."""
    try:
        cur = await conn.execute(f"{OWN} SELECT current_setting('shared_preload_libraries')")
    except psycopg.errors.InsufficientPrivilege:
        cur = await conn.execute(
            f"{OWN} SELECT current_setting('pg_stat_statements.max', true) IS NOT NULL")
        row = await cur.fetchone()
        return row is not None and row[0] is True
    row = await cur.fetchone()
    return row is not None and "pg_stat_statements" in str(row[0])


async def _columns(conn: psycopg.AsyncConnection[Any], schema: str) -> set[str]:
    """The view's columns: total_exec_time from extension 1.8 (PostgreSQL 13), total_time
    before; by the installed extension, not the server's version."""
    cur = await conn.execute(
        f"{OWN} SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = 'pg_stat_statements' AND a.attnum > 0",
        (schema,))
    return {str(r[0]) for r in await cur.fetchall()}


async def _info(conn: psycopg.AsyncConnection[Any], schema: str
                ) -> tuple[str | None, int | None, int | None]:
    """pg_stat_statements_info (PostgreSQL 14+): stats_reset (a change means every counter
    restarted), dealloc (how often the full table dropped its least-run statements), and
    pg_stat_statements.max. Older versions have none of it; a statement's calls going down
    still shows a reset (or a drop: they cannot be told apart there)."""
    try:
        cur = await conn.execute(sql.SQL(
            OWN + " SELECT stats_reset::text, dealloc, "
            "current_setting('pg_stat_statements.max', true) "
            "FROM {}.pg_stat_statements_info").format(sql.Identifier(schema)))
    except psycopg.errors.UndefinedTable:
        return None, None, None
    row = await cur.fetchone()
    if row is None:
        return None, None, None
    size = str(row[2]) if row[2] is not None else ""
    return (None if row[0] is None else str(row[0]),
            None if row[1] is None else int(row[1]),
            int(size) if size.isdigit() else None)


# CockroachDB -----------------------------------------------------------------------------

# sbtop's own connections' application names (source.py, probe.py): CockroachDB keeps no
# comment in a fingerprint, so its own reads are told by the application.
OWN_APPS = frozenset({"sbtop", "sbtop preflight"})
CRDB_AGGREGATED = "crdb_internal.statement_statistics"  # 22.1+: per hour, node, app, plan
CRDB_NODE = "crdb_internal.node_statement_statistics"  # older: this node's, since its reset


async def crdb_read(conn: psycopg.AsyncConnection[Any], t: float, wall: float
                    ) -> StatementsPoll:
    try:
        cur = await conn.execute(
            f"SELECT * FROM {CRDB_AGGREGATED} WHERE app_name NOT LIKE '$ internal%' "
            f"LIMIT {ROW_LIMIT * 4}")
        cols = [c.name for c in cur.description or ()]
        return crdb_aggregated_poll(cols, await cur.fetchall(), t, wall,
                                    limit=ROW_LIMIT * 4)
    except psycopg.errors.UndefinedTable:
        pass
    cur = await conn.execute(f"SELECT * FROM {CRDB_NODE} LIMIT {ROW_LIMIT * 4}")
    cols = [c.name for c in cur.description or ()]
    return crdb_node_poll(cols, await cur.fetchall(), t, wall, limit=ROW_LIMIT * 4)


def _json(value: Any) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str | bytes):
        try:
            got = json.loads(value)
        except ValueError:
            return {}
        return got if isinstance(got, Mapping) else {}
    return {}


def _float(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return 0.0
    return out if math.isfinite(out) else 0.0


def _key(value: Any) -> str:
    """A fingerprint id (BYTES) as hex, anything else as text."""
    if isinstance(value, memoryview):
        value = bytes(value)
    return value.hex() if isinstance(value, bytes | bytearray) else str(value)


def crdb_aggregated_poll(cols: Sequence[str], rows: Sequence[Sequence[Any]], t: float,
                         wall: float, *, limit: int | None = None) -> StatementsPoll:
    """crdb_internal.statement_statistics (22.1+): one row per statement fingerprint, hour,
    transaction, plan, app and node; `statistics.statistics.cnt` calls and `svcLat.mean`
    seconds (service latency) in its JSON. Each row is a counter of its own (a part of the
    statement): it grows through its hour, and when the hour ages out it takes nothing away."""
    acc: dict[tuple[str, str], list[Any]] = {}
    for raw in rows:
        r = dict(zip(cols, raw, strict=False))
        if _not_the_apps(r.get("app_name")):
            continue
        stats = _json(r.get("statistics")).get("statistics") or {}
        if not isinstance(stats, Mapping):
            continue
        count = int(_float(stats.get("cnt")))
        lat = stats.get("svcLat")
        mean_s = _float(lat.get("mean")) if isinstance(lat, Mapping) else 0.0
        part = "|".join(_key(r.get(k)) for k in (
            "aggregated_ts", "transaction_fingerprint_id", "plan_hash", "app_name", "node_id"))
        _add(acc, _key(r.get("fingerprint_id")), part, count, count * mean_s * 1000.0,
             _json(r.get("metadata")).get("query"))
    return _crdb_poll(acc, CRDB_AGGREGATED, t, wall, len(rows), limit)


def crdb_node_poll(cols: Sequence[str], rows: Sequence[Sequence[Any]], t: float, wall: float,
                   *, limit: int | None = None) -> StatementsPoll:
    """crdb_internal.node_statement_statistics (before 22.1): this node's statements since
    their periodic reset, `count` and `service_lat_avg` (seconds), keyed by the statement id
    (else the fingerprint text `key`), one counter per node, application and flags."""
    acc: dict[tuple[str, str], list[Any]] = {}
    for raw in rows:
        r = dict(zip(cols, raw, strict=False))
        if _not_the_apps(r.get("application_name")):
            continue
        text = r.get("key")
        if text is None:
            continue
        count = int(_float(r.get("count")))
        part = "|".join(_key(r.get(k)) for k in ("node_id", "application_name", "flags"))
        # Without a statement id the fingerprint is the id: outside text, made safe and cut
        # like the query text it stands for (it reaches check's JSON and text).
        _add(acc, untrusted.line(str(r.get("statement_id") or text), 200), part, count,
             count * _float(r.get("service_lat_avg")) * 1000.0, text)
    return _crdb_poll(acc, CRDB_NODE, t, wall, len(rows), limit)


def _not_the_apps(app: Any) -> bool:
    """CockroachDB's own ('$ internal...') statements, or sbtop's."""
    name = str(app or "")
    return name.startswith("$ internal") or name in OWN_APPS


def _add(acc: dict[tuple[str, str], list[Any]], key: str, part: str, calls: int,
         total_ms: float, text: Any) -> None:
    entry = acc.setdefault((key, part), [0, 0.0, None])
    entry[0] += calls
    entry[1] += total_ms
    entry[2] = entry[2] or text


def _crdb_poll(acc: Mapping[tuple[str, str], list[Any]], source: str, t: float, wall: float,
               read: int, limit: int | None) -> StatementsPoll:
    return StatementsPoll(
        t, wall, source=source,
        rows=tuple(StatementCounters(k, one_line(v[2]), int(v[0]), float(v[1]), part=part)
                   for (k, part), v in acc.items()),
        capped=limit if limit is not None and read >= limit else None)
