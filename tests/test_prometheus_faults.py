"""A Prometheus that misbehaves (a loopback server answering as a broken or impostor
Prometheus would): every failure makes the figures unknown with the reason, never 0, never a
traceback; and the configured credentials reach it while never appearing in what sbtop says."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from sbtop import config
from sbtop.engine.assessment import Assessment, to_dict
from sbtop.engine.engine import Engine
from sbtop.engine.observations import Observation, PromSnapshot
from sbtop.sources.prometheus import PrometheusSource, PromSettings
from tests.servers import Answer, LoopbackServer

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
    (Answer(hang=True), "no answer within 1 s"),
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
    assert t.secrets["prometheus_header"] == "Bearer abc"
    assert t.secrets["prometheus_password"] == "pw"
    assert "abc" not in repr(t) and "pw" not in repr(t.secrets.keys())


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
    # query gets this one answer (detection finds the histogram's _count in job x; its rate
    # is 5/s of 200s): the labels only serve rules and history, never the figures.
    answer = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"__name__": "http_request_duration_seconds_count", "job": "x",
                    "status_code": "200"}, "value": [1, "5"]}]}}
    server.routes.update(answers(Answer(200, json.dumps(answer).encode(), JSON)))
    a, _snap = observe(server.url)
    assert a.sources["prometheus"].up
    assert a.figures["requests_per_s"].value == pytest.approx(5.0)


def test_the_selector_picks_targets_as_promql_matchers_do() -> None:
    from sbtop.engine.promql import selector_matchers

    labels = {"job": "a,b", "env": "prod-eu", "service": "api"}
    def picks(selector: str) -> bool:
        return all(m(labels) for m in selector_matchers(selector))

    assert picks('job="a,b"') and not picks('job="a"')
    assert picks('env=~"prod-.*", service!="web"') and not picks('env!~"prod.*"')
    assert picks('job="a,b",env=~"prod-(eu|us)"')
