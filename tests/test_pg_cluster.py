"""The tests' throwaway PostgreSQL starts even when its port is taken before it binds."""

from __future__ import annotations

import socket

import psycopg
import pytest

from tests import pg


def test_a_cluster_whose_port_was_taken_starts_on_another(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = [taken.getsockname()[1]]
        free = pg._free_port

        def first_the_taken_one() -> int:
            return ports.pop() if ports else free()

        monkeypatch.setattr(pg, "_free_port", first_the_taken_one)
        cluster = pg.Cluster(max_connections=5)
        try:
            assert cluster.port != taken.getsockname()[1]
            with psycopg.connect(cluster.dsn) as c:
                assert c.execute("SELECT 1").fetchone() == (1,)
        finally:
            cluster.stop()
