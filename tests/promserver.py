"""A real Prometheus for the tests (Debian's package), on loopback, with a generated config and
a temporary storage directory, scraping the given targets every second."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.children import with_parent

PROMETHEUS = shutil.which("prometheus")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _PortTaken(Exception):
    pass


class PromServer:
    def __init__(self, targets: list[str] | None = None, rules: str | None = None,
                 job: str = "studybuddy", interval: str = "1s",
                 jobs: dict[str, list[str]] | None = None, scrape_self: bool = False) -> None:
        """`targets` under one `job`, or `jobs` (job name -> targets) for several; with
        `scrape_self` Prometheus also scrapes itself (job "prometheus"), as most servers do."""
        if PROMETHEUS is None:
            raise RuntimeError("prometheus is required: apt-get install prometheus")
        self.dir = Path(tempfile.mkdtemp(prefix="sbtop-prom-"))
        self._config = (rules, jobs, job, targets, interval, scrape_self)
        # A free port is asked of the system, then released for Prometheus to take: another
        # process (another worker's server) may take it in between, so a start that finds it
        # taken tries again on another.
        for attempt in range(5):
            try:
                self._start()
                return
            except _PortTaken:
                if attempt == 4:
                    raise RuntimeError("prometheus found five free ports taken in turn") from None

    def _start(self) -> None:
        rules, jobs, job, targets, interval, scrape_self = self._config
        self.port = _port()
        self.url = f"http://127.0.0.1:{self.port}"
        rule_files = ""
        if rules is not None:
            (self.dir / "rules.yml").write_text(rules)
            rule_files = f"rule_files:\n  - {self.dir / 'rules.yml'}\n"
        jobs = dict(jobs or {job: targets or []})
        if scrape_self:
            jobs["prometheus"] = [f"127.0.0.1:{self.port}"]
        scrapes = "".join(
            f"  - job_name: {name}\n    static_configs:\n"
            f"      - targets: [{', '.join(repr(t) for t in hosts)}]\n"
            for name, hosts in jobs.items())
        (self.dir / "prometheus.yml").write_text(
            f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
            f"{rule_files}scrape_configs:\n{scrapes}")
        self.proc = subprocess.Popen(with_parent([
            PROMETHEUS, f"--config.file={self.dir / 'prometheus.yml'}",
             f"--storage.tsdb.path={self.dir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=error"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                why = self.proc.stderr.read()  # type: ignore[union-attr]
                if b"address already in use" in why:
                    raise _PortTaken
                raise RuntimeError(f"prometheus exited: {why!r}")
            try:
                if httpx.get(self.url + "/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("prometheus did not become ready")

    def query(self, expr: str, at: float | None = None) -> list[dict[str, object]]:
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        r = httpx.get(self.url + "/api/v1/query", params=params, timeout=5)
        body = r.json()
        if body.get("status") != "success":
            raise AssertionError(f"{expr}: {body}")
        return body["data"]["result"]  # type: ignore[no-any-return]

    def value(self, expr: str, at: float | None = None) -> float | None:
        """The single value of an instant query, or None when it returned nothing."""
        result = self.query(expr, at)
        if not result:
            return None
        assert len(result) == 1, result
        return float(result[0]["value"][1])  # type: ignore[index]

    def wait_for(self, expr: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.query(expr):
                return
            time.sleep(0.5)
        raise AssertionError(f"no data for {expr} within {timeout} s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class CountingProxy:
    """A real HTTP proxy in front of a Prometheus that logs every request sbtop sends (path and
    parameters, in order) and can refuse some queries as Prometheus refuses one it cannot
    evaluate (422, errorType execution), or answer everything 503 while `unavailable`, or
    hold the queries `hold` picks unanswered until the proxy closes (a query too slow for
    sbtop's timeout), passing the rest through untouched."""

    def __init__(self, upstream: str,
                 refuse: Callable[[str], bool] | None = None) -> None:
        self.log: list[tuple[str, dict[str, str]]] = []
        self.refuse = refuse
        self.unavailable = False
        # A look-alike server that drops labels starting with "__" (other than __name__)
        # from its query answers.
        self.drop_underscored = False
        self.hold: Callable[[str], bool] | None = None
        self._released = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                split = urllib.parse.urlsplit(self.path)
                params = dict(urllib.parse.parse_qsl(split.query))
                proxy.log.append((split.path, params))
                if proxy.hold is not None and proxy.hold(params.get("query", "")):
                    proxy._released.wait(60)
                    self.close_connection = True
                    return
                if proxy.unavailable:
                    status, kind, body = 503, "application/json", json.dumps({
                        "status": "error", "errorType": "unavailable",
                        "error": "shutting down"}).encode()
                elif proxy.refuse is not None and proxy.refuse(params.get("query", "")):
                    status, kind, body = 422, "application/json", json.dumps({
                        "status": "error", "errorType": "execution",
                        "error": "query processing would load too many samples"}).encode()
                else:
                    r = httpx.get(upstream + self.path, timeout=10)
                    status, kind, body = (r.status_code, r.headers.get("content-type", ""),
                                          r.content)
                    if proxy.drop_underscored and split.path == "/api/v1/query":
                        body = _drop_underscored(body)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._released.set()
        # At once, not at serve_forever's next poll (up to 0.5 s): sbtop.demo.server says how.
        with contextlib.suppress(OSError):
            self.httpd.socket.shutdown(socket.SHUT_RD)
        self.httpd.shutdown()
        self.httpd.server_close()


def _drop_underscored(body: bytes) -> bytes:
    answer = json.loads(body)
    for item in answer.get("data", {}).get("result", []):
        item["metric"] = {k: v for k, v in item["metric"].items()
                          if k == "__name__" or not k.startswith("__")}
    return json.dumps(answer).encode()
