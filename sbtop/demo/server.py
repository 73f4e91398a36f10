"""The simulated backend's HTTP side: the server on loopback and the routes it answers.

    GET  /metrics                   the classic text format, or OpenMetrics when asked for it
                                    (gzip when accepted)
    GET  /api/health                the JSON an Express health route gives
    GET  /__sbtop/control           the knobs, as JSON
    POST /__sbtop/control           set knobs from a JSON object ({"error_rate": 0.08})
    POST /__sbtop/control/restart   counters reset, sockets drop, the start time moves
         /v1/...                    Render's API (render_api.py)
    GET  /__sbtop/status/<page>/api/v2/summary.json
                                    a provider's status page, Statuspage-shaped
                                    (status_pages.py: render, vercel)
         anything else              StudyBuddy's own routes (app_api.py), else 404

The handler only routes and encodes: what is answered comes from the SimulatedBackend."""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sbtop.demo.backend import SimulatedBackend

TEXT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
CONTROL_PATH = "/__sbtop/control"


class Server(ThreadingHTTPServer):
    # The default backlog of 5 drops connections when a checklist's probes, a scrape and a
    # health probe arrive at once; each dropped SYN costs a second's retransmit.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gives up mid-answer (sbtop drops a 503's body unread) resets the
        # connection; the standard handler prints a traceback, which in `sbtop demo` lands
        # on the console's own screen.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def shutdown(self) -> None:
        # serve_forever sees the shutdown request only when its select() returns: on a
        # connection, or every poll interval (0.5 s), which every stop (the demo's quit, each
        # test's backend) waited out. A listening socket shut for reading is readable at once
        # (Linux; elsewhere the shutdown fails and the poll interval ends the wait as before);
        # the accept that follows fails and is ignored, and the loop sees the request.
        with contextlib.suppress(OSError):
            self.socket.shutdown(socket.SHUT_RD)
        super().shutdown()


def handler_for(backend: SimulatedBackend) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "studybuddy-sim/1.0"
        # Headers and body go out in separate writes: without this, Nagle and delayed ACKs
        # add 40 ms to every loopback answer.
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            backend.connections.add(self.connection)

        def finish(self) -> None:
            backend.connections.discard(self.connection)
            super().finish()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the console owns the terminal

        def _render(self, method: str) -> bool:
            if not self.path.startswith("/v1/"):
                return False
            raw = self._body()
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._reply(*backend.render.handle(method, self.path, headers, raw))
            return True

        def _app(self, method: str, raw: bytes = b"") -> bool:
            """StudyBuddy's own routes (the checklist's probes)."""
            headers = {k.lower(): v for k, v in self.headers.items()}
            got = backend.app.handle(method, self.path.split("?", 1)[0], headers, raw)
            if got is None:
                return False
            self._reply(*got)
            return True

        def _reply(self, status: int, extra: dict[str, str], body: bytes) -> None:
            try:
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout in a test): nothing to tell it

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_PUT(self) -> None:
            if self._render("PUT"):
                return
            if not self._app("PUT", self._body()):
                self._json(404, {"error": "not found"})

        def do_DELETE(self) -> None:
            if not self._app("DELETE", self._body()):
                self._json(404, {"error": "not found"})

        def do_GET(self) -> None:
            if self._render("GET"):
                return
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._metrics()
            elif path == "/api/health":
                self._health()
            elif path == CONTROL_PATH:
                self._json(200, backend.knobs.as_dict())
            elif (page := backend.status_page(path)) is not None:
                self._send(200, page, "application/json; charset=utf-8")
            elif not self._app("GET"):
                self._json(404, {"error": "not found"})

        def do_POST(self) -> None:
            if self._render("POST"):
                return
            path = self.path.split("?", 1)[0]
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if path == CONTROL_PATH + "/restart":
                backend.restart()
                self._json(200, {"restarted": True, "restarts": backend.restarts})
            elif path == CONTROL_PATH:
                try:
                    values = json.loads(raw or b"{}")
                    if not isinstance(values, dict):
                        raise ValueError("expected a JSON object")
                    backend.set(**values)
                except ValueError as e:
                    self._json(400, {"error": str(e)})
                    return
                self._json(200, backend.knobs.as_dict())
            elif not self._app("POST", raw):
                self._json(404, {"error": "not found"})

        def _metrics(self) -> None:
            k = backend.knobs
            if k.metrics_delay_s:
                time.sleep(k.metrics_delay_s)
            if k.metrics_status != 200:
                self._json(k.metrics_status, {"error": "metrics unavailable"})
                return
            # OpenMetrics only when it is the first choice, as a server weighing q-values would.
            accept = self.headers.get("Accept", "").split(",")[0]
            openmetrics = "application/openmetrics-text" in accept
            body = backend.metrics_page(openmetrics)
            ctype = TEXT_TYPE
            if openmetrics:  # (prometheus_client loads with the first page, not the console)
                from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST

                ctype = CONTENT_TYPE_LATEST
            self._send(200, body, ctype)

        def _health(self) -> None:
            k = backend.knobs
            if k.health_delay_s:
                time.sleep(k.health_delay_s)
            self._json(k.health_status, backend.health())

        def _json(self, status: int, obj: object) -> None:
            self._send(status, json.dumps(obj).encode(), "application/json; charset=utf-8")

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            headers = {"Content-Type": ctype}
            if "gzip" in self.headers.get("Accept-Encoding", "") and len(body) > 1024:
                body = gzip.compress(body, compresslevel=1)
                headers["Content-Encoding"] = "gzip"
            self._reply(status, headers, body)

    return Handler
