"""The canary cohort against the stable cohort: the cohort label read from the pages (one
target, several instances, Prometheus's answers), each cohort's figures with the requests behind
them, the comparison's verdict, and the canary gate that reads it. Worked by hand."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from sbtop.engine.assessment import to_dict
from sbtop.engine.cohorts import FAIL, NO_LABEL, PASS, WAITING
from sbtop.engine.engine import Engine
from sbtop.engine.gate import GateSettings, evaluate
from sbtop.engine.keys import Fig
from sbtop.engine.levels import Level
from sbtop.engine.observations import MetricsScrape, Observation, PromSnapshot
from sbtop.engine.settings import CohortSettings, EngineSettings
from tests.pagegen import PageText, obs

INF = float("inf")
COHORTS = CohortSettings(min_canary_requests=100)
SETTINGS = EngineSettings(window_s=60, min_requests=10, cohorts=COHORTS)


def cohort_page(canary: dict[float, float], stable: dict[float, float],
                canary_5xx: float = 0, stable_5xx: float = 0, started: float = 1000,
                label: str = "variant") -> PageText:
    """Two cohorts of one route: their buckets, and their requests by status on the counter
    (5xx out of the +Inf count)."""
    page = PageText()
    for value, buckets, bad in (("optimized", canary, canary_5xx),
                                ("baseline", stable, stable_5xx)):
        labels = {"method": "GET", "route": "/api/friends/list", "status_code": "200"}
        if label:
            labels[label] = value
        page.histogram(labels, buckets)
        counter = {"method": "GET", "route": "/api/friends/list"}
        if label:
            counter[label] = value
        page.sample("http_requests_total", {**counter, "status": "200"},
                    buckets.get(INF, 0) - bad)
        page.sample("http_requests_total", {**counter, "status": "500"}, bad)
    page.sample("process_start_time_seconds", {}, started)
    return page


ZERO = {0.1: 0, 0.25: 0, 0.5: 0, 1.0: 0, INF: 0}


def run(pages: list[PageText], settings: EngineSettings = SETTINGS):  # type: ignore[no-untyped-def]
    e = Engine(settings)
    a = None
    for i, p in enumerate(pages):
        a = e.observe(obs(10.0 * i, p.page()))
    assert a is not None
    return a


def test_each_cohort_gets_its_figures_and_the_requests_behind_them() -> None:
    # In the window: canary 200 requests, 100 <= 0.1 s, 100 in (0.1, 0.25]; stable 2,000, all
    # <= 0.1 s. Canary p95: rank 190 in bucket 2 (100 below, 100 inside): 0.1 + 0.15 x 90/100
    # = 0.235 s. Stable p95: 0.1 x 0.95 = 0.095 s. 4 canary 5xx of 200: 2 %.
    a = run([cohort_page(ZERO, ZERO),
             cohort_page({0.1: 100, 0.25: 200, 0.5: 200, 1.0: 200, INF: 200},
                         {0.1: 2000, 0.25: 2000, 0.5: 2000, 1.0: 2000, INF: 2000},
                         canary_5xx=4, stable_5xx=2)])
    c = a.cohorts
    assert c is not None and c.canary is not None and c.stable is not None
    assert c.canary.requests == 200 and c.stable.requests == 2000
    assert c.canary.p95_ms == pytest.approx(235.0)
    assert c.stable.p95_ms == pytest.approx(95.0)
    assert c.canary.error_rate_5xx_pct == pytest.approx(2.0)
    assert c.stable.error_rate_5xx_pct == pytest.approx(0.1)
    assert c.canary.requests_per_s == pytest.approx(20.0)
    assert c.comparison is not None
    assert c.comparison.p95_diff_pct == pytest.approx((235 - 95) / 95 * 100)
    assert c.comparison.latency.state == FAIL
    assert c.comparison.latency.said == (
        "canary p95 +147 % vs stable, significant (p<0.001), 200 vs 2,000 requests: FAIL")
    f = a.figures[Fig.CANARY_P95_VS_STABLE_PCT]
    assert f.level is Level.CRITICAL and f.detail.verdict == FAIL and not f.judged
    out = json.loads(json.dumps(to_dict(a)))["cohorts"]
    assert out["canary"]["requests"] == 200 and out["stable"]["requests"] == 2000
    assert out["comparison"]["latency"]["verdict"] == "fail"
    assert out["canary"]["latency_p95_ms"] == 235


def test_too_few_canary_requests_is_waiting_and_shuts_the_gate() -> None:
    a = run([cohort_page(ZERO, ZERO),
             cohort_page({0.1: 62, 0.25: 62, 0.5: 62, 1.0: 62, INF: 62},
                         {0.1: 2000, 0.25: 2000, 0.5: 2000, 1.0: 2000, INF: 2000})])
    f = a.figures[Fig.CANARY_P95_VS_STABLE_PCT]
    assert f.value is None and f.level is Level.UNKNOWN and f.detail.verdict == WAITING
    assert f.reason == "waiting for 38 more canary requests (62 of 100)"
    gate = evaluate(5, 0.0, 1e12, 95.0, a.figures, GateSettings())
    cohort = [c for c in gate.criteria if c.name == "cohort p95"]
    assert cohort and cohort[0].passed is False  # never a pass
    assert cohort[0].shown == "cohort p95: waiting for 38 more canary requests (62 of 100)"
    assert not gate.open


def test_a_criterion_waiting_for_requests_is_marked_wait_not_fail() -> None:
    """The Canary panel and `sbtop canary status` put FAIL before "cohort p95: waiting for 38
    more canary requests": shut for want of requests, but nothing failed. A FAIL stays one."""
    a = run([cohort_page(ZERO, ZERO),
             cohort_page({0.1: 62, 0.25: 62, 0.5: 62, 1.0: 62, INF: 62},
                         {0.1: 2000, 0.25: 2000, 0.5: 2000, 1.0: 2000, INF: 2000})])
    gate = evaluate(5, 0.0, 1e12, 95.0, a.figures, GateSettings())
    cohort = [c for c in gate.criteria if c.name.startswith("cohort")]
    assert [(c.passed, c.waiting) for c in cohort] == [(False, True), (False, True)]
    canary = {0.1: 100, 0.25: 200, 0.5: 200, 1.0: 200, INF: 200}
    stable = {0.1: 22000, 0.25: 22900, 0.5: 22900, 1.0: 22900, INF: 22900}
    a = run([cohort_page(ZERO, ZERO), cohort_page(canary, stable)])
    failing = evaluate(5, 0.0, 1e12, 100.0, a.figures, GateSettings()).failing[0]
    assert failing.name == "cohort p95" and not failing.waiting


