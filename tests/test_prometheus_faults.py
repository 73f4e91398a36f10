"""A Prometheus that misbehaves (a loopback server answering as a broken or impostor
Prometheus would): every failure makes the figures unknown with the reason, never 0, never a
traceback; and the configured credentials reach it while never appearing in what sbtop says."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sbtop import config
from sbtop.collector import Collector
from sbtop.engine.assessment import Assessment, to_dict
from sbtop.engine.engine import Engine
from sbtop.engine.observations import Observation, PromSnapshot
from sbtop.sources.prometheus import PrometheusSource, PromSettings
from tests.cli import peak_rss
from tests.servers import Answer, LoopbackServer

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow

JSON = "application/json"
EMPTY_OK = Answer(200, json.dumps({"status": "success", "data": {
    "resultType": "vector", "result": []}}).encode(), JSON)


def answers(query: Answer) -> dict[str, Answer]:
    ok_targets = Answer(200, b'{"status":"success","data":{"activeTargets":[]}}', JSON)
    ok_alerts = Answer(200, b'{"status":"success","data":{"alerts":[]}}', JSON)
    return {"/api/v1/query": query, "/api/v1/targets": ok_targets,
            "/api/v1/alerts": ok_alerts}


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as s:
        yield s


def observe(url: str, settings: PromSettings | None = None) -> tuple[Assessment, PromSnapshot]:
    target = config.resolve(config.Config(targets={"p": config.TargetConfig(
        prometheus=config.PrometheusConfig(url=url, selector='job="x"'))}))

    async def go() -> PromSnapshot:
        async with PrometheusSource(settings or PromSettings(url, 'job="x"', timeout_s=1.0),
                                    target.engine) as source:
            return await source.observe()

    snap = asyncio.run(go())
    return Engine(target.engine, "p").observe(Observation(0, 0, prom=snap)), snap


@pytest.mark.parametrize(("answer", "reason"), [
    (Answer(503, b'{"status":"error","errorType":"unavailable","error":"shutting down"}', JSON),
     "unavailable: shutting down"),
    (Answer(422, b'{"status":"error","errorType":"execution","error":"too many samples"}', JSON),
     "execution: too many samples"),
    (Answer(502, b"<html>bad gateway</html>", "text/html"), "HTTP 502, not JSON"),
    (Answer(200, b"[1, 2]", JSON), "not a Prometheus API answer"),
    (Answer(200, b'{"status":"success","data":{"resultType":"vector","result":[{}]}}', JSON),
     "malformed query answer"),
    (Answer(200, b'{"status":"success","data":{"resultType":"matrix","result":[]}}', JSON),
     "unexpected result type"),
    (Answer(hang=True), "no complete answer within 1 s"),
])
def test_each_failure_makes_every_figure_unknown_with_its_reason(
        server: LoopbackServer, answer: Answer, reason: str) -> None:
    server.routes.update(answers(answer))
    a, _snap = observe(server.url)
    for f in a.figures.values():
        assert f.value is None and f.level.value == "unknown"
        assert reason in (f.reason or ""), f.reason
    assert not a.sources["prometheus"].up


def test_an_empty_answer_is_unknown_not_zero(server: LoopbackServer) -> None:
    server.routes.update(answers(EMPTY_OK))
    a, _snap = observe(server.url)
    f = a.figures["requests_per_s"]
    assert f.value is None and f.reason == (
        'Prometheus has no http_request_duration_seconds or http_requests_total for {job="x"}')


def test_the_header_and_basic_auth_reach_it_and_never_show(server: LoopbackServer) -> None:
    server.routes.update(answers(Answer(401, b'{"status":"error","errorType":"auth",'
                                             b'"error":"unauthorized"}', JSON)))
    secret = "s3cr3t-token-value"
    a, _snap = observe(server.url, PromSettings(server.url, 'job="x"', timeout_s=1.0,
                                                headers={"X-Scope-OrgID": secret},
                                                basic_auth=("sbtop", "pw-" + secret)))
    sent = server.requests[-1]["headers"]
    assert sent.get("X-Scope-OrgID") == secret and sent.get("Authorization", "").startswith(
        "Basic ")
    shown = json.dumps(to_dict(a))
    assert "unauthorized" in shown and secret not in shown


def test_header_and_password_come_from_the_environment() -> None:
    cfg = config.Config(targets={"p": config.TargetConfig(prometheus=config.PrometheusConfig(
        url="http://127.0.0.1:9", header="Authorization", header_env="PROM_TOKEN",
        basic_user="me", basic_password_env="PROM_PW"))})
    t = config.resolve(cfg, env={"PROM_TOKEN": "Bearer abc", "PROM_PW": "pw"})
    prom = t.collector.prometheus
    assert prom is not None and prom.headers == {"Authorization": "Bearer abc"}
    assert prom.basic_auth == ("me", "pw")
    assert "abc" not in repr(t) and "pw" not in repr(t)


def test_odd_field_types_in_targets_and_alerts_become_text(server: LoopbackServer) -> None:
    server.routes.update(answers(EMPTY_OK))
    server.routes["/api/v1/targets"] = Answer(200, json.dumps({"status": "success", "data": {
        "activeTargets": [{"labels": {"job": "x", "instance": "10.0.0.1:3000"},
                           "health": "down", "lastError": 5}]}}).encode(), JSON)
    server.routes["/api/v1/alerts"] = Answer(200, json.dumps({"status": "success", "data": {
        "alerts": [{"labels": {"alertname": "A", "severity": ["x"]}, "state": "firing",
                    "annotations": {"summary": ["not", "text"]}, "activeAt": 7}]}}).encode(),
        JSON)
    a, snap = observe(server.url)
    assert snap.instances[0].error == "5" and not snap.instances[0].up
    alert = snap.alerts[0]
    assert alert.summary == '["not", "text"]' and alert.since == "7"
    assert all(isinstance(x, str) for x in (alert.severity, alert.summary, alert.since))
    assert a.level.value == "warning"  # the instance down


def test_targets_or_alerts_that_cannot_be_read_are_said_not_hidden(
        server: LoopbackServer) -> None:
    server.routes.update(answers(EMPTY_OK))
    server.routes["/api/v1/targets"] = Answer(403, b"forbidden", "text/plain")
    server.routes["/api/v1/alerts"] = Answer(503, b'{"status":"error","errorType":"x",'
                                                  b'"error":"busy"}', JSON)
    a, _snap = observe(server.url)
    assert any("Prometheus targets unavailable (HTTP 403, not JSON" in n for n in a.notes)
    assert any("Prometheus alerts unavailable (x: busy)" in n for n in a.notes)
    # An alert may be firing where sbtop cannot see: never ok, and said so.
    assert a.level.value == "unknown" and a.external_alerts_error == "x: busy"
    from sbtop import check

    text = check.as_text(a)
    assert "Prometheus alerts: unknown (x: busy)" in text
    assert "none pending or firing" not in text


def test_figures_come_even_where_the_labels_and_metadata_apis_are_missing(
        server: LoopbackServer) -> None:
    # An older or trimmed-down Prometheus: /api/v1/labels and the metadata answer 404. Every
    # query gets this one answer (detection finds the histogram's _count in job x; the round's
    # one query finds its rate, 5/s of 200s, tagged as that part): the labels only serve
    # rules and history, never the figures.
    answer = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"__name__": "http_request_duration_seconds_count", "job": "x",
                    "status_code": "200", "__sbtop": "hist_count"}, "value": [1, "5"]}]}}
    server.routes.update(answers(Answer(200, json.dumps(answer).encode(), JSON)))
    a, _snap = observe(server.url)
    assert a.sources["prometheus"].up
    assert a.figures["requests_per_s"].value == pytest.approx(5.0)


def test_the_selector_picks_targets_as_promql_matchers_do() -> None:
    from sbtop.engine.selector import selector_matchers

    labels = {"job": "a,b", "env": "prod-eu", "service": "api"}
    def picks(selector: str) -> bool:
        return all(m(labels) for m in selector_matchers(selector))

    assert picks('job="a,b"') and not picks('job="a"')
    assert picks('env=~"prod-.*", service!="web"') and not picks('env!~"prod.*"')
    assert picks('job="a,b",env=~"prod-(eu|us)"')


# --- bounded in time and size (issue 14, item 5 and 6) --------------------------------------

MB = 1024 * 1024


def vector_of(size: int) -> bytes:
    """A valid vector answer of about `size` bytes: what a query matching far too much sends
    (one series repeated: parsing costs the same), tagged as the round's query tags the
    request counter's part."""
    item = json.dumps({"metric": {"__name__": "http_requests_total", "job": "x",
                                  "route": "/api/tasks/1", "status": "200",
                                  "__sbtop": "counter"},
                       "value": [1, "1"]}).encode()
    head = b'{"status":"success","data":{"resultType":"vector","result":['
    return head + b",".join([item] * (size // (len(item) + 1))) + b"]}}"


def test_a_trickling_prometheus_is_cut_off_at_the_deadline_not_after_its_last_byte(
        server: LoopbackServer) -> None:
    # Every answer valid, a byte every 50 ms: 6 s each. httpx's timeout bounds each read
    # (never reached); the deadline bounds the answer.
    slow = EMPTY_OK.body.ljust(120)
    server.routes.update({path: Answer(200, slow, JSON, trickle_s=0.05) for path in (
        "/api/v1/query", "/api/v1/targets", "/api/v1/alerts")})
    a, snap = observe(server.url)
    assert snap.error == "no complete answer within 1 s"
    assert not a.sources["prometheus"].up
    assert a.figures["requests_per_s"].reason == (
        "Prometheus unavailable: no complete answer within 1 s")
    server.assert_cut_off(1.0)  # every answer left unfinished: not 6 s


@pytest.mark.parametrize("gzip", [False, True], ids=["its length declared", "gzip"])
def test_a_huge_answer_is_refused_before_it_is_parsed(server: LoopbackServer,
                                                      gzip: bool) -> None:
    # Declared, it is refused on the head; gzip'd (100 KB on the wire), the cap counts what
    # it decodes to, as it streams.
    server.routes.update(answers(Answer(200, vector_of(12 * MB), JSON, gzip=gzip)))
    a, snap = observe(server.url)
    assert snap.error == "answer too large: over 8 MB (raise prometheus.max_answer_mb)"
    assert a.figures["requests_per_s"].value is None


def test_the_cap_is_what_the_settings_say(server: LoopbackServer) -> None:
    server.routes.update(answers(Answer(200, vector_of(MB + MB // 2), JSON)))
    for cap, error in ((MB, "answer too large: over 1 MB (raise prometheus.max_answer_mb)"),
                       (2 * MB, None)):
        _a, snap = observe(server.url, PromSettings(server.url, 'job="x"', timeout_s=5.0,
                                                    max_answer_bytes=cap))
        assert snap.error == error


def test_max_answer_mb_reaches_the_source() -> None:
    cfg = config.parse({"targets": {"p": {"prometheus": {"url": "http://127.0.0.1:9",
                                                         "max_answer_mb": 2.5}}}})
    collector = Collector(config.resolve(cfg).collector)
    assert collector.prom is not None and collector.prom.s.max_answer_bytes == int(2.5 * MB)
    with pytest.raises(config.ConfigError, match=r"prometheus\.max_answer_mb: must be greater"):
        config.parse({"targets": {"p": {"prometheus": {"max_answer_mb": 0}}}})


def test_check_against_a_huge_answer_stays_small(server: LoopbackServer,
                                                  tmp_path: Path) -> None:
    # 40 MB of vector, gzip'd: once parsed it took over 2 GB (issue 14: 20 MB, 1.39 GB).
    server.routes.update(answers(Answer(200, vector_of(40 * MB), JSON, gzip=True)))
    cfg = tmp_path / "p.toml"
    cfg.write_text(f'[targets.p]\nhealth_path = ""\n[targets.p.prometheus]\n'
                   f'url = "{server.url}"\nselector = \'job="x"\'\n')
    p, peak_mb = peak_rss([sys.executable, "-m", "sbtop", "check", "--config", str(cfg),
                           "--window", "1"], tmp_path / "rss")
    assert p.returncode == 3 and "Traceback" not in p.stderr, p.stderr
    assert ("source prometheus: DOWN: answer too large: over 8 MB (raise "
            "prometheus.max_answer_mb)") in p.stdout, p.stdout
    assert peak_mb < 200, f"peak RSS {peak_mb:.0f} MB"
