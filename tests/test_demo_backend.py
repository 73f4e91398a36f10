"""The simulated StudyBuddy backend: a real server whose knobs work from Python and over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sbtop.demo.backend import SimulatedBackend
from sbtop.demo.server import CONTROL_PATH
from sbtop.demo.traffic import Knobs, TrafficModel
from sbtop.engine.exposition import samples

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow


def totals(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for s in samples(text, {"http_requests_total", "process_start_time_seconds"}):
        out[s.name] = out.get(s.name, 0.0) + s.value
    return out


def test_it_serves_metrics_health_and_the_control_endpoint_over_http() -> None:
    with SimulatedBackend(port=0, background=False) as b:
        b.advance(2.0)
        metrics = httpx.get(b.url + "/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert totals(metrics.text)["http_requests_total"] == 80  # 40 req/s for 2 s, exactly
        assert "http_request_duration_seconds_bucket" in metrics.text
        assert "active_websocket_connections" in metrics.text
        om = httpx.get(b.url + "/metrics",
                       headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        assert om.headers["content-type"].startswith("application/openmetrics-text")
        assert om.text.endswith("# EOF\n")
        health = httpx.get(b.url + "/api/health").json()
        assert health["status"] == "ok" and health["memory"]["limit"] == 512 * 1024 * 1024
        r = httpx.post(b.url + CONTROL_PATH, json={"error_rate": 0.5, "health_status": 503})
        assert r.status_code == 200 and r.json()["error_rate"] == 0.5
        assert httpx.get(b.url + "/api/health").status_code == 503
        assert httpx.get(b.url + CONTROL_PATH).json()["health_status"] == 503


@pytest.mark.parametrize("body", [b'{"error_rate": "high"}', b'{"nope": 1}', b"[1]", b"{"])
def test_bad_knobs_are_refused_with_400(body: bytes) -> None:
    with SimulatedBackend(port=0, background=False) as b:
        r = httpx.post(b.url + CONTROL_PATH, content=body)
        assert r.status_code == 400 and "error" in r.json()
        assert b.knobs == Knobs()


def test_a_restart_resets_the_counters_and_moves_the_start_time() -> None:
    with SimulatedBackend(port=0, background=False) as b:
        b.advance(5.0)
        before = totals(httpx.get(b.url + "/metrics").text)
        assert httpx.post(b.url + CONTROL_PATH + "/restart").json()["restarted"] is True
        b.advance(1.0)
        after = totals(httpx.get(b.url + "/metrics").text)
    assert before["http_requests_total"] == 200 and after["http_requests_total"] == 40
    assert after["process_start_time_seconds"] > before["process_start_time_seconds"]


def test_error_shares_are_exact_so_tests_can_rely_on_them() -> None:
    model = TrafficModel(Knobs(rps=1000, error_rate=0.03))
    statuses = [r.status for r in model.advance(10.0)]
    fives = sum(s.startswith("5") for s in statuses)
    assert len(statuses) == 10_000 and fives in (300, 301)


def test_fixed_latency_makes_every_request_take_that_long() -> None:
    model = TrafficModel(Knobs(fixed_latency_ms=700))
    assert {r.seconds for r in model.advance(1.0)} == {0.7}


def test_the_background_traffic_keeps_flowing() -> None:
    # Each scrape catches the traffic up to its own moment, somewhere within the request: the
    # requests between two scrapes are 200/s times a time bracketed by the requests' ends,
    # whatever the machine's load made of the half second in between.
    with SimulatedBackend(port=0) as b:
        b.set(rps=200)
        a0 = time.monotonic()
        first = totals(httpx.get(b.url + "/metrics").text).get("http_requests_total", 0)
        a1 = time.monotonic()
        time.sleep(0.5)
        b0 = time.monotonic()
        second = totals(httpx.get(b.url + "/metrics").text)["http_requests_total"]
        b1 = time.monotonic()
    assert 200 * (b0 - a1) - 1 <= second - first <= 200 * (b1 - a0) + 1


# Run first in the child, then sbtop exec'd in its place: Ctrl-C as a terminal gives it. A
# test process may hand its children SIGINT ignored or blocked (both survive exec), which a
# person's shell never does: the stop on Ctrl-C is what is tested, not that inheritance.
_INTERRUPTIBLE = ("import os, signal, sys; "
                  "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT}); "
                  "signal.signal(signal.SIGINT, signal.SIG_DFL); "
                  "os.execv(sys.argv[1], sys.argv[1:])")


def _signal_state(pid: int) -> str:
    """The child's blocked and ignored signals, as the kernel has them (said on a failure)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return "no /proc status"
    return ", ".join(x for x in lines if x.startswith(("SigBlk", "SigIgn", "SigCgt")))


def test_sbtop_demo_serve_prints_its_urls_and_stops_on_ctrl_c() -> None:
    proc = subprocess.Popen([sys.executable, "-c", _INTERRUPTIBLE, sys.executable, "-m",
                             "sbtop", "demo", "--serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("simulated StudyBuddy backend on http://127.0.0.1:")
        url = first.split(" on ", 1)[1].strip()
        assert httpx.get(url + "/api/health").json()["status"] == "ok"
        signals = _signal_state(proc.pid)
        proc.send_signal(signal.SIGINT)
        # Both pipes drained while it stops (a full pipe would hold it), and time enough for
        # a machine busy with the rest of the suite.
        try:
            _out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"no stop 60 s after SIGINT; {signals}") from None
        assert proc.returncode == 130, err
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)


def test_the_control_endpoint_answers_json_for_unknown_paths() -> None:
    with SimulatedBackend(port=0, background=False) as b:
        r = httpx.get(b.url + "/nope")
        assert r.status_code == 404 and json.loads(r.text) == {"error": "not found"}


def test_a_stop_does_not_wait_for_the_servers_next_poll() -> None:
    """shutdown() wakes serve_forever at once: with a poll interval of an hour it still
    returns (the 30 s is only a bound for failing; before, it waited out the poll)."""
    import threading

    from sbtop.demo.server import Server, handler_for

    with SimulatedBackend(port=0, background=False) as b:
        server = Server(("127.0.0.1", 0), handler_for(b))
        serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 3600},
                                   daemon=True)
        serving.start()
        assert httpx.get(f"http://127.0.0.1:{server.server_address[1]}/api/health",
                         timeout=10).status_code == 200  # it serves: its loop is running
        stopping = threading.Thread(target=server.shutdown, daemon=True)
        stopping.start()
        stopping.join(30)
        assert not stopping.is_alive(), "shutdown() waited for the next poll"
        serving.join(30)
        assert not serving.is_alive()
        server.server_close()
