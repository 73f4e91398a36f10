from __future__ import annotations

from collections.abc import Iterator

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
