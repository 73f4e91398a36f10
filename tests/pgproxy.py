"""A real TCP proxy in front of PostgreSQL for the fault tests: the database taken away and
brought back, or hung with its connections open."""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class Proxy:
    """A real TCP proxy in front of PostgreSQL, to take the database away and bring it back,
    or to stop answering while its connections stay open (`frozen`: a server or network that
    hangs; `freeze_on`: from the moment a client sends these bytes, e.g. a marker in a query's
    text, for a hang in the middle of a conversation)."""

    def __init__(self, target_port: int, freeze_on: bytes | None = None) -> None:
        self.target_port = target_port
        self.freeze_on = freeze_on
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._server: socket.socket | None = None
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self.frozen = threading.Event()

    def start(self) -> None:
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.port))
        srv.listen(8)
        srv.settimeout(0.2)
        self._server = srv
        self._stop.clear()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        assert self._server is not None
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._conns += [client, upstream]
            for a, b, up in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pipe, args=(a, b, up), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket, up: bool) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                if up and self.freeze_on is not None and self.freeze_on in data:
                    self.frozen.set()
                while self.frozen.is_set() and not self._stop.is_set():
                    time.sleep(0.01)
                b.sendall(data)
        with contextlib.suppress(OSError):
            b.shutdown(socket.SHUT_WR)

    def stop(self) -> None:
        self.frozen.clear()
        self._stop.set()
        if self._server is not None:
            self._thread.join(timeout=2)  # accept() holds the socket until it returns
            self._server.close()
        for c in self._conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
                c.close()
        self._conns = []