def test_a_significant_but_small_difference_passes_within_the_tolerance() -> None:
    # Huge traffic, the canary a little slower: significant, but its p95 only ~5 % over.
    canary = {0.1: 40000, 0.25: 100000, 0.5: 100000, 1.0: 100000, INF: 100000}
    stable = {0.1: 45000, 0.25: 100000, 0.5: 100000, 1.0: 100000, INF: 100000}
    a = run([cohort_page(ZERO, ZERO), cohort_page(canary, stable)])
    c = a.cohorts
    assert c is not None and c.comparison is not None
    v = c.comparison.latency
    assert v.p is not None and v.p < 0.001
    assert v.difference is not None and 0 < v.difference < 10
    assert v.state == PASS and "within +10%" in v.said


def test_the_same_distribution_on_both_cohorts_passes() -> None:
    canary = {0.1: 100, 0.25: 190, 0.5: 200, 1.0: 200, INF: 200}
    stable = {k: v * 10 for k, v in canary.items()}
    a = run([cohort_page(ZERO, ZERO), cohort_page(canary, stable)])
    gate = evaluate(5, 0.0, 1e12, 10.0, a.figures, GateSettings())
    names = [c.name for c in gate.criteria]
    assert "cohort p95" in names and "cohort 5xx" in names
    # The baseline (10 ms, far below) is not what judges the step: the stable cohort is.
    assert "p95" not in names
    assert gate.open


