"""The test suite's real Prometheus starts even when its port is taken before it binds."""

from __future__ import annotations

import socket

import pytest

from tests import promserver


def test_a_prometheus_whose_port_was_taken_starts_on_another(monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = [taken.getsockname()[1]]
        free = promserver._port

        def first_the_taken_one() -> int:
            return ports.pop() if ports else free()

        monkeypatch.setattr(promserver, "_port", first_the_taken_one)
        server = promserver.PromServer(targets=[])
        try:
            assert server.port != taken.getsockname()[1]
            assert server.query("vector(1)")
        finally:
            server.stop()
