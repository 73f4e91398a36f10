from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests import pg


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Makes `xdist_group` hold on pytest 9.2: xdist (3.8) groups a worker's tests by a
    "@group" suffix it writes to item._nodeid, which pytest 9.2 no longer reads (the id is
    item._id, a NodeId). Without the suffix every grouped test was scheduled on its own: a
    group's module fixture (the long shift, the real Node stack) was built once a worker that
    drew one of its tests, two or three times a run. Runs after xdist's own hook, on the
    workers only (xdist sets `loadgroup` there), and does nothing where xdist's suffix took."""
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        names = {str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                 for m in item.iter_markers("xdist_group")}
        if not names:
            continue
        suffix = "@" + "_".join(sorted(names))  # xdist's own spelling of the group
        if item.nodeid.endswith(suffix) or not hasattr(item, "_id"):
            continue
        item._id = type(item._id).parse(item.nodeid + suffix)


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