def test_canary_errors_are_compared_with_the_stable_cohorts() -> None:
    # 12 of 300 canary requests fail, 30 of 3,000 stable: 4 % against 1 %, +3 points.
    same = {0.1: 300, 0.25: 300, 0.5: 300, 1.0: 300, INF: 300}
    a = run([cohort_page(ZERO, ZERO),
             cohort_page(same, {k: v * 10 for k, v in same.items()}, canary_5xx=12,
                         stable_5xx=30)])
    c = a.cohorts
    assert c is not None and c.comparison is not None
    assert c.comparison.error_diff_pts == pytest.approx(3.0)
    assert c.comparison.errors.state == FAIL
    gate = evaluate(5, 0.0, 1e12, 100.0, a.figures, GateSettings())
    assert [x.name for x in gate.failing] == ["5xx", "cohort 5xx"]


def test_without_the_cohort_label_the_gate_falls_back_to_the_baseline_and_says_so() -> None:
    same = {0.1: 300, 0.25: 300, 0.5: 300, 1.0: 300, INF: 300}
    a = run([cohort_page(ZERO, ZERO, label=""), cohort_page(same, same, label="")])
    assert a.cohorts is not None and a.cohorts.comparison is None
    assert a.cohorts.reason is not None and a.cohorts.reason.startswith("no variant label")
    f = a.figures[Fig.CANARY_P95_VS_STABLE_PCT]
    assert f.value is None and f.detail.verdict == NO_LABEL
    gate = evaluate(5, 0.0, 1e12, 100.0, a.figures, GateSettings())
    p95 = [c for c in gate.criteria if c.name == "p95"]
    assert p95 and p95[0].shown.endswith("no cohort label seen: compared with the baseline")
    assert "cohorts" in to_dict(a) and to_dict(a)["cohorts"]["comparison"] is None


def test_without_a_cohort_label_configured_nothing_changes() -> None:
    same = {0.1: 300, 0.25: 300, 0.5: 300, 1.0: 300, INF: 300}
    a = run([cohort_page(ZERO, ZERO), cohort_page(same, same)],
            dataclasses.replace(SETTINGS, cohorts=None))
    assert a.cohorts is None
    assert Fig.CANARY_P95_VS_STABLE_PCT not in a.figures and "cohorts" not in to_dict(a)


def test_before_the_first_step_the_baseline_decides_not_the_cohorts() -> None:
    same = {0.1: 300, 0.25: 300, 0.5: 300, 1.0: 300, INF: 300}
    a = run([cohort_page(ZERO, ZERO), cohort_page(same, same)])
    gate = evaluate(0, None, 1e12, None, a.figures, GateSettings())
    assert "cohort p95" not in [c.name for c in gate.criteria]


def test_a_counter_reset_in_the_window_counts_from_the_restart_not_negative() -> None:
    # Restarted between the 2nd and 3rd scrapes: the canary counts begin again from 0; the
    # window's increases are the 100 before the restart plus the 150 after.
    before = cohort_page(ZERO, ZERO)
    mid = cohort_page({0.1: 100, 0.25: 100, 0.5: 100, 1.0: 100, INF: 100},
                      {0.1: 1000, 0.25: 1000, 0.5: 1000, 1.0: 1000, INF: 1000})
    after = cohort_page({0.1: 150, 0.25: 150, 0.5: 150, 1.0: 150, INF: 150},
                        {0.1: 900, 0.25: 900, 0.5: 900, 1.0: 900, INF: 900}, started=2000)
    a = run([before, mid, after])
    c = a.cohorts
    assert c is not None and c.canary is not None and c.stable is not None
    assert c.canary.requests == 250 and c.stable.requests == 1900


def test_a_failed_scrape_makes_the_cohorts_unknown_not_stale_passed_as_fresh() -> None:
    e = Engine(SETTINGS)
    same = {0.1: 300, 0.25: 300, 0.5: 300, 1.0: 300, INF: 300}
    e.observe(obs(0, cohort_page(ZERO, ZERO).page()))
    e.observe(obs(10, cohort_page(same, same).page()))
    a = e.observe(obs(20, None, error="connection refused"))
    assert a.cohorts is not None and a.cohorts.comparison is None
    assert a.cohorts.reason == "metrics unavailable: connection refused"
    assert a.figures[Fig.CANARY_P95_VS_STABLE_PCT].value is None
    gate = evaluate(5, 0.0, 1e12, 100.0, a.figures, GateSettings())
    assert not gate.open


