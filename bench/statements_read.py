"""Benchmark: one read of the statement statistics on a server holding many statements.

    python bench/statements_read.py [--statements 2000] [--reads 20]

A throwaway PostgreSQL cluster that preloads pg_stat_statements is started from the machine's
binaries; `--statements` distinct statements are run once each (different column lists, so
different queryids). Then: the first read (every statement's text is read once), the later
reads (counters only, `pg_stat_statements(false)`), and the engine's ranking of the window.
Figures, not pass/fail; reads happen every 10 s by default, sessions every tick.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sbtop.clock import ManualClock
from sbtop.engine.statements import StatementCounters, StatementsPoll, StatementsTracker
from sbtop.sources.database import DatabaseSource, DbSettings
from tests.pg import Cluster


def fill(dsn: str, n: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        cols = ", ".join(f"c{i} int" for i in range(64))
        c.execute(f"CREATE TABLE IF NOT EXISTS wide ({cols})")
        for i in range(n):
            # A different set of columns each: a different queryid each.
            picked = [f"c{j}" for j in range(64) if (i >> (j % 12)) & 1] or ["c0"]
            c.execute(f"SELECT {', '.join(picked)} FROM wide WHERE c{i % 64} = %s LIMIT {i}",
                      (i,))


async def measure(dsn: str, reads: int) -> tuple[float, list[float], float, int]:
    clock = ManualClock()
    source = DatabaseSource(dsn, DbSettings(statements_every_s=0.0), clock)
    tracker = StatementsTracker(60)
    await source.poll()
    first = await source.poll_statements()
    assert first is not None and first.unavailable is None, first
    tracker.observe(first)
    later = []
    rows = 0
    for _ in range(reads):
        clock.advance(10)
        got = await source.poll_statements()
        assert got is not None and got.elapsed_ms is not None
        later.append(got.elapsed_ms)
        rows = len(got.rows)
        tracker.observe(got)
    await source.close()
    return first.elapsed_ms or 0.0, later, engine_cost(), rows


def engine_cost(n: int = 5000, polls: int = 7) -> float:
    """The engine's part: `n` statements all moving, `polls` reads in the window, then the
    ranking (once per read; the ticks between reuse it): milliseconds per read."""
    tracker = StatementsTracker(60)
    started = time.perf_counter()
    for k in range(polls):
        tracker.observe(StatementsPoll(k * 10.0, k * 10.0, rows=tuple(
            StatementCounters(str(i), f"SELECT {i}", (k + 1) * (i + 1), (k + 1) * i * 0.5)
            for i in range(n)), reset_mark="r"))
        tracker.view(50.0, 5.0)
    return (time.perf_counter() - started) * 1000.0 / polls


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--statements", type=int, default=2000)
    ap.add_argument("--reads", type=int, default=20)
    args = ap.parse_args()
    cluster = Cluster(preload="pg_stat_statements")
    try:
        fill(cluster.dsn, args.statements)
        first, later, rank_ms, rows = asyncio.run(measure(cluster.dsn, args.reads))
    finally:
        cluster.stop()
    print(f"statements listed: {rows}")
    print(f"first read (texts included): {first:.1f} ms")
    print(f"later reads (counters only): median {statistics.median(later):.1f} ms, "
          f"max {max(later):.1f} ms over {len(later)}")
    print(f"the engine per read, 5000 statements all moving (differences, window, ranking): "
          f"{rank_ms:.1f} ms")


if __name__ == "__main__":
    main()
