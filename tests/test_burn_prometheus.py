"""Burn rates from a real Prometheus: the burn parts ride in the round's one query (every
30 s, not every round), their ratios are what the generated recording rules give at the same
instant, and a window longer than the history Prometheus holds is unknown, saying so."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import pytest

from sbtop import config
from sbtop.config.schema import SloConfig
from sbtop.demo.backend import SimulatedBackend
from sbtop.engine.burn_promql import ratio_expr
from sbtop.engine.engine import Engine
from sbtop.engine.keys import Fig
from sbtop.engine.names import status_class
from sbtop.engine.observations import Observation, PromSnapshot
from sbtop.engine.shape import Shape, configured
from sbtop.rules import rules_yaml
from sbtop.sources.prometheus import PrometheusSource, PromSettings
from tests.promserver import CountingProxy, PromServer

pytestmark = pytest.mark.slow
SELECTOR = 'job="studybuddy"'


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[PromServer, SimulatedBackend]]:
    b = SimulatedBackend(port=0).start()
    b.set(rps=150, error_rate=0.05)
    prom = PromServer([f"127.0.0.1:{b.port}"])
    try:
        # Two scrapes of every series: increase() over any window has something to say.
        prom.wait_for(f'count_over_time(http_requests_total{{{SELECTOR}}}[1m]) >= 3')
        yield prom, b
    finally:
        prom.stop()
        b.stop()


def _settings(url: str, slo: SloConfig | None = None) -> config.Config:
    return config.Config(slo=slo or SloConfig(availability=99.5, latency=99.0),
                         targets={"p": config.TargetConfig(
                             prometheus=config.PrometheusConfig(url=url, selector=SELECTOR))})


async def _rounds(url: str, n: int) -> list[PromSnapshot]:
    target = config.resolve(_settings(url))
    prom = target.collector.prometheus
    assert prom is not None
    async with PrometheusSource(PromSettings(prom.url, prom.selector), target.engine) as src:
        return [await src.observe() for _ in range(n)]


def test_burn_parts_ride_in_the_one_query_and_agree_with_the_recording_rules(
        stack: tuple[PromServer, SimulatedBackend]) -> None:
    prom, _b = stack
    with CountingProxy(prom.url) as proxy:
        first, second = asyncio.run(_rounds(proxy.url, 2))
    rounds = [p["query"] for path, p in proxy.log
              if path == "/api/v1/query" and "__sbtop" in p.get("query", "")]
    # One query a round: the first carries the burn parts with the rates, the second (within
    # 30 s) the rates alone.
    assert len(rounds) == 2
    assert "increase(" in rounds[0] and "rate(" in rounds[0]
    assert "increase(" not in rounds[1]
    assert first.burn_at == first.at and second.burn_at is None
    assert first.part_by_part is None and not first.failures

    # The parts' ratio is the recording rule's, evaluated by Prometheus at the same instant.
    engine = config.resolve(_settings(prom.url)).engine
    shape = configured(engine.names)
    rows = first.vectors["burn_counts:5m"]
    bad = sum(v for labels, v in rows if status_class(labels["status"]) == "5xx")
    total = sum(v for _labels, v in rows)
    rule = prom.value(ratio_expr("availability", "5m", engine, SELECTOR, shape), at=first.at)
    assert rule is not None and bad / total == pytest.approx(rule, rel=1e-9)
    assert 0.02 < rule < 0.10  # the backend's 5 % of errors
    buckets = {labels["le"]: v for labels, v in first.vectors["burn_buckets:5m"]}
    slow = prom.value(ratio_expr("latency", "5m", engine, SELECTOR, shape), at=first.at)
    assert slow is not None
    assert 1 - buckets["0.5"] / buckets["+Inf"] == pytest.approx(slow, rel=1e-9, abs=1e-12)

    # Prometheus has held the app's series for seconds: no window is passed off as 5 minutes.
    e = Engine(dataclasses.replace(engine, window_s=20.0))
    a = e.observe(Observation(first.t, first.wall, prom=first))
    f = a.figures[Fig.BURN_RATE_5M]
    assert f.value is None
    assert f.reason == ("needs 5m of history, Prometheus holds under a minute of the app's "
                        "series")
    assert a.figures[Fig.LATENCY_BURN_RATE_6H].value is None


def test_rules_detected_through_prometheus_read_the_bound_the_console_reads(
        stack: tuple[PromServer, SimulatedBackend]) -> None:
    """A 300 ms threshold; the app's bounds are 0.25 and 0.5 s around it. The console reads
    Prometheus's buckets at 0.5 s (the nearest above, with a note); detected through
    Prometheus, the rules read le="0.3", which no series has: the latency ratio recorded
    nothing and its pages could never fire while the console showed a burn. Now Prometheus
    evaluates the rule to the ratio the console reads, at the same instant."""
    prom, _b = stack
    cfg = _settings(prom.url, SloConfig(latency=99.0, latency_threshold_ms=300.0))
    target = config.resolve(cfg)
    p = target.collector.prometheus
    assert p is not None

    async def detect_and_read() -> tuple[Shape, PromSnapshot]:
        async with PrometheusSource(PromSettings(p.url, p.selector), target.engine) as src:
            return await src.shape(), await src.observe()

    shape, snap = asyncio.run(detect_and_read())
    assert shape.bounds is not None and 0.25 in shape.bounds and 0.5 in shape.bounds
    text = rules_yaml(target.engine, selector=SELECTOR, shape=shape)
    assert 'le=\\"0.3\\"' not in text and 'le=\\"0.5\\"' in text
    expr = ratio_expr("latency", "5m", target.engine, SELECTOR, shape)
    assert expr is not None
    rule = prom.value(expr, at=snap.at)
    buckets = {labels["le"]: v for labels, v in snap.vectors["burn_buckets:5m"]}
    assert rule is not None
    assert 1 - buckets["0.5"] / buckets["+Inf"] == pytest.approx(rule, rel=1e-9, abs=1e-12)
