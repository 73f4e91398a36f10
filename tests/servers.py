"""Real HTTP servers on loopback for tests: crafted answers and misbehaviour, per path."""

from __future__ import annotations

import contextlib
import gzip
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


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
                server.requests.append({"path": self.path, "headers": dict(self.headers),
                                        "method": self.command, "body": body})
                answer = server.routes.get(self.path.split("?")[0], Answer(404, b"not found"))
                server.respond(self, answer)

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

    def respond(self, h: BaseHTTPRequestHandler, a: Answer) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self._respond(h, a)

    def _respond(self, h: BaseHTTPRequestHandler, a: Answer) -> None:
        if a.hang:
            self._stop.wait(60)
            return
        if a.delay_s:
            time.sleep(a.delay_s)
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
            return
        length = a.declared_length if a.declared_length is not None else len(body)
        h.send_header("Content-Length", str(length))
        h.end_headers()
        if a.trickle_s:
            for i in range(len(body)):
                if self._stop.wait(a.trickle_s):
                    return
                h.wfile.write(body[i:i + 1])
                h.wfile.flush()
            return
        h.wfile.write(body)
        if a.declared_length is not None:
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False