def test_several_instances_are_added_up_per_cohort() -> None:
    e = Engine(SETTINGS)
    half = {0.1: 100, 0.25: 150, 0.5: 150, 1.0: 150, INF: 150}
    stable = {0.1: 1000, 0.25: 1000, 0.5: 1000, 1.0: 1000, INF: 1000}

    def scrapes(t: float, canary: dict[float, float], st: dict[float, float]
                ) -> tuple[MetricsScrape, ...]:
        wall = 1_800_000_000.0 + t
        return tuple(MetricsScrape(t, wall, cohort_page(canary, st).page(), instance=name)
                     for name in ("a", "b"))

    e.observe(Observation(0, 1_800_000_000.0, fleet=scrapes(0, ZERO, ZERO)))
    a = e.observe(Observation(10, 1_800_000_010.0, fleet=scrapes(10, half, stable)))
    c = a.cohorts
    assert c is not None and c.canary is not None and c.stable is not None
    assert c.canary.requests == 300 and c.stable.requests == 2000


def test_prometheus_answers_are_split_by_the_cohort_label() -> None:
    # rate() x the 60 s window: canary 5/s = 300 requests, stable 50/s = 3,000.
    def rows(value: str, rates: dict[str, float]) -> list[tuple[dict[str, str], float]]:
        return [({"le": le, "variant": value, "route": "/x", "instance": "i:1"}, r)
                for le, r in rates.items()]

    buckets = (rows("optimized", {"0.1": 1.0, "0.25": 5.0, "+Inf": 5.0})
               + rows("baseline", {"0.1": 49.0, "0.25": 50.0, "+Inf": 50.0}))
    counter = [({"variant": "optimized", "status": "200", "instance": "i:1"}, 5.0),
               ({"variant": "baseline", "status": "200", "instance": "i:1"}, 50.0)]
    snap = PromSnapshot(
        t=0, wall=1_800_000_000.0, window_s=60.0, selector='job="app"',
        present=frozenset({"http_request_duration_seconds_bucket", "http_requests_total"}),
        vectors={"buckets": tuple(buckets), "counter": tuple(counter)})
    a = Engine(SETTINGS).observe(Observation(0, 1_800_000_000.0, prom=snap))
    c = a.cohorts
    assert c is not None and c.canary is not None and c.stable is not None
    assert c.canary.requests == pytest.approx(300) and c.stable.requests == pytest.approx(3000)
    assert c.canary.requests_per_s == pytest.approx(5.0)
    assert c.comparison is not None and c.comparison.latency.state == FAIL


def test_the_config_turns_cohorts_on_with_a_label_and_off_without() -> None:
    from sbtop import config
    from sbtop.config.settings import engine_settings

    assert engine_settings(config.parse({})).cohorts is None
    on = engine_settings(config.parse({"canary": {"cohorts": {
        "label": "variant", "min_canary_requests": 500, "alpha": 0.001}}}))
    assert on.cohorts == CohortSettings("variant", "optimized", "baseline", 500, 0.001)


@pytest.mark.parametrize(("cohorts", "message"), [
    ({"label": "vari ant"}, "canary.cohorts.label: 'vari ant' is not a label name"),
    ({"label": "status"}, "canary.cohorts.label: 'status' is the bucket bound or a status label"),
    ({"label": "variant", "canary": "x", "stable": "x"},
     "canary.cohorts: canary and stable must be two different label values"),
    ({"label": "variant", "alpha": 1.5}, "canary.cohorts.alpha: must be between 0 and 1"),
    ({"label": "variant", "min_canary_requests": 0},
     "canary.cohorts.min_canary_requests: must be at least 1"),
])
def test_bad_cohort_settings_are_one_clear_line(cohorts: dict[str, object], message: str) -> None:
    from sbtop import config

    with pytest.raises(config.ConfigError) as e:
        config.parse({"canary": {"cohorts": cohorts}})
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_the_cohorts_survive_a_recording() -> None:
    from sbtop.engine import codec, wellformed
    from sbtop.engine.assessment import Assessment

    same = {0.1: 300, 0.25: 300, 0.5: 300, 1.0: 300, INF: 300}
    a = run([cohort_page(ZERO, ZERO), cohort_page(same, {k: v * 9 for k, v in same.items()})])
    line = json.loads(json.dumps(codec.encode_assessment(a), allow_nan=False))
    wellformed.checker(Assessment)(line)
    back = codec.decode_assessment(line)
    assert back.cohorts == a.cohorts
    assert back.figures[Fig.CANARY_P95_VS_STABLE_PCT] == a.figures[Fig.CANARY_P95_VS_STABLE_PCT]


