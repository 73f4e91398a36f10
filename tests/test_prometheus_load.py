"""What sbtop costs the team's Prometheus: a real Prometheus scraping two simulated backends,
behind a proxy that logs every request. A steady round is one instant query (the parts joined
and tagged, sbtop.engine.prom_batch); the targets and alerts are read every few seconds, each
dated by its read; detection every 30 s. The one query's parts equal what each part answers
alone at the same instant, and a part Prometheus refuses makes only its own figures unknown;
so too a part whose answer is too large, and the one query too large or too slow is asked part
by part (until the next detection), while a Prometheus that does not answer is not."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest

from sbtop import config
from sbtop.clock import ManualClock
from sbtop.demo.backend import SimulatedBackend
from sbtop.engine.engine import Engine
from sbtop.engine.observations import Observation, PromSnapshot
from sbtop.engine.prom_batch import batch_query
from sbtop.engine.promql import ALERTS_EVERY_S, DETECT_EVERY_S, TARGETS_EVERY_S, round_queries
from sbtop.engine.settings import EngineSettings
from sbtop.sources.prometheus import PrometheusSource, PromSettings
from tests.promserver import CountingProxy, PromServer

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
# One worker runs them all: every test reads the module's Prometheus, started once, not
# once a worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("prometheus_load")]

SELECTOR = 'job="studybuddy"'
RULES = """groups:
  - name: test
    rules:
      - alert: ErrorsNow
        expr: sum by (job) (rate(http_requests_total{status=~"5.."}[10s])) > 0
        labels: {severity: critical}
"""
Sent = list[tuple[str, dict[str, str]]]


@pytest.fixture(scope="module")
def prom() -> Iterator[PromServer]:
    a, b = SimulatedBackend(port=0).start(), SimulatedBackend(port=0, seed=11).start()
    for backend in (a, b):
        backend.set(rps=150, fixed_latency_ms=700, error_rate=0.05)
    server = PromServer([f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"], rules=RULES)
    try:
        # Two scrapes of each instance in a 10 s window: every figure has its rate.
        server.wait_for(f'count(count_over_time(up{{{SELECTOR}}}[10s]) >= 3) == 2')
        server.wait_for('ALERTS{alertstate="firing"}')
        yield server
    finally:
        server.stop()
        a.stop()
        b.stop()


def engine_settings() -> EngineSettings:
    t = config.resolve(config.Config(targets={"p": config.TargetConfig(
        prometheus=config.PrometheusConfig(url="http://unused", selector=SELECTOR))}))
    return dataclasses.replace(t.engine, window_s=10.0)


def rounds(url: str, seconds: int, proxy: CountingProxy,
           between: Mapping[int, Any] | None = None, **settings: Any
           ) -> list[tuple[PromSnapshot, Sent]]:
    """A console at 1 Hz for `seconds` rounds: the cadences run on a clock moved a second a
    round (no waiting), each round evaluated at the real time now. `between[i]` runs before
    round i; `settings` are PromSettings'. Each round's snapshot with the requests it sent."""
    clock = ManualClock(1000.0, time.time())
    out = []

    async def go() -> None:
        async with PrometheusSource(PromSettings(url, SELECTOR, **settings), engine_settings(),
                                    clock) as source:
            for i in range(seconds):
                if between and i in between:
                    between[i]()
                clock.set(1000.0 + i, time.time())
                n = len(proxy.log)
                snap = await source.observe()
                out.append((snap, proxy.log[n:]))

    asyncio.run(go())
    return out


def test_a_steady_round_is_one_query_and_a_console_stays_within_three_a_second(
        prom: PromServer) -> None:
    with CountingProxy(prom.url) as proxy:
        done = rounds(proxy.url, 61, proxy)
    for i, (snap, sent) in enumerate(done):
        assert snap.error is None and not snap.failures, (i, snap.error, snap.failures)
        assert snap.queries == len(sent)
        # Every instant query of a round at the round's one instant.
        assert {q["time"] for path, q in sent if path == "/api/v1/query"} == {f"{snap.at:.3f}"}
        paths = Counter(path for path, _q in sent)
        assert paths["/api/v1/targets"] == (i % TARGETS_EVERY_S == 0)
        assert paths["/api/v1/alerts"] == (i % ALERTS_EVERY_S == 0)
        detecting = i % DETECT_EVERY_S == 0
        # Detection: which names exist in which job (one query), and the request series'
        # label names (/api/v1/labels, one for each of the counter and the histogram).
        assert paths["/api/v1/query"] == 1 + detecting
        assert paths["/api/v1/labels"] == 2 * detecting
        if not (detecting or i % TARGETS_EVERY_S == 0):
            assert [path for path, _q in sent] == ["/api/v1/query"], (i, sent)
        # Read every few seconds, each says when: the wall time of its own read.
        read = done[i - i % 5][0].wall
        assert snap.targets_read_at == read and snap.alerts_read_at == read
        assert len(snap.instances) == 2 and snap.alerts
    steady = [len(sent) for _snap, sent in done[1:]]  # 60 seconds after the first round
    per_s = sum(steady) / len(steady)
    # 60 one-query rounds, 12 reads each of the targets and the alerts, 2 detections of 3.
    assert sum(steady) == 60 + 12 * 2 + 2 * 3
    assert per_s <= 3.0, f"{per_s:.2f} requests/s"
    a = Engine(engine_settings(), "p").observe(Observation(done[3][0].t, done[3][0].wall,
                                                           prom=done[3][0]))
    detail = a.sources["prometheus"].detail
    assert detail["targets_read_at"] == done[0][0].wall != detail["evaluated_at"]
    assert detail["alerts_read_at"] == done[0][0].wall


def values(rows: Any) -> list[tuple[tuple[tuple[str, str], ...], float]]:
    return sorted((tuple(sorted(labels.items())), v) for labels, v in rows)


def same(x: float | None, y: float | None) -> bool:
    if x is None or y is None:
        return x is y
    return (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)


def alone_at(prom: PromServer, snap: PromSnapshot) -> dict[str, Any]:
    """Each part of the round asked alone of Prometheus at the round's instant."""
    queries = round_queries(engine_settings(), snap.selector, snap.present, snap.window_s)
    assert set(queries) == {"buckets", "hist_count", "counter", "gauges",
                            "messages:websocket_messages_total"}
    alone = {}
    for key, expr in queries.items():
        alone[key] = tuple((item["metric"], float(item["value"][1]))  # type: ignore[index]
                           for item in prom.query(expr, snap.at))
        assert alone[key], key
    return alone


