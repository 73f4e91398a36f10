"""Prometheus's answers made into figures, worked by hand: the same computation as a direct
scrape, whatever label the status is under, an empty 5xx class is 0, a job is chosen only
when it is the only one, and Prometheus's alerts count for their own target only."""

from __future__ import annotations

import math

import pytest

from sbtop.engine.engine import Engine
from sbtop.engine.levels import Level
from sbtop.engine.observations import ExternalAlert, Observation, PromSnapshot
from sbtop.engine.prom_alerts import alert_level, alert_scope
from sbtop.engine.prom_batch import TAG, StrayRows, batch_query, split_batch
from sbtop.engine.promql import choose_scope, round_queries
from sbtop.engine.settings import EngineSettings

SETTINGS = EngineSettings(window_s=10, min_requests=10)
H = "http_request_duration_seconds"
PRESENT = frozenset({H + "_bucket", H + "_count", "http_requests_total"})


def buckets(per_s: dict[float, float], **labels: str) -> list[tuple[dict[str, str], float]]:
    return [({"le": "+Inf" if math.isinf(le) else str(le), **labels}, rate)
            for le, rate in per_s.items()]


def snap(vectors: dict[str, list[tuple[dict[str, str], float]]], **kw: object) -> PromSnapshot:
    return PromSnapshot(0.0, 1_800_000_000.0, window_s=10, at=1_800_000_000.0,
                        selector='job="sb"', present=kw.pop("present", PRESENT),  # type: ignore[arg-type]
                        vectors={k: tuple(v) for k, v in vectors.items()}, **kw)  # type: ignore[arg-type]


def figures(s: PromSnapshot) -> dict[str, object]:
    a = Engine(SETTINGS).observe(Observation(0.0, 1_800_000_000.0, prom=s))
    return {k: (f.value if f.value is not None else f.reason) for k, f in a.figures.items()}


LATENCY = buckets({0.1: 9.0, 0.5: 10.0, math.inf: 10.0}, route="/api/tasks", method="GET")


def test_no_5xx_series_is_zero_percent_of_the_requests_counted() -> None:
    got = figures(snap({"buckets": LATENCY, "counter": [
        ({"route": "/api/tasks", "method": "GET", "status": "200"}, 9.0),
        ({"route": "/api/tasks", "method": "GET", "status": "404"}, 1.0)]}))
    assert got["error_rate_5xx_pct"] == 0.0
    assert got["error_rate_4xx_pct"] == pytest.approx(10.0)
    assert got["requests_per_s"] == pytest.approx(10.0)
    # rank 95 of 100 in (0.1, 0.5] holding 10: 0.1 + 0.4 x 5/10.
    assert got["latency_p95_ms"] == pytest.approx(300.0)


@pytest.mark.parametrize("label", ["status", "status_code", "code"])
def test_the_status_is_read_under_whichever_label_the_counter_has(label: str) -> None:
    got = figures(snap({"buckets": LATENCY, "counter": [
        ({label: "200"}, 19.0), ({label: "503"}, 1.0)]}))
    assert got["error_rate_5xx_pct"] == pytest.approx(5.0)


def test_without_a_request_counter_the_histograms_count_serves() -> None:
    present = frozenset({H + "_bucket", H + "_count"})
    got = figures(snap({"buckets": LATENCY, "hist_count": [
        ({"status_code": "200", "path": "/a"}, 18.0), ({"status_code": "500", "path": "/a"}, 2.0)]},
        present=present))
    assert got["error_rate_5xx_pct"] == pytest.approx(10.0)
    assert got["requests_per_s"] == pytest.approx(20.0)


def test_instances_with_different_buckets_make_the_quantiles_unknown() -> None:
    mixed = (buckets({0.1: 5.0, 0.5: 10.0, math.inf: 10.0}, instance="a:1")
             + buckets({0.3: 5.0, 1.5: 10.0, math.inf: 10.0}, instance="b:1"))
    got = figures(snap({"buckets": mixed, "counter": [({"status": "200"}, 20.0)]}))
    assert "the instances' histogram buckets differ" in str(got["latency_p95_ms"])
    assert got["requests_per_s"] == pytest.approx(20.0)


def test_a_failed_query_makes_only_what_it_feeds_unknown_with_why() -> None:
    got = figures(snap({"buckets": LATENCY}, failures={"counter": "execution: timeout"}))
    assert got["requests_per_s"] == "Prometheus: execution: timeout"
    assert got["latency_p95_ms"] == pytest.approx(300.0)