def test_the_canary_panels_cohort_line_fits_an_80_column_panel() -> None:
    from sbtop.console.cohorts import cohort_line

    canary = {0.1: 100, 0.25: 200, 0.5: 200, 1.0: 200, INF: 200}
    stable = {0.1: 22000, 0.25: 22900, 0.5: 22900, 1.0: 22900, INF: 22900}
    a = run([cohort_page(ZERO, ZERO), cohort_page(canary, stable, canary_5xx=4)])
    wide = cohort_line(a.cohorts, 200)
    assert wide == ("canary p95/p99 235/247 ms 5xx 2.00% 20.0/s (200 req) | "
                    "stable p95/p99 99/212 ms 5xx 0.00% 2290/s (22,900 req)")
    narrow = cohort_line(a.cohorts, 76)
    assert len(narrow) <= 76 and narrow.startswith("canary p95 235 ms 5xx 2.00% (200)")
    assert cohort_line(None, 76) == ""


def test_the_gate_states_the_verdict_in_words_that_fit_the_panel() -> None:
    canary = {0.1: 100, 0.25: 200, 0.5: 200, 1.0: 200, INF: 200}
    stable = {0.1: 22000, 0.25: 22900, 0.5: 22900, 1.0: 22900, INF: 22900}
    a = run([cohort_page(ZERO, ZERO), cohort_page(canary, stable)])
    gate = evaluate(5, 0.0, 1e12, 100.0, a.figures, GateSettings())
    failing = gate.failing[0]
    assert failing.name == "cohort p95"
    assert failing.shown == "canary p95 +138 % vs stable, significant (p<0.001), 200 vs 22,900 req"
    assert len("FAIL " + failing.shown) <= 76


def test_prometheus_unavailable_makes_the_cohorts_unknown_with_the_reason() -> None:
    snap = PromSnapshot(t=0, wall=1_800_000_000.0, error="connection refused")
    a = Engine(SETTINGS).observe(Observation(0, 1_800_000_000.0, prom=snap))
    assert a.cohorts is not None and a.cohorts.comparison is None
    assert a.cohorts.reason == "Prometheus unavailable: connection refused"
    f = a.figures[Fig.CANARY_P95_VS_STABLE_PCT]
    assert f.value is None and f.level is Level.UNKNOWN
    assert not evaluate(5, 0.0, 1e12, 100.0, a.figures, GateSettings()).open


def test_a_canary_value_the_app_never_writes_says_the_values_it_does_not_waiting() -> None:
    """[canary.cohorts] canary = "optimised" while the app writes "optimized": 200 canary
    requests came, none with that value. "Waiting for 100 more canary requests" would be
    waited for forever; the criterion says the values seen instead, and the gate stays shut."""
    settings = dataclasses.replace(
        SETTINGS, cohorts=dataclasses.replace(COHORTS, canary="optimised"))
    a = run([cohort_page(ZERO, ZERO),
             cohort_page({0.1: 100, 0.25: 200, 0.5: 200, 1.0: 200, INF: 200},
                         {0.1: 2000, 0.25: 2000, 0.5: 2000, 1.0: 2000, INF: 2000})], settings)
    said = "no canary variant=optimised: the app writes optimized"
    assert a.cohorts is not None and a.cohorts.comparison is not None
    assert a.cohorts.comparison.latency.state == WAITING
    assert a.cohorts.comparison.latency.said == said
    assert a.figures[Fig.CANARY_5XX_VS_STABLE_PTS].reason == said
    gate = evaluate(5, 0.0, 1e12, 100.0, a.figures, GateSettings())
    assert not gate.open
    assert any(f.shown == f"cohort p95: {said}" and len("FAIL " + f.shown) <= 76
               for f in gate.failing)
    # Early at a step, only the stable value seen: still the plain wait.
    b = run([cohort_page(ZERO, ZERO), cohort_page(ZERO, {0.1: 50, 0.25: 50, 0.5: 50,
                                                          1.0: 50, INF: 50})])
    assert b.cohorts is not None and b.cohorts.comparison is not None
    assert b.cohorts.comparison.latency.said.startswith("waiting for 100 more canary requests")