def assert_figures_as_alone(snap: PromSnapshot, alone: Mapping[str, Any]) -> None:
    """The round's vectors, figures, route table and each instance's p95 equal those from
    the parts asked one by one at that instant."""
    settings = engine_settings()
    assert set(snap.vectors) == set(alone)
    for key, rows in alone.items():
        got, want = values(snap.vectors[key]), values(rows)
        assert [labels for labels, _v in got] == [labels for labels, _v in want], key
        assert all(same(g, w) for (_l, g), (_m, w) in zip(got, want, strict=True)), key
    batched = Engine(settings, "p").observe(Observation(snap.t, snap.wall, prom=snap))
    parts = Engine(settings, "p").observe(Observation(
        snap.t, snap.wall, prom=dataclasses.replace(snap, vectors=alone)))
    assert batched.figures.keys() == parts.figures.keys()
    for key, f in batched.figures.items():
        g = parts.figures[key]
        assert same(f.value, g.value) and f.reason == g.reason, key
    # Not a vacuous equality: traffic, errors and latency were there to be counted.
    for key in ("requests_per_s", "error_rate_5xx_pct", "latency_p95_ms"):
        assert (batched.figures[key].value or 0.0) > 0, (key, batched.figures[key].reason)
    assert batched.routes.every and batched.routes.reason is None
    assert len(batched.routes.every) == len(parts.routes.every)
    for r, q in zip(batched.routes.every, parts.routes.every, strict=True):
        assert r.name == q.name
        assert all(same(getattr(r, x), getattr(q, x)) for x in (
            "requests", "requests_per_s", "p95_ms", "error_5xx_pct", "error_4xx_pct")), r.name
    for i, j in zip(batched.instances, parts.instances, strict=True):
        assert i.name == j.name and same(i.p95_ms, j.p95_ms)


def test_the_one_query_splits_into_what_each_part_answers_alone_at_the_same_instant(
        prom: PromServer) -> None:
    with CountingProxy(prom.url) as proxy:
        ((snap, _sent),) = rounds(proxy.url, 1, proxy)
    assert snap.part_by_part is None
    assert_figures_as_alone(snap, alone_at(prom, snap))


