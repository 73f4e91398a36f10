"""The database source against a real PostgreSQL: real sessions in every state, a real lock
wait, sbtop's own connection killed, the database going away and coming back."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from sbtop.clock import ManualClock
from sbtop.engine.database import db_figures
from sbtop.engine.detail import Detail
from sbtop.engine.levels import Level
from sbtop.engine.observations import DbSnapshot
from sbtop.engine.settings import EngineSettings
from sbtop.sources.database import DatabaseSource, DbSettings, crdb_snapshot
from tests import pg
from tests.pgproxy import Proxy
from tests.servers import closed_port

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow


def poll(source: DatabaseSource) -> DbSnapshot:
    return asyncio.run(source.poll())


class Sessions:
    """Real client sessions in the states the runbook cares about."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.conns: list[psycopg.Connection[Any]] = []
        self.threads: list[threading.Thread] = []
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("CREATE TABLE IF NOT EXISTS t (x int)")

    def conn(self, name: str, autocommit: bool = True) -> psycopg.Connection[Any]:
        c = psycopg.connect(self.dsn, autocommit=autocommit, application_name=name)
        self.conns.append(c)
        return c

    def in_background(self, conn: psycopg.Connection[Any], query: str) -> None:
        def run() -> None:
            with contextlib.suppress(psycopg.Error):
                conn.execute(query)

        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.threads.append(t)

    def pid(self, conn: psycopg.Connection[Any]) -> int:
        return conn.info.backend_pid

    def close(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as admin:
            for c in self.conns:
                admin.execute("SELECT pg_terminate_backend(%s)", (c.info.backend_pid,))
        for c in self.conns:
            with contextlib.suppress(Exception):
                c.close()


@pytest.fixture
def sessions(pg_db: str) -> Iterator[Sessions]:
    s = Sessions(pg_db)
    try:
        yield s
    finally:
        s.close()


def settle(source: DatabaseSource, predicate: Any, timeout: float = 10.0) -> DbSnapshot:
    deadline = time.monotonic() + timeout
    snap = poll(source)
    while not predicate(snap) and time.monotonic() < deadline:
        time.sleep(0.1)
        snap = poll(source)
    return snap


def test_sessions_by_state_lock_waits_blocked_pairs_and_capacity(sessions: Sessions) -> None:
    s = sessions
    s.conn("idle")
    sleeper = s.conn("active")
    s.in_background(sleeper, "SELECT pg_sleep(60)")
    in_txn = s.conn("in-txn", autocommit=False)
    in_txn.execute("SELECT 1")
    aborted = s.conn("aborted", autocommit=False)
    with contextlib.suppress(psycopg.errors.DivisionByZero):
        aborted.execute("SELECT 1/0")
    locker = s.conn("locker", autocommit=False)
    locker.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
    waiter = s.conn("waiter")
    s.in_background(waiter, "SELECT * FROM t")

    source = DatabaseSource(s.dsn, DbSettings(only_database=True))
    snap = settle(source, lambda x: x.waiting == 1 and x.states.get("active") == 2)
    assert snap.error is None
    assert snap.states == {"active": 2, "idle": 1, "idle in transaction": 2,
                           "idle in transaction (aborted)": 1}
    assert snap.total == 6 and snap.waiting == 1
    assert snap.blocked == ((str(s.pid(waiter)), str(s.pid(locker))),)
    with psycopg.connect(s.dsn) as c:
        row = c.execute("SELECT current_setting('max_connections')::int - "
                        "current_setting('superuser_reserved_connections')::int - "
                        "coalesce(current_setting('reserved_connections', true), '0')::int"
                        ).fetchone()
    assert row is not None and snap.capacity == row[0]
    longest = {x.id: x for x in snap.longest}
    assert str(s.pid(sleeper)) in longest and longest[str(s.pid(sleeper))].query == (
        "SELECT pg_sleep(60)")
    # A running statement is a transaction too: the sleeper's, begun first, is the oldest.
    assert snap.oldest_xact is not None and snap.oldest_xact.id == str(s.pid(sleeper))
    figures = db_figures(snap, EngineSettings())
    sessions_figure = figures["db_sessions"]
    assert sessions_figure.value == 6
    assert sessions_figure.detail == Detail(active=2, idle=1, idle_in_transaction=2,
                                            idle_in_transaction_aborted=1, waiting=1)
    pct = figures["db_connections_pct"]
    assert pct.value == pytest.approx(100 * snap.pressure / snap.capacity)  # type: ignore[operator]
    assert pct.level is Level.OK
    asyncio.run(source.close())


def test_sbtops_own_session_is_left_out_and_named(pg_db: str) -> None:
    source = DatabaseSource(pg_db, DbSettings(only_database=True))
    snap = poll(source)
    assert snap.total == 0
    with psycopg.connect(pg_db) as c:
        row = c.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sbtop' "
                        "AND datname = current_database()"
                        ).fetchone()
        assert row is not None and row[0] == 1
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            asyncio.run(_write_through(source))
    asyncio.run(source.close())


