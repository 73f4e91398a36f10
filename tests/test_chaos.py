"""Fault injection: `sbtop check` (a real subprocess) against a loopback "chaos" server that
misbehaves in every way production pages have been seen to. Each case: the source is DOWN or
the figure unknown, with a reason a person understands, within the timeout, in bounded memory,
without a traceback; a target that cannot be read exits 3."""

from __future__ import annotations

import itertools
import re
import ssl
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli import peak_rss
from tests.servers import Answer, LoopbackServer

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow

TIMEOUT_S = 1.0  # the target's timeout_s and connect_timeout_s in these tests
# How long sbtop may hold any one request, on the server's clock from its arrival to its end
# (Python's start-up is not in it): its deadline, with slack for a busy two-core machine. A
# server that hangs would hold it 60 s, a trickled page for hours.
HELD_S = TIMEOUT_S + 3.0
MAX_RSS_MB = 200  # the 20 MB page limit bounds what any page can make sbtop hold

LES = ("0.05", "0.1", "0.25", "0.5", "1", "+Inf")
SHARES = (0.2, 0.5, 0.8, 0.95, 0.99, 1.0)


def page(n: float, *, bucket: dict[str, str] | None = None, ts: str = "", no_inf: bool = False,
         requests: str | None = None, duplicate: bool = False, rss: str = "1e8") -> bytes:
    """A small prom-client-shaped page after `n` requests (95 % under 500 ms)."""
    lines = ["# TYPE http_request_duration_seconds histogram"]
    for le, share in zip(LES, SHARES, strict=True):
        if no_inf and le == "+Inf":
            continue
        value = (bucket or {}).get(le, f"{n * share:g}")
        lines.append(f'http_request_duration_seconds_bucket{{route="/api/tasks",le="{le}"}} '
                     f"{value}{ts}")
    lines.append(f'http_request_duration_seconds_count{{route="/api/tasks"}} {n:g}{ts}')
    lines.append("# TYPE http_requests_total counter")
    lines.append(f'http_requests_total{{status="200"}} {requests or f"{n:g}"}{ts}')
    if duplicate:
        lines.append(f'http_requests_total{{status="200"}} {n / 2:g}{ts}')
    lines.append(f"process_resident_memory_bytes {rss}")
    return ("\n".join(lines) + "\n").encode()


def explosion(n: int, series: int = 100_000) -> bytes:
    """A label explosion: a request id used as a label value."""
    rows = [f'http_requests_total{{route="/api/tasks/{i}",status="200"}} {n}'
            for i in range(series)]
    return ("# TYPE http_requests_total counter\n" + "\n".join(rows) + "\n").encode()


@dataclass
class Run:
    code: int
    out: str
    err: str
    held_s: float  # the longest the server was kept on one request
    max_rss_mb: float


def check(srv: LoopbackServer, *extra: str, tmp_path: Path) -> Run:
    cfg = tmp_path / "chaos.toml"
    cfg.write_text(f'[targets.chaos]\nbase_url = "{srv.url}"\ntimeout_s = {TIMEOUT_S}\n'
                   f"connect_timeout_s = {TIMEOUT_S}\nhealth_path = \"/api/health\"\n")
    p, peak_mb = peak_rss([sys.executable, "-m", "sbtop", "check", "--config", str(cfg),
                           "--window", "1", *extra], tmp_path / "rss", timeout=60)
    return Run(p.returncode, p.stdout, p.stderr, srv.held_s(), peak_mb)



HEALTH = Answer(body=b'{"status":"ok"}', content_type="application/json")


def serve(metrics: Answer, tls: ssl.SSLContext | None = None) -> LoopbackServer:
    return LoopbackServer({"/metrics": metrics, "/api/health": HEALTH}, tls=tls)