def test_a_part_prometheus_refuses_makes_only_its_own_figures_unknown(
        prom: PromServer) -> None:
    # Prometheus refuses the buckets (too many samples): the one query holding them, then
    # the buckets alone. The other parts, asked alone at the same instant, still serve.
    with CountingProxy(prom.url, refuse=lambda q: "_bucket{" in q) as proxy:
        done = rounds(proxy.url, int(DETECT_EVERY_S) + 1, proxy)
    snap, sent = done[0]
    refused = "execution: query processing would load too many samples"
    assert snap.error is None and snap.failures == {"buckets": refused}
    queries = [q["query"] for path, q in sent if path == "/api/v1/query"]
    assert len(queries) == 1 + 1 + 5  # detection, the one query, its five parts alone
    assert {q["time"] for path, q in sent if path == "/api/v1/query"} == {f"{snap.at:.3f}"}
    a = Engine(engine_settings(), "p").observe(Observation(snap.t, snap.wall, prom=snap))
    p95 = a.figures["latency_p95_ms"]
    assert p95.value is None and p95.reason is not None and refused in p95.reason
    assert (a.figures["requests_per_s"].value or 0.0) > 0
    assert a.figures["socket_connections"].value is not None
    # Refused every round: until the next detection the parts are asked directly (five
    # requests a round, not the one query first and then five), and the source says so.
    part_by_part = a.sources["prometheus"].detail["part_by_part"]
    assert refused in part_by_part and "until the next detection" in part_by_part
    for i, (later, then) in enumerate(done[1:int(DETECT_EVERY_S)], 1):
        asked = [q for path, q in then if path == "/api/v1/query"]
        assert len(asked) == 5 and not any("__sbtop" in q["query"] for q in asked), i
        assert {q["time"] for q in asked} == {f"{later.at:.3f}"}, i
        assert later.failures == {"buckets": refused} and later.part_by_part == part_by_part
    # The next detection tries the one query again (the refusal may have been passing).
    again = [q["query"] for path, q in done[int(DETECT_EVERY_S)][1] if path == "/api/v1/query"]
    assert len(again) == 1 + 1 + 5 and "__sbtop" in again[1]


def answer_sizes(prom: PromServer, snap: PromSnapshot) -> tuple[dict[str, int], int]:
    """The size of each part's answer alone at the round's instant, and of the one query's."""
    queries = round_queries(engine_settings(), snap.selector, snap.present, snap.window_s)

    def size(expr: str) -> int:
        return len(httpx.get(prom.url + "/api/v1/query", timeout=10, params={
            "query": expr, "time": f"{snap.at:.3f}"}).content)

    return {k: size(q) for k, q in queries.items()}, size(batch_query(queries))


def test_an_answer_too_large_only_as_one_query_is_asked_part_by_part_with_the_same_figures(
        prom: PromServer) -> None:
    # The cap (prometheus.max_answer_mb) above each part's answer but below their sum: the
    # one query's answer is refused, each part alone fits, and every figure is known, equal
    # to the parts' asked one by one.
    with CountingProxy(prom.url) as proxy:
        ((first, _sent),) = rounds(proxy.url, 1, proxy)
    parts, whole = answer_sizes(prom, first)
    cap = int(max(parts.values()) * 1.25)
    assert whole > cap * 1.25, (parts, whole)  # the premise: room either side of the cap
    with CountingProxy(prom.url) as proxy:
        (snap, sent), (later, then) = rounds(proxy.url, 2, proxy, max_answer_bytes=cap)
    assert snap.error is None and not snap.failures, (snap.error, snap.failures)
    asked = [q for path, q in sent if path == "/api/v1/query"]
    assert len(asked) == 1 + 1 + 5  # detection, the one query, its five parts alone
    assert {q["time"] for q in asked} == {f"{snap.at:.3f}"}
    assert snap.part_by_part is not None and "answer too large" in snap.part_by_part
    assert_figures_as_alone(snap, alone_at(prom, snap))
    assert later.error is None and not later.failures
    assert [path for path, _q in then] == ["/api/v1/query"] * 5


def test_a_part_too_large_alone_makes_only_its_own_figures_unknown(prom: PromServer) -> None:
    # The cap below the buckets' answer, above every other part's: latency is unknown,
    # saying the answer was too large; requests, errors and the gauges still serve.
    with CountingProxy(prom.url) as proxy:
        ((first, _sent),) = rounds(proxy.url, 1, proxy)
    parts, _whole = answer_sizes(prom, first)
    others = max(v for k, v in parts.items() if k != "buckets")
    assert parts["buckets"] > others * 1.5, parts  # the premise: room either side of the cap
    cap = int((parts["buckets"] * others) ** 0.5)
    with CountingProxy(prom.url) as proxy:
        ((snap, sent),) = rounds(proxy.url, 1, proxy, max_answer_bytes=cap)
    assert snap.error is None and set(snap.failures) == {"buckets"}, snap.failures
    assert "answer too large" in snap.failures["buckets"]
    assert {q["time"] for path, q in sent if path == "/api/v1/query"} == {f"{snap.at:.3f}"}
    a = Engine(engine_settings(), "p").observe(Observation(snap.t, snap.wall, prom=snap))
    for key in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms"):
        f = a.figures[key]
        assert f.value is None and f.reason is not None and "too large" in f.reason, key
    for key in ("requests_per_s", "error_rate_5xx_pct"):
        assert (a.figures[key].value or 0.0) > 0, (key, a.figures[key].reason)
    assert a.figures["socket_connections"].value is not None
    assert a.sources["prometheus"].up