async def _write_through(source: DatabaseSource) -> None:
    assert source._conn is not None
    await source._conn.execute("CREATE TABLE should_fail (x int)")


def test_a_killed_connection_is_reported_and_replaced(pg_db: str) -> None:
    source = DatabaseSource(pg_db, DbSettings(only_database=True))
    assert poll(source).error is None
    with psycopg.connect(pg_db, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = 'sbtop' AND datname = current_database()")
    broken = poll(source)
    assert broken.error is not None and broken.error.startswith("connection lost")
    again = poll(source)
    assert again.error is None and again.total == 0
    asyncio.run(source.close())


def test_a_slow_poll_is_cut_by_the_statement_timeout(pg_db: str) -> None:
    source = DatabaseSource(pg_db, DbSettings(statement_timeout_s=0.001))
    snap = poll(source)
    assert snap.error is not None and "statement_timeout" in snap.error
    asyncio.run(source.close())


def test_an_unreachable_database_is_down_with_the_reason_and_recovers(pg_db: str) -> None:
    info = psycopg.conninfo.conninfo_to_dict(pg_db)
    proxy = Proxy(int(info.get("port") or 5432))
    proxy.start()
    dsn = psycopg.conninfo.make_conninfo(pg_db, host="127.0.0.1", port=proxy.port)
    source = DatabaseSource(dsn, DbSettings(only_database=True, connect_timeout_s=2))
    try:
        assert poll(source).error is None
        proxy.stop()
        lost = poll(source)
        assert lost.error is not None
        refused = poll(source)
        assert refused.error is not None and "refused" in refused.error
        # The first reconnect is tried at once, then they back off.
        errors = [poll(source).error or "" for _ in range(3)]
        assert any("retrying in" in e for e in errors), errors
        proxy.start()
        back = settle(source, lambda x: x.error is None, timeout=15)
        assert back.error is None and back.total == 0
    finally:
        proxy.stop()
        asyncio.run(source.close())


def test_sessions_this_role_may_not_see_are_counted_and_said(pg_db: str, pg_server: str) -> None:
    role = "sbtop_t_plain"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f"DROP ROLE IF EXISTS {role}")
        admin.execute(f"CREATE ROLE {role} LOGIN")
    other = psycopg.connect(pg_db, autocommit=True)  # a superuser's session, in the database
    try:
        plain = psycopg.conninfo.make_conninfo(pg_db, user=role)
        source = DatabaseSource(plain, DbSettings(only_database=True))
        snap = poll(source)
        assert snap.error is None
        assert snap.total == 1 and snap.hidden == 1
        assert sum(snap.states.values()) == 0
        asyncio.run(source.close())
    finally:
        other.close()
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE usename = %s", (role,))
            time.sleep(0.2)
            admin.execute(f"DROP ROLE IF EXISTS {role}")


def test_cancel_stops_the_running_query(sessions: Sessions) -> None:
    sleeper = sessions.conn("active")
    outcome: list[str] = []

    def run() -> None:
        try:
            sleeper.execute("SELECT pg_sleep(60)")
            outcome.append("finished")
        except psycopg.errors.QueryCanceled:
            outcome.append("canceled")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    source = DatabaseSource(sessions.dsn, DbSettings(only_database=True))
    snap = settle(source, lambda x: any(s.query == "SELECT pg_sleep(60)" for s in x.longest))
    target = next(s for s in snap.longest if s.query == "SELECT pg_sleep(60)")
    result = asyncio.run(source.cancel(target))
    thread.join(timeout=10)
    assert result == f"cancel sent to pid {sessions.pid(sleeper)}"
    assert outcome == ["canceled"]
    asyncio.run(source.close())