def test_the_queries_ask_for_the_window_and_only_what_exists() -> None:
    q = round_queries(SETTINGS, 'job="sb"', {H + "_bucket", "socket_io_connected"}, 7)
    assert q == {"buckets": f'sum without (status, status_code, code) (rate({H}_bucket'
                            '{job="sb"}[7s]))',
                 "gauges": '{__name__=~"socket_io_connected",job="sb"}'}


def test_a_job_is_chosen_only_when_it_is_the_only_one_with_the_apps_metrics() -> None:
    one = choose_scope(SETTINGS, "", {"sb": {H + "_bucket"}, "prometheus": {"up"}})
    assert one.selector == 'job="sb"' and one.refusal is None and one.note
    several = choose_scope(SETTINGS, "", {"a": {H + "_bucket"}, "b": {"http_requests_total"}})
    assert several.refusal is not None and "2 jobs (a, b)" in several.refusal
    assert several.jobs == ("a", "b")
    given = choose_scope(SETTINGS, 'job="a"', {"a": {H + "_bucket"}})
    assert given.selector == 'job="a"' and given.refusal is None and given.note is None


def test_prometheus_alerts_count_by_severity_for_their_own_target() -> None:
    def alert(state: str, severity: str | None, **labels: str) -> ExternalAlert:
        return ExternalAlert("A", state, severity=severity, labels=labels)

    assert alert_level(alert("firing", "critical")) is Level.CRITICAL
    assert alert_level(alert("firing", "page")) is Level.CRITICAL
    assert alert_level(alert("firing", None)) is Level.WARNING
    assert alert_level(alert("firing", "info")) is Level.OK
    assert alert_level(alert("pending", "critical")) is Level.OK
    assert alert_scope(alert("firing", "critical", job="sb"), 'job="sb"') == "target"
    assert alert_scope(alert("firing", "critical", job="other"), 'job="sb"') == "other"
    assert alert_scope(alert("firing", "critical"), 'job="sb"') == "unlabelled"
    s = snap({"buckets": LATENCY, "counter": [({"status": "200"}, 10.0)]}, alerts=(
        alert("firing", "critical", job="sb", alertname="Mine"),
        alert("firing", "critical", job="other"), alert("firing", "critical")))
    a = Engine(SETTINGS).observe(Observation(0.0, 1_800_000_000.0, prom=s))
    assert a.level is Level.CRITICAL
    assert [(x.scope, x.counted) for x in a.external_alerts] == [("target", True),
                                                                 ("unlabelled", False)]


def test_names_present_with_no_rate_in_the_window_are_unknown_not_zero() -> None:
    # The window holds fewer than two scrapes: rate() gives nothing for series that exist.
    present = PRESENT | {"websocket_messages_total"}
    got = figures(snap({"buckets": [], "hist_count": [], "counter": [],
                        "messages:websocket_messages_total": []}, present=present))
    for key in ("requests_per_s", "error_rate_5xx_pct", "latency_p95_ms",
                "socket_messages_per_s"):
        assert "fewer than two samples" in str(got[key]), (key, got[key])


def test_an_infinite_message_rate_is_unknown_saying_so() -> None:
    present = PRESENT | {"websocket_messages_total"}
    got = figures(snap({"buckets": LATENCY, "counter": [({"status": "200"}, 10.0)],
                        "messages:websocket_messages_total": [({}, math.inf)]},
                       present=present))
    assert "rate is inf" in str(got["socket_messages_per_s"])


def test_instances_exporting_differently_are_each_read_as_they_export() -> None:
    # One instance has the counter and active_websocket_connections; the other (an
    # express-prom-bundle app) has neither: the histogram's _count serves for both, and each
    # instance's sockets and messages are read under its own names.
    present = frozenset({H + "_bucket", H + "_count", "http_requests_total",
                         "active_websocket_connections", "socket_io_connected",
                         "websocket_messages_total", "socket_io_events_received_total"})
    got = figures(snap({
        "buckets": (buckets({0.1: 9.0, 0.5: 10.0, math.inf: 10.0}, instance="a:1")
                    + buckets({0.1: 9.0, 0.5: 10.0, math.inf: 10.0}, instance="b:1")),
        "hist_count": [({"instance": "a:1", "status_code": "200"}, 10.0),
                       ({"instance": "b:1", "status_code": "500"}, 10.0)],
        "counter": [({"instance": "a:1", "status": "200"}, 10.0)],
        "messages:websocket_messages_total": [({"instance": "a:1"}, 3.0)],
        "messages:socket_io_events_received_total": [({"instance": "b:1"}, 4.0)],
        "gauges": [({"__name__": "active_websocket_connections", "instance": "a:1"}, 7.0),
                   ({"__name__": "socket_io_connected", "instance": "b:1"}, 12.0)]},
        present=present))
    assert got["requests_per_s"] == pytest.approx(20.0)
    assert got["error_rate_5xx_pct"] == pytest.approx(50.0)
    assert got["socket_connections"] == 19
    assert got["socket_messages_per_s"] == pytest.approx(7.0)


