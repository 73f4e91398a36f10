"""The real stack for the tests: the Node app in this folder (express, prom-client,
express-prom-bundle, socket.io from package-lock.json), a paced load generator that logs every
request, and the truth computed from that log."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.children import with_parent

HERE = Path(__file__).parent
NODE = shutil.which("node")
NPM = shutil.which("npm")


def ensure_installed() -> None:
    """`npm ci` from the lock file once per checkout (CI runs it ahead; a fresh clone running the
    README's test command gets it here). A file lock keeps pytest's workers from racing."""
    if NODE is None or NPM is None:
        raise RuntimeError("node and npm are required for the real-stack tests")
    # What was installed is known by the lock file's content, not by dates (a fresh checkout
    # or worktree dates every file anew).
    wanted = hashlib.sha256((HERE / "package-lock.json").read_bytes()).hexdigest()
    marker = HERE / "node_modules" / ".sbtop-installed"
    with open(HERE / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and marker.read_text().strip() == wanted:
            return
        subprocess.run([NPM, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE,
                       check=True, capture_output=True, timeout=600)
        marker.write_text(wanted + "\n")


def _end(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _read_line(proc: subprocess.Popen[str], want: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    buf = ""
    while time.monotonic() < deadline:
        chunk = proc.stdout.readline()
        if chunk:
            buf += chunk
            if chunk.startswith(want):
                return chunk.strip()
            continue
        if proc.poll() is not None:
            raise RuntimeError(f"node exited ({proc.returncode}): {buf!r}")
        time.sleep(0.02)
    raise RuntimeError(f"node said no {want!r} within {timeout} s: {buf!r}")


class NodeApp:
    """One instance of app.js in one shape: hand-status, hand-status-code or bundle."""

    def __init__(self, shape: str, env: dict[str, str] | None = None,
                 script: Path | None = None) -> None:
        """`env`: added to the app's environment (PERF_OPTIMIZATIONS_ENABLED turns the
        cohort label on, see app.js). `script`: another app than app.js (it finds this
        folder's packages through NODE_PATH)."""
        ensure_installed()
        assert NODE is not None
        self.shape = shape
        env = {**(env or {}), **({"NODE_PATH": str(HERE / "node_modules")} if script else {})}
        self.proc = subprocess.Popen(with_parent([NODE, str(script or HERE / "app.js"), shape,
                                                  "0"]),
                                     cwd=HERE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True,
                                     env={**os.environ, **env} if env else None)
        self.port = int(_read_line(self.proc, "listening", 30).split()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.hostport = f"127.0.0.1:{self.port}"

    def delay_metrics(self, ms: int, times: int = 1, agent: str = "sbtop") -> None:
        """The next `times` scrapes by `agent` (sbtop's User-Agent) come `ms` late."""
        httpx.post(f"{self.url}/__test/metrics-delay",
                   params={"ms": ms, "times": times, "agent": agent},
                   timeout=5).raise_for_status()

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        _end(self.proc)


@dataclass(frozen=True)
class Truth:
    """What the load generator saw over [start, end] (wall seconds) for one target."""

    requests: int
    span_s: float
    statuses: dict[int, int]
    latencies_ms: tuple[float, ...]  # what each request asked the server to take

    @property
    def rate(self) -> float:
        return self.requests / self.span_s

    def pct(self, cls: int) -> float:
        n = sum(v for k, v in self.statuses.items() if k // 100 == cls)
        return 100.0 * n / self.requests

    def quantile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


class Load:
    """load.js running a plan; its log is the truth."""

    def __init__(self, plan: dict[str, Any]) -> None:
        ensure_installed()
        assert NODE is not None
        self.dir = Path(tempfile.mkdtemp(prefix="sbtop-load-"))
        self.log = self.dir / "requests.jsonl"
        self.proc = subprocess.Popen(with_parent([NODE, str(HERE / "load.js"), json.dumps(plan),
                                                  str(self.log)]),
                                     cwd=HERE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        _read_line(self.proc, "ready", 30)

    def records(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        out = []
        for line in self.log.read_text().splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out

    def truth(self, name: str, start: float, end: float) -> Truth:
        """Requests of `name` that finished within [start, end]: what a counter read at those
        two moments would have gained."""
        rows = [r for r in self.records()
                if r["t"] == name and start * 1000 <= r["end"] <= end * 1000]
        statuses: dict[int, int] = {}
        for r in rows:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        return Truth(len(rows), end - start, statuses, tuple(float(r["ms"]) for r in rows))

    def stop(self) -> None:
        _end(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


def cycle(n: int, *, slow: int = 0, slow_ms: int = 700, fast_ms: int = 40,
          statuses: dict[int, int] | None = None) -> list[dict[str, int]]:
    """A cycle of `n` requests: `slow` of them (spread evenly, so any window holds its share)
    take slow_ms, the rest fast_ms; `statuses` gives how many of the cycle answer each non-200
    status (spread through it)."""
    slow_at = {i * n // slow for i in range(slow)} if slow else set()
    steps = [{"ms": slow_ms if i in slow_at else fast_ms, "status": 200} for i in range(n)]
    k = n - 1
    for status, count in (statuses or {}).items():
        for _ in range(count):
            steps[k]["status"] = status
            k -= 2
    return steps


@contextlib.contextmanager
def running(*things: Any) -> Iterator[None]:
    try:
        yield
    finally:
        for t in things:
            with contextlib.suppress(Exception):
                t.stop()


def readme_cohort_app(folder: Path, readme: Path) -> Path:
    """An app whose instrumentation is the README's prom-client cohort snippet, word for word
    (the first js block of its "Canary against stable" section), around one route: GET
    /api/work?ms=N&status=S, the optimized cohort four times as slow. Written into `folder`."""
    text = readme.read_text(encoding="utf-8")
    section = text[text.index("## Canary against stable: cohorts"):]
    start = section.index("```js\n") + len("```js\n")
    snippet = section[start:section.index("```", start)]
    script = folder / "readme_cohorts.js"
    script.write_text("\n".join([
        '"use strict";',
        'const express = require("express");',
        'const client = require("prom-client");',
        "const app = express();",
        snippet,
        'app.get("/api/work", (req, res) => {',
        '  const ms = Number(req.query.ms || 0) * (res.locals.variant === "optimized" ? 4 : 1);',
        "  const status = Number(req.query.status || 200);",
        "  setTimeout(() => res.status(status).json({ ms }), ms);",
        "});",
        'app.get("/metrics", async (_req, res) => {',
        '  res.set("Content-Type", client.register.contentType);',
        "  res.end(await client.register.metrics());",
        "});",
        'const server = app.listen(Number(process.argv[3] || 0), "127.0.0.1",',
        "  () => console.log(`listening ${server.address().port}`));",
        'for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));',
    ]) + "\n", encoding="utf-8")
    return script