def test_a_throwaway_cluster_serves_when_no_server_is_given() -> None:
    cluster = pg.Cluster(max_connections=20)
    try:
        snap = poll(DatabaseSource(cluster.dsn))
        assert snap.error is None and snap.capacity == 17  # 20 - 3 reserved for superusers
    finally:
        cluster.stop()


# --- CockroachDB: no server can run here; its SQL is covered by rows shaped like its own ---

OLD_SESSION_COLS = ["node_id", "session_id", "user_name", "client_address", "application_name",
                    "active_queries", "last_active_query", "session_start",
                    "oldest_query_start", "kv_txn", "alloc_bytes", "max_alloc_bytes"]
NEW_SESSION_COLS = ["node_id", "session_id", "user_name", "client_address", "application_name",
                    "active_queries", "last_active_query", "num_txns_executed",
                    "session_start", "active_query_start", "kv_txn", "alloc_bytes",
                    "max_alloc_bytes", "status", "session_end"]
QUERY_COLS = ["query_id", "txn_id", "node_id", "session_id", "user_name", "start", "query",
              "client_address", "application_name", "distributed", "phase", "full_scan"]


def _old_row(node: int, sid: str, app: str, active: str, txn: str | None) -> list[Any]:
    return [node, sid, "app", "10.0.0.1:5000", app, active, "SELECT 1", None, None, txn, 0, 0]


def _new_row(node: int, sid: str, app: str, active: str, txn: str | None,
             status: str = "ACTIVE") -> list[Any]:
    return [node, sid, "app", "10.0.0.1:5000", app, active, "SELECT 1", 3, None, None, txn, 0,
            0, status, None]


@pytest.mark.parametrize(("cols", "row"), [(OLD_SESSION_COLS, _old_row),
                                           (NEW_SESSION_COLS, _new_row)])
def test_cockroachdb_sessions_map_by_column_name_in_both_versions(cols: list[str],
                                                                  row: Any) -> None:
    sessions = [
        row(1, "s-active", "studybuddy", "SELECT * FROM tasks", "txn-1"),
        row(1, "s-idle", "studybuddy", "", None),
        row(2, "s-txn", "studybuddy", "", "txn-2"),
        row(2, "s-internal", "$ internal-gc", "", None),
        row(1, "s-me", "sbtop", "SHOW SESSIONS", None),
    ]
    queries = [["q1", "txn-1", 1, "s-active", "app", None, "SELECT *\n  FROM tasks", "10.0.0.1",
                "studybuddy", False, "executing", True]]
    snap = crdb_snapshot(cols, sessions, QUERY_COLS, queries, "s-me", 2, 0.0, 0.0)
    assert snap.kind == "cockroachdb"
    assert snap.states == {"active": 1, "idle": 1, "idle in transaction": 1,
                           "idle in transaction (aborted)": 0}
    assert snap.total == 3 and snap.waiting is None
    assert snap.pressure == 2 and snap.capacity == 2  # busiest node against the per-node limit
    assert snap.longest[0].cancel_id == "q1" and snap.longest[0].query == "SELECT * FROM tasks"
    figures = db_figures(snap, EngineSettings())
    assert figures["db_connections_pct"].value == 100.0
    assert figures["db_connections_pct"].level is Level.CRITICAL


def test_cockroachdb_without_a_connection_limit_judges_nothing_but_says_why() -> None:
    snap = crdb_snapshot(NEW_SESSION_COLS, [_new_row(1, "a", "app", "", None)], QUERY_COLS, [],
                         "", -1, 0.0, 0.0)
    figures = db_figures(snap, EngineSettings())
    pct = figures["db_connections_pct"]
    assert pct.value is None and not pct.judged and "unlimited" in (pct.reason or "")
    with_pool = db_figures(snap, EngineSettings(db_pool_size=10))
    assert with_pool["db_pool_pct"].value == 10.0