def test_a_threshold_on_a_cohort_figure_is_refused_not_silently_ignored() -> None:
    """The two cohort figures are the cohort test's verdicts: a [thresholds.*] table for them
    was accepted and never read (the panel and check judged as if it were not there)."""
    from sbtop import config

    for key in ("canary_p95_vs_stable_pct", "canary_5xx_vs_stable_pts"):
        with pytest.raises(config.ConfigError) as e:
            config.parse({"canary": {"cohorts": {"label": "variant"}},
                          "thresholds": {key: {"warning": 20.0}}})
        assert str(e.value).startswith(f"thresholds.{key}: judged by the cohort test")
        assert "\n" not in str(e.value)


def test_a_cohort_without_requests_says_so_not_a_missing_status_label() -> None:
    """Before the first step no request is labelled optimized: the canary's reason said "no
    request count labelled route with a status" (the route label's name, and not the case)."""
    a = run([cohort_page(ZERO, ZERO),
             cohort_page(ZERO, {0.1: 50, 0.25: 50, 0.5: 50, 1.0: 50, INF: 50})])
    assert a.cohorts is not None and a.cohorts.canary is not None
    assert a.cohorts.canary.reason == "no requests labelled variant=optimized in the window"
    assert a.cohorts.canary.requests == 0 and a.cohorts.canary.p95_ms is None
    assert to_dict(a)["cohorts"]["canary"]["reason"] == a.cohorts.canary.reason


def test_check_names_each_comparison_while_it_waits() -> None:
    """sbtop check printed "waiting for 38 more canary requests (62 of 100)" twice, without
    saying which line is the latency's and which the 5xx's."""
    from sbtop.engine.cohorts import summary_lines

    a = run([cohort_page(ZERO, ZERO),
             cohort_page({0.1: 62, 0.25: 62, 0.5: 62, 1.0: 62, INF: 62},
                         {0.1: 2000, 0.25: 2000, 0.5: 2000, 1.0: 2000, INF: 2000})])
    assert a.cohorts is not None
    assert summary_lines(a.cohorts)[2:] == [
        "  canary p95 vs stable: waiting for 38 more canary requests (62 of 100)",
        "  canary 5xx vs stable: waiting for 38 more canary requests (62 of 100)"]


def test_a_histogram_without_the_cohort_label_is_unknown_not_waiting_forever() -> None:
    """The counter labelled with the cohort, the histogram not: 200 canary requests counted,
    and the latency said "waiting for 100 more canary requests (0 of 100)" for ever. It is
    unknown, with why; the 5xx comparison is still made from the counter; the gate stays shut."""
    def page(canary: float, stable: float) -> PageText:
        out = PageText().histogram({"method": "GET", "route": "/api/friends/list",
                                    "status_code": "200"},
                                   {0.1: canary + stable, INF: canary + stable})
        for value, n in (("optimized", canary), ("baseline", stable)):
            out.sample("http_requests_total", {"route": "/api/friends/list", "status": "200",
                                               "variant": value}, n)
        return out

    a = run([page(0, 0), page(200, 2000)])
    assert a.cohorts is not None and a.cohorts.comparison is not None
    latency = a.cohorts.comparison.latency
    assert latency.state == "unknown"
    assert latency.said == ("no variant label on http_request_duration_seconds: the latency "
                            "cannot be compared by cohort")
    assert a.cohorts.comparison.errors.state == PASS
    gate = evaluate(5, 0.0, 1e12, 100.0, a.figures, GateSettings())
    assert not gate.open and [c.name for c in gate.failing] == ["cohort p95"]


def test_the_files_cohort_and_trend_defaults_are_the_engines() -> None:
    """[canary.cohorts] and [trends] spelled their defaults a second time beside the engine's
    settings; they are taken from them now, so the two cannot drift apart."""
    from sbtop import config
    from sbtop.config.settings import cohort_settings, engine_settings
    from sbtop.engine.settings import TrendSettings

    c = config.parse({"canary": {"cohorts": {"label": "variant"}}})
    assert cohort_settings(c) == CohortSettings()
    trends = engine_settings(c).trends
    default = TrendSettings()
    assert (trends.window_s, trends.min_span_s, trends.after_restart_s) == (
        default.window_s, default.min_span_s, default.after_restart_s)