def assert_sane(run: Run) -> None:
    assert "Traceback" not in run.err + run.out, run.err
    assert run.held_s < HELD_S, f"a request held {run.held_s:.1f} s"
    assert run.max_rss_mb < MAX_RSS_MB, f"peak RSS {run.max_rss_mb:.0f} MB"


UNREADABLE = [
    ("accepts and never answers", Answer(hang=True), "timeout"),
    ("answers a byte at a time", Answer(body=page(1000) * 50, trickle_s=0.05), "timeout"),
    ("500", Answer(status=500, body=b"Internal Server Error"), "HTTP 500"),
    ("502", Answer(status=502, body=b"Bad Gateway"), "HTTP 502"),
    ("503", Answer(status=503, body=b"Service Unavailable"), "HTTP 503"),
    ("redirects in a loop", Answer(redirect_to="/metrics"), "redirect"),
    ("a truncated body", Answer(body=page(1000), declared_length=len(page(1000)) + 500),
     "connection closed mid-answer"),
    ("a page cut mid-line", Answer(body=page(1000)[:-7]), "truncated page"),
    ("an HTML error page", Answer(body=b"<html><body>502 Bad Gateway</body></html>",
                                 content_type="text/html"), "not a metrics page: got HTML"),
    ("bytes that are not a metrics page", Answer(body=bytes(range(256)) * 10),
     "not a metrics page"),
    ("garbage text", Answer(body=b"hello world, this is not prometheus\n"),
     "not a metrics page: its first line is"),
    ("invalid UTF-8", Answer(body=b"http_requests_total 1\n\xc3\x28\n"), "not UTF-8"),
    ("a page that never ends", Answer(endless=True), "page too large"),
    ("a 50 MB page", Answer(body=b"filler_metric 1\n" * (50 * 1024 * 1024 // 16)),
     "page too large"),
    ("100,000 series from a label explosion", Answer(bodies=[explosion(1), explosion(2)]),
     "label explosion: 100,000 samples"),
]


@pytest.fixture(scope="module")
def unreadable_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Every case at once, a few at a time: each waits on timeouts, not on the CPU."""
    # Each case's directory made here, before the threads: pytest makes the worker's base
    # directory at the first mktemp, and two threads making it at once failed (it exists).
    homes = {name: tmp_path_factory.mktemp("chaos") for name, _a, _r in UNREADABLE}

    def one(case: tuple[str, Answer, str]) -> tuple[str, Run]:
        name, answer, _reason = case
        with serve(answer) as srv:
            return name, check(srv, tmp_path=homes[name])

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(one, UNREADABLE))


# One worker reads them all: the module's fixture runs every case (about 35 s of CPU on a
# 2-core machine) once, not once a worker that draws one of these tests.
@pytest.mark.xdist_group("chaos_unreadable")
@pytest.mark.parametrize(("name", "reason"), [(n, r) for n, _a, r in UNREADABLE],
                         ids=[n for n, _a, _r in UNREADABLE])
def test_a_target_that_cannot_be_read_is_down_with_a_reason_and_check_exits_3(
        name: str, reason: str, unreadable_runs: dict[str, Run]) -> None:
    run = unreadable_runs[name]
    assert_sane(run)
    assert run.code == 3, run.out + run.err
    assert "source metrics: DOWN" in run.out and reason in run.out, run.out


def test_a_certificate_that_does_not_verify_is_down_saying_so(
        tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    with serve(Answer(body=page(1000)), tls=ctx) as srv:
        run = check(srv, tmp_path=tmp_path)
    assert_sane(run)
    assert run.code == 3
    assert "TLS certificate does not verify" in run.out, run.out


def line(run: Run, key: str) -> str:
    """A figure's line; a figure named on the "unknown:" line with others that share its
    reason (said once, in the headline) reads as UNKN and the headline."""
    lines = run.out.splitlines()
    found = next((x for x in lines if x.strip().startswith(key)), None)
    if found is not None:
        return found
    start = next(i for i, x in enumerate(lines) if x.startswith("  unknown: "))
    listed = [lines[start].removeprefix("  unknown: ")]
    listed += [x for x in itertools.takewhile(lambda x: x.startswith("    "), lines[start + 1:])]
    assert key in re.split(r"[,\s]+", " ".join(listed)), run.out
    return f"  {key}  UNKN  {lines[0]}"


FIGURE_FAULTS = [
    ("a NaN bucket", [page(1000), page(2000, bucket={"0.1": "NaN"})], "latency_p95_ms",
     'http_request_duration_seconds_bucket{route="/api/tasks",le="0.1"} is NaN on the page'),
    ("a +Inf counter", [page(1000), page(2000, requests="+Inf")], "requests_per_s",
     'http_requests_total{status="200"} is +Inf on the page'),
    ("a -Inf gauge", [page(1000, rss="-Inf"), page(2000, rss="-Inf")], "memory_pct",
     "process_resident_memory_bytes is -Inf on the page"),
    ("a histogram without +Inf", [page(1000, no_inf=True), page(2000, no_inf=True)],
     "latency_p95_ms", 'has no le="+Inf" bucket'),
    ("a duplicated series", [page(1000, duplicate=True), page(2000, duplicate=True)],
     "error_rate_5xx_pct", 'http_requests_total{status="200"} appears twice on the page'),
]


@pytest.mark.parametrize(("bodies", "key", "reason"), [c[1:] for c in FIGURE_FAULTS],
                         ids=[c[0] for c in FIGURE_FAULTS])
def test_a_value_no_figure_can_come_from_makes_that_figure_unknown_saying_which(
        bodies: list[bytes], key: str, reason: str, tmp_path: Path) -> None:
    with serve(Answer(bodies=bodies)) as srv:
        run = check(srv, tmp_path=tmp_path)
    assert_sane(run)
    assert run.code == 3  # unknown, never a calm OK
    assert "UNKN" in line(run, key) and reason in line(run, key), run.out
    assert "source metrics: up" in run.out


def test_a_counter_going_backwards_is_a_restart_never_a_negative_rate(tmp_path: Path) -> None:
    with serve(Answer(bodies=[page(100_000), page(1_000)])) as srv:
        run = check(srv, "--json", tmp_path=tmp_path)
    assert_sane(run)
    import json

    a = json.loads(run.out)
    rate = a["figures"]["requests_per_s"]["value"]
    assert rate is not None and 0 < rate < 2_000  # counted from the restart, as Prometheus does
    assert any("reset" in n for n in a["notes"]), a["notes"]


@pytest.mark.parametrize("ts", [" 99999999999000", " 1000"], ids=["far future", "far past"])
def test_timestamps_far_off_are_ignored_and_said(ts: str, tmp_path: Path) -> None:
    with serve(Answer(bodies=[page(1000, ts=ts), page(2000, ts=ts)])) as srv:
        run = check(srv, tmp_path=tmp_path)
    assert_sane(run)
    assert "shown" in line(run, "requests_per_s")  # the scrape times make the rate
    assert "sample timestamps are" in run.out and "rates use the scrape times" in run.out


def test_the_sample_limit_is_configurable(tmp_path: Path) -> None:
    body = explosion(1, series=2_000)
    with serve(Answer(bodies=[body, explosion(2, series=2_000)])) as srv:
        cfg_run = check(srv, tmp_path=tmp_path)
        assert "source metrics: up" in cfg_run.out  # 2,000 is well under the default
        cfg = tmp_path / "small.toml"
        cfg.write_text(f'[targets.chaos]\nbase_url = "{srv.url}"\nmax_samples = 1000\n')
        r = subprocess.run([sys.executable, "-m", "sbtop", "check", "--config", str(cfg),
                            "--window", "1"], check=False, capture_output=True, text=True,
                           timeout=60)
    assert r.returncode == 3
    assert "over the limit of 1,000" in r.stdout and "raise max_samples" in r.stdout