def test_closed_cockroachdb_sessions_are_not_counted() -> None:
    rows = [_new_row(1, "a", "app", "", None, status="CLOSED"), _new_row(1, "b", "app", "", None)]
    assert crdb_snapshot(NEW_SESSION_COLS, rows, QUERY_COLS, [], "", 100, 0, 0).total == 1


def test_check_reports_the_database_figures_and_its_source(pg_db: str) -> None:
    import json

    from tests.cli import run_sbtop

    r = run_sbtop("check", "--demo", "--window", "1", "--dsn", pg_db, "--json")
    out = json.loads(r.stdout)
    sessions = out["figures"]["db_sessions"]
    assert set(sessions) >= {"value", "level", "active", "idle", "idle_in_transaction",
                             "idle_in_transaction_aborted", "waiting"}
    assert out["figures"]["db_connections_pct"]["warning"] == 80
    assert out["sources"]["db"]["up"] is True and out["sources"]["db"]["kind"] == "postgresql"
    down = run_sbtop("check", "--demo", "--window", "0.5", "--json", "--dsn",
                     "postgresql://postgres@127.0.0.1:1/postgres")
    out = json.loads(down.stdout)
    assert down.returncode == 3, down.stdout  # the worst level decides: say which it was
    assert out["sources"]["db"]["up"] is False
    assert "refused" in out["sources"]["db"]["error"]
    assert out["figures"]["db_sessions"]["value"] is None


def test_the_dsn_password_never_appears_in_output(pg_db: str) -> None:
    from tests.cli import run_sbtop

    secret = "hunter2-s3cret"
    dsn = psycopg.conninfo.make_conninfo(pg_db, password=secret, port=1)
    r = run_sbtop("check", "--demo", "--window", "0.3", "--json", "--dsn", dsn)
    assert secret not in r.stdout and secret not in r.stderr


# --- regressions from a review ----------------------------------------------------------------


def test_a_password_quoted_by_libpq_is_scrubbed_from_the_error() -> None:
    for dsn in ("postgresql://u:Hunter2%ZZpw@127.0.0.1:1/db",
                "host=127.0.0.1 port=1 password='Hunter2 pw' user=u"):
        snap = poll(DatabaseSource(dsn))
        assert snap.error is not None and "Hunter2" not in snap.error


def test_a_password_with_a_control_character_is_scrubbed_before_it_is_escaped() -> None:
    # libpq quotes the bad port, which here is the password itself: escaped first (the tab
    # shown as \t), the password would no longer match the scrub and would be shown.
    dsn = "host=127.0.0.1 port='Hunter2\tpw' password='Hunter2\tpw' dbname=x"
    snap = poll(DatabaseSource(dsn))
    assert snap.error is not None and "Hunter2" not in snap.error and "***" in snap.error


def test_a_database_that_never_answers_does_not_hold_the_poll() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)  # accepts, never speaks
        port = silent.getsockname()[1]
        source = DatabaseSource(f"postgresql://postgres@127.0.0.1:{port}/postgres",
                                DbSettings(connect_timeout_s=1, statement_timeout_s=0.5))
        started = time.monotonic()
        snap = poll(source)
        assert snap.error is not None and time.monotonic() - started < 5


def test_cancel_stops_only_the_confirmed_query(sessions: Sessions) -> None:
    import dataclasses as dc

    idle_txn = sessions.conn("in-txn", autocommit=False)
    idle_txn.execute("SELECT 1")
    source = DatabaseSource(sessions.dsn, DbSettings(only_database=True))
    snap = settle(source, lambda x: any(s.state == "idle in transaction" for s in x.longest))
    waiting = next(s for s in snap.longest if s.state == "idle in transaction")
    assert asyncio.run(source.cancel(waiting)).startswith("not cancelled: nothing runs")
    stale = dc.replace(waiting, state="active", query_start="2001-01-01 00:00:00+00")
    assert "no longer runs that query" in asyncio.run(source.cancel(stale))
    asyncio.run(source.close())