def test_a_fractional_count_from_prometheus_never_reads_as_enough() -> None:
    """increase() gives 99.7 canary requests: the wait said "(100 of 100)" beside "1 more"."""
    from sbtop.engine.cohorts import _waiting

    c = CohortSettings()
    assert _waiting(99.7, 5000, c) == "waiting for 1 more canary requests (99 of 100)"
    assert _waiting(150, 99.6, c) == "waiting for 1 more stable requests (99)"
    assert _waiting(100.0, 100.0, c) is None


def layout_page(canary: dict[float, float], stable: dict[float, float]) -> PageText:
    """The two cohorts with bucket layouts of their own (instances running different code)."""
    page = PageText()
    for value, buckets in (("optimized", canary), ("baseline", stable)):
        page.histogram({"route": "/x", "status_code": "200", "variant": value}, buckets)
        page.sample("http_requests_total", {"route": "/x", "status": "200", "variant": value},
                    buckets[INF])
    page.sample("process_start_time_seconds", {}, 1000)
    return page


def test_cohorts_with_different_bucket_layouts_and_the_same_latency_do_not_fail() -> None:
    # Every request of both cohorts takes about 0.55 s. The canary's layout (0.1, 0.5, 1)
    # puts them in (0.5, 1], the stable's (0.2, 0.6, 1) in (0.2, 0.6]: read each on its own
    # layout, the canary looks slower (p95 975 ms against 580 ms, and every canary bucket
    # above every stable one). On the bounds both have (1, +Inf) they are the same.
    canary = {0.1: 0, 0.5: 0, 1.0: 200, INF: 200}
    stable = {0.2: 0, 0.6: 2000, 1.0: 2000, INF: 2000}
    a = run([layout_page(dict.fromkeys(canary, 0), dict.fromkeys(stable, 0)),
             layout_page(canary, stable)])
    c = a.cohorts
    assert c is not None and c.comparison is not None
    assert c.comparison.latency.state == PASS, c.comparison.latency.said
    assert c.comparison.p95_diff_pct == pytest.approx(0.0)
    assert c.comparison.latency.said == (
        "canary p95 +0 % vs stable, not significant (p=1.00), 200 vs 2,000 requests on 2 "
        "shared bucket bounds: pass")


def test_a_counter_reset_in_one_cohort_only_counts_that_cohort_from_zero() -> None:
    # No restart (the process start time is the same): the canary's series alone fall from 200
    # to 120 (reset by the app, or a series dropped and made again). Its window is the 200
    # before plus the 120 after; the stable cohort's is untouched: 2,000.
    full = {0.1: 1, 0.25: 1, 0.5: 1, 1.0: 1, INF: 1}
    a = run([cohort_page(ZERO, ZERO),
             cohort_page({k: 200 * v for k, v in full.items()},
                         {k: 1000 * v for k, v in full.items()}),
             cohort_page({k: 120 * v for k, v in full.items()},
                         {k: 2000 * v for k, v in full.items()})])
    c = a.cohorts
    assert c is not None and c.canary is not None and c.stable is not None
    assert c.canary.requests == 320 and c.stable.requests == 2000


def test_a_canary_cohort_that_appears_mid_window_counts_from_its_first_request() -> None:
    # The canary's series at 0, then absent (the flag off), then back at 150 (the flag on:
    # prom-client makes a series at its first request, so all 150 are in the window). Then the
    # app restarts with the flag off: the canary's series are gone, its 150 stay in the
    # window, the stable cohort counts on from the restart: 1,000 + 1,000 + 500.
    def stable_only(n: float, started: float) -> PageText:
        page = PageText()
        labels = {"method": "GET", "route": "/api/friends/list", "variant": "baseline"}
        page.histogram({**labels, "status_code": "200"},
                       {0.1: n, 0.25: n, 0.5: n, 1.0: n, INF: n})
        page.sample("http_requests_total", {**labels, "status": "200"}, n)
        page.sample("process_start_time_seconds", {}, started)
        return page

    slow = {0.1: 0, 0.25: 0, 0.5: 150, 1.0: 150, INF: 150}
    a = run([cohort_page(ZERO, ZERO), stable_only(1000, 1000),
             cohort_page(slow, {0.1: 2000, 0.25: 2000, 0.5: 2000, 1.0: 2000, INF: 2000}),
             stable_only(500, 2000)])
    c = a.cohorts
    assert c is not None and c.canary is not None and c.stable is not None
    assert c.canary.requests == 150 and c.stable.requests == 2500
    assert c.comparison is not None and c.comparison.latency.state == FAIL


