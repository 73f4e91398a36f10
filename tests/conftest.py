from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests import pg


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    with pg.server_dsn() as dsn:
        yield dsn


@pytest.fixture
def pg_db(pg_server: str) -> Iterator[str]:
    with pg.fresh_database(pg_server) as dsn:
        yield dsn


@pytest.fixture(scope="session")
def pgss_server() -> Iterator[str]:
    """A cluster of its own with shared_preload_libraries = 'pg_stat_statements' (started
    once; as an unprivileged user when the tests run as root)."""
    cluster = pg.Cluster(preload="pg_stat_statements")
    try:
        yield cluster.dsn
    finally:
        cluster.stop()


@pytest.fixture
def pgss_db(pgss_server: str) -> Iterator[str]:
    """A database of its own with the extension created and a small table."""
    with pg.fresh_database(pgss_server) as dsn:
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("CREATE EXTENSION pg_stat_statements")
            c.execute("CREATE TABLE items (id int PRIMARY KEY, v text)")
            c.execute("INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 100) g")
        yield dsn