def test_cockroachdb_times_are_utc_and_the_oldest_transaction_comes_from_its_table() -> None:
    import datetime as dt

    now = dt.datetime(2026, 11, 30, 12, 0, 0)  # naive, as CockroachDB's TIMESTAMP columns
    wall = now.replace(tzinfo=dt.UTC).timestamp()
    sessions = [_new_row(1, "s-run", "app", "SELECT 1", "t1"),
                _new_row(1, "s-iit", "app", "", "t2")]
    queries = [
        ["q-null", "t1", 1, "s-run", "app", None, "SELECT 2", "c", "app", False, "preparing",
         False],
        ["q-run", "t1", 1, "s-run", "app", now - dt.timedelta(seconds=60), "SELECT 1", "c",
         "app", False, "executing", False],
    ]
    txn_cols = ["id", "node_id", "session_id", "start", "txn_string", "application_name"]
    txns = [["t1", 1, "s-run", now - dt.timedelta(seconds=60), "", "app"],
            ["t2", 1, "s-iit", now - dt.timedelta(seconds=7200), "", "app"]]
    snap = crdb_snapshot(NEW_SESSION_COLS, sessions, QUERY_COLS, queries, "", 100, 0.0, wall,
                         txn_cols=txn_cols, txns=txns)
    assert [(q.cancel_id, q.duration_s) for q in snap.longest] == [("q-run", 60.0),
                                                                   ("q-null", None)]
    assert snap.oldest_xact is not None and snap.oldest_xact.id == "s-iit"
    assert snap.oldest_xact.duration_s == 7200.0


def test_sessions_in_other_states_are_counted_not_lost() -> None:
    from sbtop.sources.database import pg_snapshot

    snap = pg_snapshot({"states": {"active": 1, "fastpath function call": 1, "disabled": 1},
                        "total": 3, "server_total": 3, "waiting": 0, "pool": 3,
                        "max_connections": 100, "superuser_reserved": 3}, 0.0, 0.0)
    assert sum(snap.states.values()) == snap.total == 3
    assert db_figures(snap, EngineSettings())["db_sessions"].detail.other == 2


# --- faults the database throws (issue 8) -----------------------------------------------------


