"""The tests' own servers (a real Prometheus, a throwaway PostgreSQL) ask the system for a free
port and release it before the server binds it: another worker's server may take it in
between. Each start that finds its port taken tries again on another."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from types import ModuleType

import psycopg
import pytest

from tests import pg, promserver


@contextlib.contextmanager
def first_port_taken(monkeypatch: pytest.MonkeyPatch, module: ModuleType, name: str
                     ) -> Iterator[int]:
    """`module.name()`, the free-port finder, gives a port something listens on first."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port: int = taken.getsockname()[1]
        ports = [port]
        free = getattr(module, name)
        monkeypatch.setattr(module, name, lambda: ports.pop() if ports else free())
        yield port


def test_a_prometheus_whose_port_was_taken_starts_on_another(monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    with first_port_taken(monkeypatch, promserver, "_port") as taken:
        server = promserver.PromServer(targets=[])
        try:
            assert server.port != taken
            assert server.query("vector(1)")
        finally:
            server.stop()


def test_a_postgresql_whose_port_was_taken_starts_on_another(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    with first_port_taken(monkeypatch, pg, "_free_port") as taken:
        cluster = pg.Cluster(max_connections=5)
        try:
            assert cluster.port != taken
            with psycopg.connect(cluster.dsn) as c:
                assert c.execute("SELECT 1").fetchone() == (1,)
        finally:
            cluster.stop()
