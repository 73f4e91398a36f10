"""A target listing several metrics URLs, against three real simulated backends on loopback:
`sbtop check` scrapes them at once, adds their counts, lists each instance with its own p95,
and names the one that was stopped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sbtop.demo.backend import SimulatedBackend
from tests.cli import run_sbtop

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow


@pytest.fixture
def three() -> Iterator[list[SimulatedBackend]]:
    backends = [SimulatedBackend(port=0, seed=s).start() for s in (1, 2, 3)]
    # Different loads and latencies, so the sum and each instance's own p95 are told apart.
    for b, rps, ms in zip(backends, (100, 200, 300), (30, 300, 700), strict=True):
        b.set(rps=rps, fixed_latency_ms=ms, error_rate=0.0)
    try:
        yield backends
    finally:
        for b in backends:
            b.stop()


def config(tmp_path: Path, backends: list[SimulatedBackend]) -> Path:
    urls = ", ".join(f'"{b.url}/metrics"' for b in backends)
    cfg = tmp_path / "fleet.toml"
    cfg.write_text(f"""
[targets.fleet]
metrics_urls = [{urls}]
base_url = "{backends[0].url}"
memory_limit_mb = 512
""")
    return cfg


def test_check_adds_the_instances_up_and_lists_each_with_its_own_p95(
        tmp_path: Path, three: list[SimulatedBackend]) -> None:
    r = run_sbtop("check", "--json", "--window", "4", "--config", str(config(tmp_path, three)))
    out = json.loads(r.stdout)
    # 100 + 200 + 300 requests a second; the simulation's counts are Poisson: 10 % over 4 s.
    assert out["figures"]["requests_per_s"]["value"] == pytest.approx(600, rel=0.10)
    by_port = {i["instance"].rsplit(":", 1)[1]: i for i in out["instances"]}
    assert set(by_port) == {str(b.port) for b in three}
    # Each request takes its backend's fixed time: p95 interpolated in that bucket.
    p95 = [by_port[str(b.port)]["p95_ms"] for b in three]
    assert p95[0] < 50 and 250 < p95[1] < 500 and p95[2] > 500
    assert all(i["up"] for i in out["instances"])
    assert out["sources"]["metrics"]["instances_up"] == 3


def test_a_stopped_instance_is_named_and_the_others_still_count(
        tmp_path: Path, three: list[SimulatedBackend]) -> None:
    cfg = config(tmp_path, three)
    three[2].stop()
    r = run_sbtop("check", "--json", "--window", "3", "--config", str(cfg))
    out = json.loads(r.stdout)
    assert r.returncode != 0 and out["level"] in ("warning", "critical")
    down = [i for i in out["instances"] if not i["up"]]
    assert len(down) == 1 and down[0]["instance"].endswith(f":{three[2].port}")
    assert down[0]["error"]
    assert out["figures"]["requests_per_s"]["value"] == pytest.approx(300, rel=0.10)
    assert any("1 of 3 instances not answering" in n for n in out["notes"])
    r = run_sbtop("check", "--window", "1", "--config", str(cfg))
    assert f"instance 127.0.0.1:{three[2].port}: DOWN" in r.stdout
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("second", ["http://127.0.0.1:80/metrics", "http://LOCALHOST/metrics",
                                    "http://127.0.0.1/metrics"])
def test_the_same_endpoint_twice_is_refused_with_a_message(tmp_path: Path, second: str) -> None:
    cfg = tmp_path / "twice.toml"
    cfg.write_text(f"""
[targets.x]
metrics_urls = ["http://127.0.0.1/metrics", "{second}"]
""")
    r = run_sbtop("check", "--config", str(cfg))
    assert r.returncode == 3 and "are the same endpoint" in r.stderr
    assert "Traceback" not in r.stderr


def test_url_on_the_command_line_replaces_the_listed_instances(
        tmp_path: Path, three: list[SimulatedBackend]) -> None:
    cfg = config(tmp_path, three[:2])
    r = run_sbtop("check", "--json", "--window", "3", "--config", str(cfg),
                  "--url", three[2].url)
    out = json.loads(r.stdout)
    # The third instance alone: its 700 ms requests (the two listed answer in 30 and 300 ms,
    # and their 100 + 200 requests/s sum to the third's 300, so the rate alone cannot tell).
    assert out["figures"]["latency_p50_ms"]["value"] > 500
    # (Loosely: a 3 s window on a busy machine reads a scrape's delay as rate.)
    assert out["figures"]["requests_per_s"]["value"] == pytest.approx(300, rel=0.25)
    assert "instances" not in out


def test_instances_are_named_as_prometheus_names_them() -> None:
    from sbtop.config import instance_names

    names = instance_names(["http://[::1]:9100/metrics", "https://a.example/metrics",
                            "http://h:1/a", "http://h:1/b"])
    assert list(names) == ["[::1]:9100", "a.example:443", "http://h:1/a", "http://h:1/b"]


def test_a_demo_port_out_of_range_is_one_line_naming_the_port() -> None:
    r = run_sbtop("demo", "--serve", "--instances", "2", "--port", "65535")
    assert r.returncode == 3 and "cannot listen on 127.0.0.1:65536" in r.stderr
    assert "Traceback" not in r.stderr
