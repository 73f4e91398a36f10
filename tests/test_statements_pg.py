"""pg_stat_statements on the real PostgreSQL: a throwaway cluster that preloads it (the
machine's server does not), a known workload, the differences, the mean and the N+1 hint;
and on the machine's own server, what is said when the extension is missing or not loaded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from sbtop.clock import ManualClock
from sbtop.engine.statements import StatementsPoll, StatementsTracker
from sbtop.sources.database import DatabaseSource, DbSettings
from tests import pg

pytestmark = pytest.mark.slow

ITEM = "SELECT v FROM items WHERE id = %s"
REQUESTS = 20
PER_REQUEST = 50


def statements(source: DatabaseSource) -> StatementsPoll:
    async def go() -> StatementsPoll:
        snap = await source.poll()
        assert snap.error is None, snap.error
        got = await source.poll_statements()
        assert got is not None
        return got
    return asyncio.run(go())


def source_for(dsn: str, clock: ManualClock) -> DatabaseSource:
    return DatabaseSource(dsn, DbSettings(statements_every_s=10), clock)


def run_requests(dsn: str) -> None:
    """The N+1 pattern: each 'request' asks for 50 items one by one, and once for a slow
    report (pg_sleep 20 ms)."""
    with psycopg.connect(dsn, autocommit=True) as c:
        for _ in range(REQUESTS):
            for i in range(PER_REQUEST):
                c.execute(ITEM, (i + 1,))
            c.execute("SELECT pg_sleep(0.02), count(*) FROM items")


def test_the_workload_shows_as_differences_with_its_mean_and_the_n_plus_one_hint(
        pgss_db: str) -> None:
    clock = ManualClock()
    source = source_for(pgss_db, clock)
    tracker = StatementsTracker(60)
    tracker.observe(statements(source))
    run_requests(pgss_db)
    clock.advance(10)
    second = statements(source)
    asyncio.run(source.close())
    assert second.unavailable is None and second.reset_mark is not None
    tracker.observe(second)
    # 20 requests in the 10 s the clock moved: 2 requests/s.
    v = tracker.view(REQUESTS / 10, 5.0)
    assert v.reason is None and v.window_s == 10
    item = next(s for s in v.by_calls if s.text and "FROM items WHERE id" in s.text)
    assert item.calls == REQUESTS * PER_REQUEST and item.calls_per_s == 100.0
    assert item.calls_per_request == PER_REQUEST
    assert v.hint == "50.0 calls per request: N+1?" and v.hint_id == item.id
    slow = v.by_mean[0]
    assert slow.text is not None and "pg_sleep" in slow.text
    assert slow.calls == REQUESTS and slow.mean_ms is not None and slow.mean_ms >= 20.0
    assert slow.total_ms_per_s == pytest.approx(slow.mean_ms * REQUESTS / 10)
    # sbtop's own queries are not the load it watches: none listed.
    assert not any(s.text and "sbtop" in s.text for s in v.by_total + v.by_calls)


def test_a_reset_between_reads_counts_from_the_reset(pgss_db: str) -> None:
    clock = ManualClock()
    source = source_for(pgss_db, clock)
    tracker = StatementsTracker(60)
    run_requests(pgss_db)
    tracker.observe(statements(source))
    with psycopg.connect(pgss_db, autocommit=True) as c:
        c.execute("SELECT pg_stat_statements_reset()")
        for i in range(7):
            c.execute(ITEM, (i + 1,))
    clock.advance(10)
    tracker.observe(statements(source))
    asyncio.run(source.close())
    v = tracker.view(None, 5.0)
    item = next(s for s in v.by_calls if s.text and "FROM items WHERE id" in s.text)
    assert item.calls == 7  # not 1007 - 1000, nor a negative rate
    assert any("reset" in n for n in v.notes)


def test_a_role_without_pg_read_all_stats_is_told_what_it_misses(pgss_server: str,
                                                                  pgss_db: str) -> None:
    role = "sbtop_t_pgss_plain"
    with psycopg.connect(pgss_server, autocommit=True) as admin:
        admin.execute(f"DROP ROLE IF EXISTS {role}")
        admin.execute(f"CREATE ROLE {role} LOGIN")
    run_requests(pgss_db)  # the superuser's statements: hidden from the plain role
    try:
        plain = psycopg.conninfo.make_conninfo(pgss_db, user=role)
        source = source_for(plain, ManualClock())
        got = statements(source)
        asyncio.run(source.close())
        assert got.unavailable is None and got.hidden >= 2
        tracker = StatementsTracker(60)
        tracker.observe(got)
        assert any("grant pg_read_all_stats" in n for n in tracker.view(None, 5.0).notes)
        with psycopg.connect(pgss_server, autocommit=True) as admin:
            admin.execute(f"GRANT pg_read_all_stats TO {role}")
        source = source_for(plain, ManualClock())
        assert statements(source).hidden == 0
        asyncio.run(source.close())
    finally:
        with psycopg.connect(pgss_server, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE usename = %s", (role,))
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE IF EXISTS {role}")


def _preloaded(dsn: str) -> bool:
    with psycopg.connect(dsn) as c:
        row = c.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
    return row is not None and "pg_stat_statements" in str(row[0])


def test_not_installed_says_how_to_enable_it_and_the_sessions_still_show(pg_db: str) -> None:
    if _preloaded(pg_db):
        pytest.skip("this server preloads pg_stat_statements")
    source = source_for(pg_db, ManualClock())
    got = statements(source)  # asserts the sessions poll worked
    asyncio.run(source.close())
    assert got.rows == () and got.unavailable is not None
    assert got.unavailable.startswith("pg_stat_statements is not installed")
    for words in ("shared_preload_libraries", "CREATE EXTENSION pg_stat_statements",
                  "pg_read_all_stats"):
        assert words in got.unavailable


def test_installed_but_not_preloaded_says_so(pg_db: str) -> None:
    if _preloaded(pg_db):
        pytest.skip("this server preloads pg_stat_statements")
    with psycopg.connect(pg_db, autocommit=True) as c:
        c.execute("CREATE EXTENSION pg_stat_statements")
    source = source_for(pg_db, ManualClock())
    got = statements(source)
    asyncio.run(source.close())
    assert got.unavailable == (
        "pg_stat_statements is installed but not loaded: add pg_stat_statements to "
        "shared_preload_libraries in postgresql.conf and restart PostgreSQL")


def test_statements_are_read_less_often_than_sessions(pgss_db: str) -> None:
    clock = ManualClock()
    source = source_for(pgss_db, clock)

    async def go() -> list[Any]:
        out = []
        for _ in range(4):
            await source.poll()
            out.append(await source.poll_statements())
            clock.advance(4)  # 0, 4, 8, 12: read at 0 and 12 (every 10 s)
        await source.close()
        return out

    got = asyncio.run(go())
    assert [g is not None for g in got] == [True, False, False, True]


def test_check_json_gives_the_statements_with_calls_per_request(pgss_db: str) -> None:
    from tests.cli import run_sbtop

    # The demo's requests, and a client of this database querying until the check is done.
    done = threading.Event()

    def client() -> None:
        with psycopg.connect(pgss_db, autocommit=True) as c:
            while not done.is_set():
                c.execute(ITEM, (1,))

    worker = threading.Thread(target=client, daemon=True)
    worker.start()
    try:
        r = run_sbtop("check", "--demo", "--window", "1", "--dsn", pgss_db, "--json")
    finally:
        done.set()
        worker.join()
    out = json.loads(r.stdout)
    st = out["statements"]
    assert st["source"] == "pg_stat_statements" and st["reason"] is None
    assert st["window_s"] is not None and st["window_s"] > 0
    top = st["top_total"][0]
    assert "FROM items WHERE id" in top["query"] and top["calls"] > 0
    assert top["calls_per_s"] > 0 and top["mean_ms"] > 0 and top["total_ms_per_s"] > 0
    requests = out["figures"]["requests_per_s"]["value"]
    assert requests and top["calls_per_request"] == pytest.approx(
        top["calls_per_s"] / requests, rel=0.01)
    # sbtop's own queries are left out.
    assert not any("sbtop" in (s["query"] or "") for s in st["top_total"] + st["top_mean"])


def test_check_json_says_why_there_are_no_statements(pg_db: str) -> None:
    from tests.cli import run_sbtop

    if _preloaded(pg_db):
        pytest.skip("this server preloads pg_stat_statements")
    r = run_sbtop("check", "--demo", "--window", "0.5", "--dsn", pg_db, "--json")
    out = json.loads(r.stdout)
    assert out["statements"]["reason"].startswith("pg_stat_statements is not installed")
    assert out["sources"]["db"]["up"] is True  # not an error of the database


def test_statement_text_with_control_characters_is_shown_escaped(pgss_db: str) -> None:
    clock = ManualClock()
    source = source_for(pgss_db, clock)
    tracker = StatementsTracker(60)
    tracker.observe(statements(source))
    with psycopg.connect(pgss_db, autocommit=True) as c:
        for i in range(3):
            # A comment is kept in the normalised text: a terminal title sequence in it.
            c.execute("SELECT v /* \x1b]0;owned\x07 [b]x[/b] */ FROM items WHERE id = %s",
                      (i + 1,))
    clock.advance(10)
    tracker.observe(statements(source))
    asyncio.run(source.close())
    (s,) = [s for s in tracker.view(None, 5.0).by_total if s.text and "owned" in s.text]
    assert "\x1b" not in s.text and "\x07" not in s.text
    assert s.calls == 3


def test_the_extension_before_postgresql_13_is_read_by_its_own_column_names(
        pgss_server: str) -> None:
    # Version 1.7 (PostgreSQL 12's): total_time, mean_time; no pg_stat_statements_info.
    with pg.fresh_database(pgss_server) as dsn:
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("CREATE EXTENSION pg_stat_statements VERSION '1.7'")
            cols = {r[0] for r in c.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = "
                "'pg_stat_statements'::regclass").fetchall()}
            assert "total_time" in cols and "total_exec_time" not in cols
            c.execute("CREATE TABLE items (id int PRIMARY KEY, v text)")
        clock = ManualClock()
        source = source_for(dsn, clock)
        tracker = StatementsTracker(60)
        first = statements(source)
        assert first.unavailable is None and first.reset_mark is None
        tracker.observe(first)
        with psycopg.connect(dsn, autocommit=True) as c:
            for i in range(12):
                c.execute(ITEM, (i,))
        clock.advance(10)
        tracker.observe(statements(source))
        asyncio.run(source.close())
        item = next(s for s in tracker.view(None, 5.0).by_calls
                    if s.text and "FROM items WHERE id" in s.text)
        assert item.calls == 12 and item.mean_ms is not None and item.mean_ms > 0


@contextlib.contextmanager
def ascii_database() -> Iterator[tuple[str, str]]:
    """(server, dsn): a SQL_ASCII database with the extension, on a cluster of its own (its
    statements' bytes stay in the server's table after the database is dropped, and break
    the text read of every UTF-8 database there: not the shared cluster's)."""
    cluster = pg.Cluster(preload="pg_stat_statements")
    try:
        name = "sbtop_t_ascii"
        with psycopg.connect(cluster.dsn, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' LC_COLLATE 'C' "
                          "LC_CTYPE 'C' TEMPLATE template0")
        dsn = pg.with_database(cluster.dsn, name)
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("CREATE EXTENSION pg_stat_statements")
        yield cluster.dsn, dsn
    finally:
        cluster.stop()


def test_a_sql_ascii_database_gives_its_statements_and_bytes_that_are_not_utf8_escaped(
        ) -> None:
    # A SQL_ASCII database stores any bytes, and psycopg hands its text back as bytes: the
    # extension's schema read as "b'public'" made every read fail ('schema "b'public'" does
    # not exist'), and the server's version was shown as "b'PostgreSQL ...'".
    with ascii_database() as (_, dsn):
        clock = ManualClock()
        source = source_for(dsn, clock)
        tracker = StatementsTracker(60)
        first = statements(source)
        assert first.unavailable is None
        tracker.observe(first)
        with psycopg.connect(dsn, autocommit=True) as c:
            for _ in range(3):
                c.execute(b"SELECT 1 /* caf\xc3\xa9 \xff\x1b[2J */")
            # The client's session stays, its last query in pg_stat_activity: the sessions
            # poll reads it too (it raised UnicodeDecodeError, out of a poll that never raises).
            clock.advance(10)
            snap = asyncio.run(source.poll())
            assert snap.error is None, snap.error
            tracker.observe(statements(source))
        assert source.version.startswith("PostgreSQL ")
        asyncio.run(source.close())
        (s,) = [s for s in tracker.view(None, 5.0).by_total if s.text and "caf" in s.text]
        # UTF-8 decoded where it is UTF-8, any other byte as U+FFFD, the escape shown, not
        # acted on.
        assert s.text == "SELECT $1 /* café \ufffd\\x1b[2J */" and s.calls == 3
        assert s.id.lstrip("-").isdigit()  # the queryid, not "b'-4213...'"


def test_another_databases_text_in_another_encoding_leaves_the_figures_and_says_why() -> None:
    # pg_stat_statements(true) converts every statement's text to this database's encoding,
    # whichever database it is of: one SQL_ASCII statement holding 0xff fails the text read
    # of every UTF-8 database on the server, and that failed the whole read.
    with ascii_database() as (server, ascii_dsn):
        with psycopg.connect(ascii_dsn, autocommit=True) as c:
            c.execute(b"SELECT 1 /* \xff */")
        with pg.fresh_database(server) as dsn:
            with psycopg.connect(dsn, autocommit=True) as c:
                c.execute("CREATE EXTENSION pg_stat_statements")
                c.execute("CREATE TABLE items (id int PRIMARY KEY, v text)")
            clock = ManualClock()
            source = source_for(dsn, clock)
            tracker = StatementsTracker(60)
            tracker.observe(statements(source))
            with psycopg.connect(dsn, autocommit=True) as c:
                for i in range(12):
                    c.execute(ITEM, (i,))
            clock.advance(10)
            got = statements(source)
            assert got.unavailable is None
            tracker.observe(got)
            v = tracker.view(None, 5.0)
            assert any(s.calls == 12 and s.text is None for s in v.by_calls)
            assert ('statement texts cannot be read: invalid byte sequence for encoding '
                    '"UTF8": 0xff (a statement of a database in another encoding; '
                    'pg_stat_statements_reset() clears it)') in v.notes
            # Cleared: the texts are read again, the note gone.
            with psycopg.connect(dsn, autocommit=True) as c:
                c.execute("SELECT pg_stat_statements_reset()")
                for i in range(12):
                    c.execute(ITEM, (i,))
            clock.advance(10)
            tracker.observe(statements(source))
            asyncio.run(source.close())
            v = tracker.view(None, 5.0)
            assert any(s.text == "SELECT v FROM items WHERE id = $1" for s in v.by_calls)
            assert not any("cannot be read" in n for n in v.notes)


def test_statements_dropped_at_pg_stat_statements_max_are_said_with_the_limit() -> None:
    # The least a server takes (100): 300 statements of different shapes between two reads
    # fill it, and it drops its least-run ones, counting each drop in pg_stat_statements_info.
    cluster = pg.Cluster(preload="pg_stat_statements",
                         settings={"pg_stat_statements.max": "100"})
    try:
        with pg.fresh_database(cluster.dsn) as dsn:
            with psycopg.connect(dsn, autocommit=True) as c:
                c.execute("CREATE EXTENSION pg_stat_statements")
                c.execute("CREATE TABLE items (id int PRIMARY KEY, v text)")
            clock = ManualClock()
            source = source_for(dsn, clock)
            tracker = StatementsTracker(60)
            tracker.observe(statements(source))
            with psycopg.connect(dsn, autocommit=True) as c:
                for k in range(300):
                    c.execute("SELECT " + "+".join(["id"] * (k + 1)) + " FROM items")
                for i in range(30):
                    c.execute(ITEM, (i,))
            clock.advance(10)
            got = statements(source)
            asyncio.run(source.close())
            assert got.max_statements == 100 and got.evictions
            tracker.observe(got)
            v = tracker.view(None, 5.0)
            (said,) = [n for n in v.notes if "pg_stat_statements.max" in n]
            assert said.startswith("the statements table was full (pg_stat_statements.max = "
                                   "100) and dropped its least-run statements ")
            assert not any("reset" in n for n in v.notes)
            item = next(s for s in v.by_calls if s.text and "FROM items WHERE id" in s.text)
            assert item.calls == 30
    finally:
        cluster.stop()


CREATE_ONLY = ("pg_stat_statements is not installed: run CREATE EXTENSION pg_stat_statements "
               "in this database (as a superuser); reading other roles' statements needs "
               "pg_read_all_stats")


def _unavailable_as(dsn: str, server: str, role: str | None) -> str | None:
    """What sbtop says of the statements on `dsn`, as a plain role (made and dropped here)
    or as the superuser."""
    if role is None:
        source = source_for(dsn, ManualClock())
        got = statements(source)
        asyncio.run(source.close())
        return got.unavailable
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"DROP ROLE IF EXISTS {role}")
        admin.execute(f"CREATE ROLE {role} LOGIN")
    try:
        source = source_for(psycopg.conninfo.make_conninfo(dsn, user=role), ManualClock())
        got = statements(source)
        asyncio.run(source.close())
        return got.unavailable
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE usename = %s", (role,))
            admin.execute(f"DROP ROLE IF EXISTS {role}")


