"""Real HTTP servers on loopback for tests: crafted answers and misbehaviour, per path.

Each request is logged with what the server saw of it, on the server's own clock: when it
arrived, when the server was done with it (its answer sent, or the client gone), how many body
bytes went out and whether the client hung up first. A test of a deadline asserts on that (the
client left before the last byte; it held the connection about as long as its deadline) rather
than on its own wall time around a call, which would count Python's start-up and the machine's
load."""

from __future__ import annotations

import contextlib
import gzip
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.waiting import wait_for


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; version=0.0.4"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    gzip: bool = False
    # Misbehaviour:
    trickle_s: float = 0.0  # send the body a byte at a time, this long between bytes
    hang: bool = False  # accept, read the request, never answer
    declared_length: int | None = None  # lie about Content-Length (truncation)
    endless: bool = False  # a body that never ends (chunked)
    redirect_to: str | None = None
    require_cookie: str | None = None  # "name=value" that must be sent, else 401
    # Pages that change: the n-th request gets bodies[n] (the last one from then on).
    bodies: list[bytes] | None = None
    served: int = 0


class LoopbackServer:
    def __init__(self, routes: dict[str, Answer] | None = None,
                 tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Answer] = routes or {}
        self.requests: list[dict[str, Any]] = []
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                arrived = time.monotonic()
                record: dict[str, Any] = {"path": self.path, "headers": dict(self.headers),
                                          "method": self.command, "body": body, "at": arrived,
                                          "replied": None, "ended": None, "sent": 0,
                                          "complete": False, "hung_up": False}
                server.requests.append(record)
                answer = server.routes.get(self.path.split("?")[0], Answer(404, b"not found"))
                server.respond(self, answer, record)

            do_POST = do_GET
            do_PUT = do_GET

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the default 5 drops bursts of concurrent connections

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def respond(self, h: BaseHTTPRequestHandler, a: Answer, record: dict[str, Any]) -> None:
        try:
            self._respond(h, a, record)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            record["hung_up"] = True  # a write failed: the client has gone
        finally:
            record["ended"] = time.monotonic()

    def _held(self, h: BaseHTTPRequestHandler, seconds: float, record: dict[str, Any]) -> bool:
        """Waits up to seconds, watching the client: whether to go on answering (not when the
        client hung up meanwhile, which the record says, nor when the server is stopping)."""
        deadline = time.monotonic() + seconds
        while True:
            if self._stop.wait(min(0.02, max(0.0, deadline - time.monotonic()))):
                return False
            if _peer_gone(h.connection):
                record["hung_up"] = True
                return False
            if time.monotonic() >= deadline:
                return True

    def _respond(self, h: BaseHTTPRequestHandler, a: Answer, record: dict[str, Any]) -> None:
        if a.hang:
            self._held(h, 60, record)
            return
        if a.delay_s and not self._held(h, a.delay_s, record):
            return
        record["replied"] = time.monotonic()  # the answer starts: the client may go on
        if a.require_cookie and a.require_cookie not in (h.headers.get("Cookie") or ""):
            h.send_response(401)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if a.redirect_to is not None:
            h.send_response(302)
            h.send_header("Location", a.redirect_to)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        body = a.body
        if a.bodies:
            body = a.bodies[min(a.served, len(a.bodies) - 1)]
            a.served += 1
        body = gzip.compress(body) if a.gzip else body
        h.send_response(a.status)
        h.send_header("Content-Type", a.content_type)
        for k, v in a.headers.items():
            h.send_header(k, v)
        if a.gzip:
            h.send_header("Content-Encoding", "gzip")
        if a.endless:
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            chunk = b"filler_metric 1\n" * 4096
            while not self._stop.is_set():
                h.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                record["sent"] += len(chunk)
            return
        length = a.declared_length if a.declared_length is not None else len(body)
        h.send_header("Content-Length", str(length))
        h.end_headers()
        if a.trickle_s:
            for i in range(len(body)):
                if not self._held(h, a.trickle_s, record):
                    return
                h.wfile.write(body[i:i + 1])
                h.wfile.flush()
                record["sent"] += 1
            record["complete"] = True
            return
        h.wfile.write(body)
        record["sent"], record["complete"] = len(body), a.declared_length is None
        if a.declared_length is not None:
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)

    def settled(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The requests logged, once the server is done with every one (a client that has
        exited is seen gone within a few polls)."""
        assert wait_for(lambda: all(r["ended"] is not None for r in self.requests), timeout), \
            [(r["path"], r["ended"]) for r in self.requests]
        return list(self.requests)

    def held_s(self, timeout: float = 10.0) -> float:
        """The longest any request was held, arrival to end, on the server's clock."""
        return max((r["ended"] - r["at"] for r in self.settled(timeout)), default=0.0)

    def assert_cut_off(self, deadline_s: float, slack_s: float = 2.0) -> None:
        """Every request so far was left by the client before its answer was complete, within
        about deadline_s of its arrival, on the server's clock (no start-up counted; the slack
        is for a busy machine, and far below what the answers given here take in full); then
        the log is cleared for the next call."""
        done = self.settled()
        self.requests.clear()
        assert done, "no request came"
        for req in done:
            held = req["ended"] - req["at"]
            said = (f"{req['method']} {req['path'][:60]}: {req['sent']} bytes sent in {held:.1f} s"
                    f", complete: {req['complete']}, client hung up: {req['hung_up']}")
            assert req["hung_up"] and not req["complete"], said
            assert held < deadline_s + slack_s, said

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        # At once, not at serve_forever's next poll (up to 0.5 s): sbtop.demo.server says how.
        with contextlib.suppress(OSError):
            self.httpd.socket.shutdown(socket.SHUT_RD)
        self.httpd.shutdown()
        self.httpd.server_close()


def _peer_gone(sock: socket.socket) -> bool:
    """Whether the client has closed its end (readable, and nothing left to read)."""
    try:
        readable, _w, _x = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except ValueError:  # a TLS socket takes no flags: not watched
        return False
    except OSError:
        return True


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port