def test_a_role_denied_connect_is_down_saying_so_and_recovers_when_granted(pg_db: str) -> None:
    info = psycopg.conninfo.conninfo_to_dict(pg_db)
    db = str(info["dbname"])
    role = f"sbtop_denied_{int(time.time() * 1000) % 10**8}"
    with psycopg.connect(pg_db, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        admin.execute(f'REVOKE CONNECT ON DATABASE "{db}" FROM PUBLIC')
    source = DatabaseSource(psycopg.conninfo.make_conninfo(pg_db, user=role),
                            DbSettings(only_database=True))
    try:
        denied = poll(source)
        assert denied.error is not None and "permission denied for database" in denied.error
        with psycopg.connect(pg_db, autocommit=True) as admin:
            admin.execute(f'GRANT CONNECT ON DATABASE "{db}" TO "{role}"')
        back = settle(source, lambda x: x.error is None, timeout=15)
        assert back.error is None  # by itself, at the next retry
    finally:
        asyncio.run(source.close())
        with psycopg.connect(pg_db, autocommit=True) as admin:
            admin.execute(f'GRANT CONNECT ON DATABASE "{db}" TO PUBLIC')
            admin.execute(f'REVOKE ALL ON DATABASE "{db}" FROM "{role}"')
            admin.execute(f'DROP OWNED BY "{role}"')
            admin.execute(f'DROP ROLE "{role}"')


def test_a_cockroachdb_style_retry_error_mid_poll_is_said_and_the_next_poll_works(
        pg_db: str) -> None:
    """CockroachDB answers contention with SQLSTATE 40001 ("restart transaction"). A real
    PostgreSQL raises exactly that here: a view earlier on the search path stands in for
    pg_stat_activity and raises it while a switch is on."""
    with psycopg.connect(pg_db, autocommit=True) as admin:
        admin.execute("CREATE SCHEMA chaos")
        admin.execute("CREATE TABLE chaos.switch (fail boolean)")
        admin.execute("INSERT INTO chaos.switch VALUES (true)")
        admin.execute("""
            CREATE FUNCTION chaos.maybe_fail() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
            BEGIN
              IF (SELECT fail FROM chaos.switch) THEN
                RAISE EXCEPTION 'restart transaction: TransactionRetryWithProtoRefreshError: '
                  'ReadWithinUncertaintyIntervalError' USING ERRCODE = '40001';
              END IF;
              RETURN true;
            END $$""")
        admin.execute("CREATE VIEW chaos.pg_stat_activity AS SELECT * FROM "
                      "pg_catalog.pg_stat_activity WHERE chaos.maybe_fail()")
    dsn = psycopg.conninfo.make_conninfo(pg_db, options="-c search_path=chaos,pg_catalog")
    source = DatabaseSource(dsn, DbSettings(only_database=True))
    try:
        failed = poll(source)
        assert failed.error is not None and "restart transaction" in failed.error
        assert failed.total is None  # no count passed off from a failed poll
        with psycopg.connect(pg_db, autocommit=True) as admin:
            admin.execute("UPDATE chaos.switch SET fail = false")
        ok = poll(source)
        assert ok.error is None and ok.total is not None
    finally:
        asyncio.run(source.close())


def test_reconnects_back_off_on_the_sources_clock() -> None:
    """The backoff reads the injected clock: moved by hand, the retries come exactly when it
    says, without a second of real time (the real clock would still be inside the backoff)."""
    clock = ManualClock()
    source = DatabaseSource(f"postgresql://postgres@127.0.0.1:{closed_port()}/postgres",
                            DbSettings(connect_timeout_s=1, max_backoff_s=30), clock=clock)

    def tried() -> bool:
        """One poll: True when it tried to connect, False when it waited out the backoff."""
        snap = poll(source)
        assert snap.error is not None and snap.t == clock.t
        return "retrying in" not in snap.error

    assert tried() and tried()  # the first retry comes at once: a restart is often quick
    for delay in (1, 2, 4, 8, 16, 30, 30):  # then 1, 2, 4 ... s, at most max_backoff_s
        snap = poll(source)
        assert snap.error is not None and f"(retrying in {delay} s)" in snap.error
        assert "refused" in snap.error  # the last attempt's reason, still said
        clock.advance(delay - 0.25)
        assert not tried()
        clock.advance(0.25)
        assert tried()


def test_a_database_that_stops_answering_holds_neither_poll_past_its_bound(
        pgss_db: str) -> None:
    # The connection stays open and nothing comes back (a hung server, a dead network path).
    # On the timeout psycopg tries to cancel the query on the server, and waits for that, up
    # to 5 s and 5 s more: each poll took its bound + 10 s (13 s for a 3 s bound), the tick
    # with it. Now the connection is closed at the bound (and made again on the next poll).
    info = psycopg.conninfo.conninfo_to_dict(pgss_db)
    proxy = Proxy(int(info.get("port") or 5432))
    proxy.start()
    dsn = psycopg.conninfo.make_conninfo(pgss_db, host="127.0.0.1", port=proxy.port)
    clock = ManualClock()
    settings = DbSettings(statements_every_s=10, statement_timeout_s=0.5, connect_timeout_s=1)
    source = DatabaseSource(dsn, settings, clock)
    slack = 6.0  # scheduling on a busy machine; well under the 10 s the defect added

    async def go() -> None:
        assert (await source.poll()).error is None
        first = await source.poll_statements()
        assert first is not None and first.unavailable is None
        # The sessions poll: bound 1 + 0.5 + 1 s.
        proxy.frozen.set()
        clock.advance(10)
        started = time.monotonic()
        snap = await source.poll()
        took = time.monotonic() - started
        assert snap.error == "no answer within 2.5 s (the connection is dropped)"
        assert took < 2.5 + slack, took
        proxy.frozen.clear()
        clock.advance(60)  # past the reconnect's back-off
        assert (await source.poll()).error is None
        # The statement statistics, after a good sessions poll: bound 2 x 0.5 + 1 s.
        proxy.frozen.set()
        started = time.monotonic()
        got = await source.poll_statements()
        took = time.monotonic() - started
        assert got is not None and got.unavailable == (
            "statement statistics: no answer within 2 s (the connection is dropped)")
        assert took < 2.0 + slack, took
        proxy.frozen.clear()
        clock.advance(60)
        assert (await source.poll()).error is None
        again = await source.poll_statements()
        assert again is not None and again.unavailable is None
        await source.close()

    try:
        asyncio.run(go())
    finally:
        proxy.stop()
