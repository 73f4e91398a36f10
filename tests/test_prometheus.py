"""A real Prometheus scraping two simulated backends: PromQL figures agree with sbtop's direct
scrape over the same window, a stopped instance shows as down, Prometheus's own alerts come
through, and every failure makes a figure unknown with the reason, never 0."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sbtop import check, config
from sbtop.demo.backend import SimulatedBackend
from sbtop.engine.engine import Engine
from sbtop.engine.observations import Observation
from sbtop.sources.prometheus import PrometheusSource, PromSettings
from sbtop.wiring import Wiring
from tests.promserver import PromServer
from tests.servers import closed_port

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
# One worker runs them all: every test reads the module's stack (a real Prometheus and two
# backends), built once, not once a worker; and the history the later tests wait for has
# accumulated while the earlier ones ran.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("prometheus")]

RULES = """groups:
  - name: test
    rules:
      - alert: ErrorsNow
        expr: sum by (job) (rate(http_requests_total{status=~"5.."}[10s])) > 0
        labels: {severity: critical}
        annotations: {summary: "5xx right now"}
"""


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[PromServer, SimulatedBackend, SimulatedBackend]]:
    a, b = SimulatedBackend(port=0).start(), SimulatedBackend(port=0, seed=11).start()
    for backend in (a, b):
        backend.set(rps=150, fixed_latency_ms=700, error_rate=0.05)
    prom = PromServer([f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"], rules=RULES)
    try:
        prom.wait_for('sum(rate(http_requests_total{job="studybuddy"}[10s])) > 0')
        yield prom, a, b
    finally:
        prom.stop()
        a.stop()
        b.stop()


def wait_history(prom: PromServer, seconds: int = 12) -> None:
    """Until Prometheus holds `seconds` of scrapes: a history worth drawing."""
    deadline = time.monotonic() + 60
    while not prom.query(f'count_over_time(up{{job="studybuddy"}}[1m]) >= {seconds}'):
        assert time.monotonic() < deadline
        time.sleep(0.5)


def prom_target(url: str, selector: str, window_s: float = 20.0) -> Wiring:
    t = config.resolve(config.Config(targets={"p": config.TargetConfig(
        prometheus=config.PrometheusConfig(url=url, selector=selector))}))
    return t.with_engine(dataclasses.replace(t.engine, window_s=window_s))


async def prom_figures(target: Wiring) -> Any:
    prom = target.collector.prometheus
    assert prom is not None
    async with PrometheusSource(PromSettings(prom.url, prom.selector),
                                target.engine) as source:
        snap = await source.observe()
    engine = Engine(target.engine, target.name)
    return engine.observe(Observation(snap.t, snap.wall, prom=snap)), snap


def test_promql_figures_agree_with_the_direct_scrape_over_the_same_window(
        stack: tuple[PromServer, SimulatedBackend, SimulatedBackend]) -> None:
    prom, a, _b = stack
    direct_target = config.resolve(config.Config(), url=a.url)
    window = 20.0
    direct = asyncio.run(check.run(direct_target, window))
    viaprom, _snap = asyncio.run(prom_figures(prom_target(
        prom.url, f'job="studybuddy",instance="127.0.0.1:{a.port}"', window)))
    d, p = direct.figures, viaprom.figures
    # Every request takes 700 ms, so both interpolate the same bucket: 0.5 + 0.25 x q.
    assert d["latency_p95_ms"].value == pytest.approx(737.5)
    assert p["latency_p95_ms"].value == pytest.approx(737.5, rel=0.01)
    # Rates: Prometheus extrapolates to the window's edges and its scrapes are not sbtop's,
    # so over 20 s at 1 s scrapes up to a scrape at each edge may differ: 10 %.
    assert p["requests_per_s"].value == pytest.approx(d["requests_per_s"].value, rel=0.10)
    # The 5xx share is exact in the simulation (5 %); both are ratios of the same counters.
    assert d["error_rate_5xx_pct"].value == pytest.approx(5.0, abs=0.2)
    assert p["error_rate_5xx_pct"].value == pytest.approx(5.0, abs=0.5)


def test_all_instances_are_summed_and_each_one_is_listed(
        stack: tuple[PromServer, SimulatedBackend, SimulatedBackend]) -> None:
    prom, a, b = stack
    # The series are as old as the stack: a rate over 20 s needs 20 s of them (rate() over
    # a window longer than a series' life reads low).
    wait_history(prom, 22)
    both, snap = asyncio.run(prom_figures(prom_target(prom.url, 'job="studybuddy"')))
    assert both.figures["requests_per_s"].value == pytest.approx(300, rel=0.10)
    names = {i.name for i in snap.instances}
    assert names == {f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"}
    assert all(i.up for i in snap.instances)
    assert all(i.p95_ms == pytest.approx(737.5, rel=0.01) for i in both.instances)


def test_scraping_both_instances_directly_agrees_with_promql_over_them(
        stack: tuple[PromServer, SimulatedBackend, SimulatedBackend]) -> None:
    prom, a, b = stack
    window = 20.0
    fleet_target = config.resolve(config.Config(targets={"f": config.TargetConfig(
        metrics_urls=[f"{a.url}/metrics", f"{b.url}/metrics"])}))
    direct = asyncio.run(check.run(fleet_target, window))
    viaprom, snap = asyncio.run(prom_figures(prom_target(prom.url, 'job="studybuddy"',
                                                         window)))
    d, p = direct.figures, viaprom.figures
    # The same tolerances as for one instance, for the same reasons.
    assert d["requests_per_s"].value == pytest.approx(300, rel=0.10)
    assert p["requests_per_s"].value == pytest.approx(d["requests_per_s"].value, rel=0.10)
    assert d["latency_p95_ms"].value == pytest.approx(737.5)
    assert p["latency_p95_ms"].value == pytest.approx(737.5, rel=0.01)
    assert d["error_rate_5xx_pct"].value == pytest.approx(5.0, abs=0.5)
    assert {i.name for i in direct.instances} == {i.name for i in snap.instances}
    for i in direct.instances:
        assert i.up and i.p95_ms == pytest.approx(737.5)


def test_prometheus_alerts_come_through_beside_sbtops(
        stack: tuple[PromServer, SimulatedBackend, SimulatedBackend]) -> None:
    from sbtop.engine.assessment import to_dict

    prom, _a, _b = stack
    deadline = time.monotonic() + 20
    while True:
        assessment, snap = asyncio.run(prom_figures(prom_target(prom.url, 'job="studybuddy"')))
        if any(x.name == "ErrorsNow" and x.state == "firing" for x in snap.alerts):
            break
        assert time.monotonic() < deadline, snap.alerts
        time.sleep(1)
    alerts = to_dict(assessment)["alerts"]
    ours = [x for x in alerts if x.get("source") == "prometheus"]
    assert ours[0]["name"] == "ErrorsNow" and ours[0]["state"] == "firing" and ours[0]["since"]


def test_failures_make_figures_unknown_with_the_reason(
        stack: tuple[PromServer, SimulatedBackend, SimulatedBackend]) -> None:
    prom, _a, _b = stack
    nothing, _ = asyncio.run(prom_figures(prom_target(prom.url, 'job="no-such-job"')))
    f = nothing.figures["requests_per_s"]
    assert f.value is None and "Prometheus has no http_request_duration_seconds" in (
        f.reason or "")
    # A selector that is no list of matchers is refused before anything is asked ...
    with pytest.raises(config.ConfigError, match="not label matchers"):
        prom_target(prom.url, 'job="studybuddy')
    # ... and one Prometheus cannot run (a regex that does not compile) brings its own
    # error, word for word.
    broken, _ = asyncio.run(prom_figures(prom_target(prom.url, 'job=~"("')))
    f = broken.figures["latency_p95_ms"]
    assert f.value is None and "bad_data" in (f.reason or "")
    down, snap = asyncio.run(prom_figures(prom_target(
        f"http://127.0.0.1:{closed_port()}", 'job="studybuddy"')))
    assert snap.error is not None and "unreachable" in snap.error
    assert all(fig.value is None for fig in down.figures.values())
    assert down.sources["prometheus"].up is False and down.level.value == "unknown"


def test_history_for_the_sparklines_comes_from_query_range(
        stack: tuple[PromServer, SimulatedBackend, SimulatedBackend]) -> None:
    prom, _a, _b = stack
    wait_history(prom)
    target = prom_target(prom.url, 'job="studybuddy"', window_s=5)

    async def go() -> list[tuple[float, float]]:
        assert target.collector.prometheus is not None
        async with PrometheusSource(PromSettings(prom.url, 'job="studybuddy"'),
                                    target.engine) as source:
            return await source.history("requests_per_s", 30, 1)

    points = asyncio.run(go())
    assert len(points) >= 10
    assert all(v == pytest.approx(300, rel=0.3) for _t, v in points[-5:])


async def test_the_console_reads_prometheus_and_opens_with_history(
        stack: tuple[PromServer, SimulatedBackend, SimulatedBackend]) -> None:
    from tests.console_harness import live_app, screen_text

    prom, _a, _b = stack
    wait_history(prom)
    target = prom_target(prom.url, 'job="studybuddy"', window_s=10)
    app = live_app(target, refresh_s=1.0, read_only=True)
    session: Any = app.session
    async with app.run_test(size=(120, 40)) as pilot:
        deadline = time.monotonic() + 20
        while "(Prometheus)" not in screen_text(app) or session.ticks < 2:
            assert time.monotonic() < deadline, screen_text(app)
            await pilot.pause(0.5)
        assert len(session.history.ring("requests_per_s")) > 5  # drawn before two ticks
        assert "ErrorsNow" in screen_text(app)


def test_a_stopped_instance_shows_as_down(
        stack: tuple[PromServer, SimulatedBackend, SimulatedBackend]) -> None:
    prom, a, _b = stack
    port = a.port
    a.stop()  # last: the module's other tests need both up
    deadline = time.monotonic() + 15
    while True:
        _assessment, snap = asyncio.run(prom_figures(prom_target(prom.url,
                                                                'job="studybuddy"')))
        down = [i for i in snap.instances if not i.up]
        if down:
            break
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert down[0].name == f"127.0.0.1:{port}" and down[0].error