def test_preloaded_but_not_created_asks_only_for_create_extension_whatever_the_role(
        pgss_server: str) -> None:
    # A server that loads the library: the one step left is CREATE EXTENSION. A role that
    # may not read shared_preload_libraries (it needs pg_read_all_settings) was told to add
    # it and restart PostgreSQL, a restart the server did not need.
    with pg.fresh_database(pgss_server) as dsn:
        assert _unavailable_as(dsn, pgss_server, None) == CREATE_ONLY
        assert _unavailable_as(dsn, pgss_server, "sbtop_t_pgss_noset") == CREATE_ONLY


def test_not_preloaded_tells_a_role_that_cannot_read_the_setting_to_add_it(
        pg_server: str, pg_db: str) -> None:
    if _preloaded(pg_db):
        pytest.skip("this server preloads pg_stat_statements")
    said = _unavailable_as(pg_db, pg_server, "sbtop_t_noset")
    assert said is not None and said.startswith(
        "pg_stat_statements is not installed: add pg_stat_statements to "
        "shared_preload_libraries in postgresql.conf and restart PostgreSQL, then run "
        "CREATE EXTENSION pg_stat_statements in this database")


def test_a_100_kb_statement_is_shown_on_one_line_with_its_real_length(pgss_db: str) -> None:
    # Newlines and escape sequences through 100 KB of a comment; sbtop reads the first 1,000
    # characters of a text, and said "… (449 more characters)" of what it had read, not of
    # the 100 KB the statement holds.
    clock = ManualClock()
    source = source_for(pgss_db, clock)
    tracker = StatementsTracker(60)
    tracker.observe(statements(source))
    big = "SELECT v /* " + "x\n\x1b[31m" * 15_000 + " */ FROM items WHERE id = %s"
    with psycopg.connect(pgss_db, autocommit=True) as c:
        for i in range(3):
            c.execute(big, (i + 1,))
        (stored,) = c.execute(
            "SELECT length(query) FROM pg_stat_statements WHERE query LIKE 'SELECT v /* x%' "
            "AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone() or (0,)
    clock.advance(10)
    tracker.observe(statements(source))
    asyncio.run(source.close())
    assert stored > 100_000
    (s,) = [s for s in tracker.view(None, 5.0).by_total if s.text and "x \\x1b" in s.text]
    assert s.calls == 3 and "\n" not in s.text and "\x1b" not in s.text
    assert s.text.startswith("SELECT v /* x \\x1b[31mx \\x1b[31mx")
    assert s.text.endswith(f"… ({stored:,} characters in all)")
