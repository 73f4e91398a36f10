"""Benchmark: the Database panel's poll on a server with 200 open sessions, beside the queries
pg_activity runs for the same figures (activity, waiting, blocking), in the same run.

    pip install pg_activity   # the reference; its own SQL files are used, as it fills them
    python bench/db_poll.py [--sessions 200] [--polls 50]

A throwaway PostgreSQL cluster (max_connections 300) is started from the machine's binaries;
the sessions are a realistic mix: idle, idle in transaction, aborted, running, and a few waiting
on a lock. Figures, not pass/fail; the target is at most 20 ms per poll.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sbtop.sources.database import DatabaseSource, DbSettings
from tests.pg import Cluster


def open_sessions(dsn: str, n: int) -> tuple[list[psycopg.Connection[Any]], list[threading.Thread]]:
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE TABLE IF NOT EXISTS t (x int)")
    conns: list[psycopg.Connection[Any]] = []
    threads: list[threading.Thread] = []

    def background(conn: psycopg.Connection[Any], query: str) -> None:
        def run() -> None:
            with contextlib.suppress(psycopg.Error):
                conn.execute(query)

        t = threading.Thread(target=run, daemon=True)
        t.start()
        threads.append(t)

    locker = psycopg.connect(dsn, autocommit=False, application_name="locker")
    locker.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
    conns.append(locker)
    for i in range(n - 1):
        kind = i % 20
        c = psycopg.connect(dsn, autocommit=kind not in (1, 2, 3, 4),
                            application_name=f"app-{kind}")
        conns.append(c)
        if kind in (1, 2, 3):
            c.execute("SELECT 1")  # idle in transaction
        elif kind == 4:
            with contextlib.suppress(psycopg.Error):
                c.execute("SELECT 1/0")  # idle in transaction (aborted)
        elif kind in (5, 6):
            background(c, "SELECT pg_sleep(600)")  # running
        elif kind == 7 and i < 100:
            background(c, "SELECT * FROM t")  # waiting on the lock
    time.sleep(1.0)
    return conns, threads


def pg_activity_queries() -> list[sql.Composed]:
    from pgactivity import queries  # the reference's own SQL files

    out = []
    for name in ("get_pg_activity_post_130000", "get_waiting_post_090200",
                 "get_blocking_post_090600"):
        out.append(sql.SQL(queries.get(name)).format(
            dbname_filter=sql.Literal(None), duration_column=sql.Identifier("query_start"),
            min_duration=sql.Literal(0)))
    return out


def time_reference(dsn: str, polls: int) -> float:
    qs = pg_activity_queries()
    params = {"min_duration": 0, "dbname_filter": None}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for q in qs:
            conn.execute(q, params).fetchall()  # warm
        times = []
        for _ in range(polls):
            start = time.perf_counter()
            for q in qs:
                conn.execute(q, params).fetchall()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


async def time_sbtop(dsn: str, polls: int) -> tuple[float, int]:
    source = DatabaseSource(dsn, DbSettings())
    snap = await source.poll()
    assert snap.error is None, snap.error
    times = []
    for _ in range(polls):
        start = time.perf_counter()
        snap = await source.poll()
        times.append(time.perf_counter() - start)
    await source.close()
    return statistics.median(times), snap.total or 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--polls", type=int, default=50)
    args = ap.parse_args()
    cluster = Cluster(max_connections=args.sessions + 50)
    try:
        conns, _threads = open_sessions(cluster.dsn, args.sessions)
        ours, seen = asyncio.run(time_sbtop(cluster.dsn, args.polls))
        try:
            reference: float | None = time_reference(cluster.dsn, args.polls)
        except ImportError:
            reference = None
        print(f"{'poll':<46}{'median':>10}")
        print(f"{'sbtop (one query: every figure of the panel)':<46}{ours * 1000:>7.1f} ms")
        if reference is None:
            print("pg_activity: not installed (pip install pg_activity) - no reference")
        else:
            label = "pg_activity 3 (activity + waiting + blocking)"
            print(f"{label:<46}{reference * 1000:>7.1f} ms")
        print(f"client sessions seen by sbtop: {seen} (target: at most 20 ms per poll)")
        for c in conns:
            with contextlib.suppress(Exception):
                c.close()
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