def test_six_canary_requests_in_a_sparse_bucket_are_judged_by_the_exact_test() -> None:
    # Stable: 1,960 requests <= 0.1 s, 30 in (0.1, 0.25], 10 in (0.25, 1]. Canary: 94 and 6.
    # Canary p95: rank 95 of 100, the 1st of 6 in (0.1, 0.25]: 0.1 + 0.15 x 1/6 = 125 ms;
    # stable: 0.1 x 1,900/1,960 = 97 ms: +29 %. Exactly (a canary request's 2U: 1,960 in the
    # first bucket, 2 x 1,960 + 30 = 3,950 in the second, 2 x 1,990 + 10 = 3,990 in the
    # third; observed 94 x 1,960 + 6 x 3,950 = 207,940): P(1,990 x2 + 2,030 x3 >= 11,940),
    # x2, x3 the canary's requests in buckets 2 and 3 of 36 and 10, 100 drawn of 2,100:
    # 0.020, not significant at 0.01. The normal approximation said 0.004: a FAIL.
    stable = {0.1: 1960, 0.25: 1990, 1.0: 2000, INF: 2000}
    canary = {0.1: 94, 0.25: 100, 1.0: 100, INF: 100}
    a = run([cohort_page(dict.fromkeys(canary, 0), dict.fromkeys(stable, 0)),
             cohort_page(canary, stable)])
    c = a.cohorts
    assert c is not None and c.comparison is not None
    want = sum(math.comb(2054, 100 - x2 - x3) * math.comb(36, x2) * math.comb(10, x3)
               for x2 in range(37) for x3 in range(11)
               if 1990 * x2 + 2030 * x3 >= 11940) / math.comb(2100, 100)
    assert want == pytest.approx(0.0200, abs=5e-4)
    assert c.comparison.latency.p == pytest.approx(want, rel=1e-6)
    assert c.comparison.latency.said == (
        "canary p95 +29 % vs stable, not significant (p=0.020), 100 vs 2,000 requests: pass")
    assert c.comparison.latency.test == "mann-whitney exact"


def test_a_third_value_of_the_label_is_said_not_left_out_in_silence() -> None:
    # variant="legacy" (an old code path still labelled) is in neither cohort, so in neither
    # comparison: check's words and --json say it was seen, and a recording keeps it.
    from sbtop.engine import codec
    from sbtop.engine.cohorts import cohorts_dict, summary_lines

    def with_legacy(page: PageText, n: float) -> PageText:
        labels = {"method": "GET", "route": "/api/friends/list", "status_code": "200",
                  "variant": "legacy\x1b[31m"}
        page.histogram(labels, {0.1: n, 0.25: n, 0.5: n, 1.0: n, INF: n})
        page.sample("http_requests_total", {"method": "GET", "route": "/api/friends/list",
                                            "variant": "legacy\x1b[31m", "status": "200"}, n)
        return page

    same = {0.1: 300, 0.25: 300, 0.5: 300, 1.0: 300, INF: 300}
    a = run([with_legacy(cohort_page(ZERO, ZERO), 0),
             with_legacy(cohort_page(same, {k: v * 9 for k, v in same.items()}), 50)])
    assert a.cohorts is not None and a.cohorts.others == ("legacy\\x1b[31m",)
    assert cohorts_dict(a.cohorts)["others"] == ["legacy\\x1b[31m"]
    assert summary_lines(a.cohorts)[-1] == "  also seen, in neither cohort: legacy\\x1b[31m"
    line = json.loads(json.dumps(codec.encode_assessment(a), allow_nan=False))
    assert codec.decode_assessment(line).cohorts == a.cohorts