def test_selectors_are_read_in_every_quote_form_and_refused_when_not_matchers() -> None:
    from sbtop.engine.selector import SelectorError, selector_matchers

    for selector in ('job="sb"', "job='sb'", "job=`sb`", '{job="sb"}', ' job = "sb" , '):
        (m,) = selector_matchers(selector)
        assert (m.name, m.op, m.value) == ("job", "=", "sb"), selector
    for bad in ("job=sb", 'job="sb" env', "sum(x)"):
        with pytest.raises(SelectorError):
            selector_matchers(bad)


def test_an_alert_lacking_one_of_the_selectors_labels_is_still_the_targets() -> None:
    selector = 'job="sb",instance=~".+"'
    assert alert_scope(ExternalAlert("A", "firing", labels={"job": "sb"}), selector) == "target"
    assert alert_scope(ExternalAlert("A", "firing", labels={"job": "x"}), selector) == "other"
    assert alert_scope(ExternalAlert("A", "firing", labels={"job": "sb", "instance": ""}),
                       selector) == "other"


# --- one query a round: the parts tagged, joined, and split back --------------------------------

def tagged(part: str, rows: list[tuple[dict[str, str], float]]
           ) -> list[tuple[dict[str, str], float]]:
    """Rows as the round's one query answers them: each series carries its part's tag."""
    return [({**labels, TAG: part}, v) for labels, v in rows]


def test_the_round_is_one_query_with_each_part_tagged() -> None:
    q = batch_query({"buckets": "sum(rate(a[10s]))", "messages:m_total": 'm{job="x"}'})
    assert q == ('label_replace(sum(rate(a[10s])), "__sbtop", "buckets", "", "") or '
                 'label_replace(m{job="x"}, "__sbtop", "messages:m_total", "", "")')


def test_the_split_gives_each_part_what_its_own_query_would_have() -> None:
    counter = [({"route": "/api/tasks", "method": "GET", "status": "200"}, 9.0),
               ({"route": "/api/tasks", "method": "GET", "status": "404"}, 1.0)]
    rows = tagged("buckets", LATENCY) + tagged("counter", counter)
    parts = split_batch(rows, ["buckets", "counter"])
    assert parts == {"buckets": tuple(LATENCY), "counter": tuple(counter)}
    assert figures(snap(dict(parts))) == figures(snap({"buckets": LATENCY, "counter": counter}))
    # No 5xx series is 0 % through the split as through the counter's own query: 0 is true.
    assert figures(snap(dict(parts)))["error_rate_5xx_pct"] == 0.0


def test_a_part_with_no_series_in_the_answer_is_unknown_with_why_not_zero() -> None:
    # The counter and the gauges were asked, but the answer holds only the buckets: those
    # parts are empty vectors (their own queries would have answered []), never 0.
    present = PRESENT | {"process_resident_memory_bytes"}
    parts = split_batch(tagged("buckets", LATENCY), ["buckets", "counter", "gauges"])
    assert parts["counter"] == () and parts["gauges"] == ()
    got = figures(snap(dict(parts), present=present))
    assert "fewer than two samples of http_requests_total" in str(got["requests_per_s"])
    assert got["latency_p95_ms"] == pytest.approx(300.0)


def test_an_instance_missing_from_one_part_is_read_as_its_own_query_would_be() -> None:
    # Instance b has no series in the counter part (not yet scraped): the figures count
    # each instance only where every instance gives it, as with separate queries.
    counter = [({"instance": "a:1", "status": "200"}, 10.0)]
    hist = [({"instance": "a:1", "status_code": "200"}, 10.0),
            ({"instance": "b:1", "status_code": "500"}, 10.0)]
    parts = split_batch(tagged("counter", counter) + tagged("hist_count", hist)
                        + tagged("buckets", LATENCY), ["buckets", "hist_count", "counter"])
    separate = figures(snap({"buckets": LATENCY, "hist_count": hist, "counter": counter}))
    assert figures(snap(dict(parts))) == separate
    assert separate["requests_per_s"] == pytest.approx(20.0)  # the _count serves: both
    assert separate["error_rate_5xx_pct"] == pytest.approx(50.0)


def test_a_series_of_no_part_asked_makes_the_answer_malformed() -> None:
    with pytest.raises(StrayRows):
        split_batch([({"le": "1"}, 1.0)], ["buckets"])
    with pytest.raises(StrayRows):
        split_batch(tagged("gauges", [({}, 1.0)]), ["buckets"])