def test_the_one_query_timing_out_while_prometheus_answers_is_asked_part_by_part(
        prom: PromServer) -> None:
    # The one query never answers (too slow to evaluate), Prometheus answers a trivial query:
    # each part alone, at the same instant, serves every figure; then part by part.
    with CountingProxy(prom.url) as proxy:
        proxy.hold = lambda q: "__sbtop" in q
        (snap, sent), (later, then) = rounds(proxy.url, 2, proxy, timeout_s=2.0)
    assert snap.error is None and not snap.failures, (snap.error, snap.failures)
    asked = [q for path, q in sent if path == "/api/v1/query"]
    # Detection, the one query, whether Prometheus answers at all, the five parts alone.
    assert len(asked) == 1 + 1 + 1 + 5 and asked[2]["query"] == "vector(1)"
    assert {q["time"] for q in asked} == {f"{snap.at:.3f}"}
    assert snap.part_by_part is not None and "no complete answer within 2 s" in snap.part_by_part
    assert_figures_as_alone(snap, alone_at(prom, snap))
    assert later.error is None and not later.failures
    assert [path for path, _q in then] == ["/api/v1/query"] * 5


def test_a_prometheus_not_answering_is_not_asked_part_by_part(prom: PromServer) -> None:
    # Round 1: nothing answers, not even a trivial query. The parts are not asked (N more
    # requests to a server that is not answering): every figure unknown, the source down.
    with CountingProxy(prom.url) as proxy:
        def hang() -> None:
            proxy.hold = lambda q: True

        done = rounds(proxy.url, 2, proxy, {1: hang}, timeout_s=1.0)
    failed, sent = done[1]
    assert failed.error == "no complete answer within 1 s"
    asked = [q["query"] for path, q in sent if path == "/api/v1/query"]
    assert len(asked) == 2 and "__sbtop" in asked[0] and asked[1] == "vector(1)"
    assert failed.part_by_part is None


def test_a_round_prometheus_does_not_answer_keeps_nothing_from_earlier_reads(
        prom: PromServer) -> None:
    # Round 0 reads the targets and alerts; round 1 finds Prometheus unavailable: no instance
    # list or alert from round 0 stands in for it. Round 2 reads them again (not 5 s later).
    with CountingProxy(prom.url) as proxy:
        def down() -> None:
            proxy.unavailable = True

        def up() -> None:
            proxy.unavailable = False

        done = rounds(proxy.url, 3, proxy, {1: down, 2: up})
    (first, _), (failed, _), (back, sent) = done
    assert first.instances and first.targets_read_at == first.wall
    assert failed.error == "unavailable: shutting down"
    assert failed.instances == () and failed.alerts == ()
    assert failed.targets_read_at is None and failed.alerts_read_at is None
    assert back.error is None and back.targets_read_at == back.wall
    assert back.alerts_read_at == back.wall and back.instances
    assert {path for path, _q in sent} >= {"/api/v1/targets", "/api/v1/alerts"}


def test_the_history_asks_the_bucket_layouts_once_for_the_three_quantiles(
        prom: PromServer) -> None:
    # The console's start-up fills p50, p95 and p99 from query_range; whether the instances'
    # bucket layouts agree is asked once a detection, not once a quantile.
    with CountingProxy(prom.url) as proxy:
        async def go() -> list[list[tuple[float, float]]]:
            async with PrometheusSource(PromSettings(proxy.url, SELECTOR),
                                        engine_settings()) as source:
                return [await source.history(k, 60.0, 1.0) for k in (
                    "latency_p50_ms", "latency_p95_ms", "latency_p99_ms")]

        drawn = asyncio.run(go())
    assert all(drawn)
    layouts = [q for path, q in proxy.log if path == "/api/v1/query"
               and q["query"].startswith("group by (instance, le)")]
    assert len(layouts) == 1
    assert [path for path, _q in proxy.log].count("/api/v1/query_range") == 3


def test_a_server_dropping_the_parts_tag_is_asked_part_by_part_with_the_same_figures(
        prom: PromServer) -> None:
    # A look-alike of Prometheus that drops labels starting with "__" from its answers:
    # the one query's series come back untagged, so each part is asked alone at the same
    # instant (the figures as before batching), and from then on directly.
    with CountingProxy(prom.url) as proxy:
        proxy.drop_underscored = True
        done = rounds(proxy.url, 2, proxy)
    (first, sent), (second, then) = done
    assert first.error is None and not first.failures and second.error is None
    queries = [q["query"] for path, q in sent if path == "/api/v1/query"]
    assert len(queries) == 1 + 1 + 5  # detection, the one query, its five parts alone
    assert [path for path, _q in then] == ["/api/v1/query"] * 5
    a = Engine(engine_settings(), "p").observe(Observation(first.t, first.wall, prom=first))
    assert (a.figures["requests_per_s"].value or 0.0) > 0
    assert a.figures["latency_p95_ms"].value is not None
