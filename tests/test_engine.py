"""The engine's figures over a window, worked by hand: rates, quantiles, resets, staleness."""

from __future__ import annotations

import dataclasses

import pytest

from sbtop.engine.engine import Engine
from sbtop.engine.levels import Level
from sbtop.engine.observations import HealthProbe
from sbtop.engine.quantile import INF, histogram_quantile
from sbtop.engine.settings import EngineSettings, MetricNames
from tests.pagegen import PageText, obs, ok_health

SETTINGS = EngineSettings(window_s=60, min_requests=10, min_route_requests=5)


def engine(**changes: object) -> Engine:
    return Engine(dataclasses.replace(SETTINGS, **changes))  # type: ignore[arg-type]


def two_route_page(a: dict[float, float], b: dict[float, float]) -> PageText:
    return (PageText()
            .histogram({"method": "GET", "route": "/api/tasks", "status_code": "200"}, a)
            .histogram({"method": "GET", "route": "/api/leaderboard", "status_code": "200"}, b))


def test_first_scrape_waits_for_a_second_rather_than_showing_zero() -> None:
    e = engine()
    a = e.observe(obs(0, two_route_page({0.1: 5, INF: 5}, {1.0: 5, INF: 5}).page()))
    f = a.figures["latency_p95_ms"]
    assert f.value is None and f.level is Level.UNKNOWN
    assert f.reason == "waiting for a second scrape"
    assert a.figures["requests_per_s"].value is None


def test_latency_quantiles_come_from_bucket_increases_summed_over_all_series() -> None:
    e = engine()
    e.observe(obs(0, two_route_page({0.1: 100, 0.5: 100, 1.0: 100, INF: 100},
                                    {0.1: 0, 0.5: 50, 1.0: 60, INF: 60}).page()))
    a = e.observe(obs(10, two_route_page({0.1: 150, 0.5: 160, 1.0: 160, INF: 160},
                                         {0.1: 0, 0.5: 60, 1.0: 90, INF: 100}).page()))
    # Increases: tasks 50 <= 0.1, 10 in (0.1, 0.5]; leaderboard 10 in (0.1, 0.5], 20 in (0.5, 1],
    # 10 above 1. Summed cumulative: 0.1: 50, 0.5: 70, 1: 90, +Inf: 100.
    summed = [(0.1, 50.0), (0.5, 70.0), (1.0, 90.0), (INF, 100.0)]
    for key, q in (("latency_p50_ms", 0.5), ("latency_p95_ms", 0.95), ("latency_p99_ms", 0.99)):
        assert a.figures[key].value == pytest.approx(histogram_quantile(q, summed) * 1000)
    # rank 50 exactly at the first bucket: 0.1 * 50 / 50 = 100 ms; rank 95 in +Inf: 1000 ms.
    assert a.figures["latency_p50_ms"].value == pytest.approx(100.0)
    assert a.figures["latency_p95_ms"].value == pytest.approx(1000.0)
    assert a.figures["latency_p95_ms"].level is Level.WARNING  # > 500, not > 1000
    assert a.window_s == 10


def test_requests_per_second_is_the_increase_over_the_time_between_scrapes() -> None:
    e = engine()
    p = lambda n: PageText().sample("http_requests_total", {"status": "200"}, n).page()  # noqa: E731
    e.observe(obs(0, p(1000)))
    a = e.observe(obs(4, p(1200)))
    assert a.figures["requests_per_s"].value == pytest.approx(50.0)


def test_counter_resets_count_the_new_value_as_prometheus_does() -> None:
    e = engine()
    p = lambda n: PageText().sample("http_requests_total", {"status": "200"}, n).page()  # noqa: E731
    # 100 -> 150 (+50) -> 20 (reset: +20) -> 50 (+30): 100 requests in 30 s, never negative.
    for t, n in ((0, 100), (10, 150), (20, 20)):
        e.observe(obs(t, p(n)))
    a = e.observe(obs(30, p(50)))
    assert a.figures["requests_per_s"].value == pytest.approx(100 / 30)
    assert any("reset" in n for n in a.notes)


def test_a_reset_gives_no_spike_and_no_negative_rate_in_the_next_window() -> None:
    e = engine(window_s=10)
    p = lambda n: PageText().sample("http_requests_total", {"status": "200"}, n).page()  # noqa: E731
    e.observe(obs(0, p(50_000)))
    e.observe(obs(10, p(50_400)))
    a = e.observe(obs(20, p(40)))  # the process restarted and served 40 since
    assert a.figures["requests_per_s"].value == pytest.approx(4.0)


def test_a_restart_is_a_reset_even_when_counts_climb_past_the_old_values() -> None:
    e = engine()

    def p(n: float, started: float) -> PageText:
        return (PageText().sample("http_requests_total", {"status": "200"}, n)
                .sample("process_start_time_seconds", {}, started))

    e.observe(obs(0, p(100, 1000).page()))
    # Restarted, then served 130 requests: per series the counter looks like +30, but the
    # start time moved, so all 130 are new.
    a = e.observe(obs(10, p(130, 1005).page()))
    assert a.figures["requests_per_s"].value == pytest.approx(13.0)


def test_too_few_requests_make_latency_and_errors_unknown_not_ok() -> None:
    e = engine(min_requests=10)
    p = lambda n: (PageText().histogram({"status_code": "200"}, {0.1: n, INF: n})  # noqa: E731
                   .sample("http_requests_total", {"status": "200"}, n).page())
    e.observe(obs(0, p(100)))
    a = e.observe(obs(10, p(103)))
    for key in ("latency_p95_ms", "error_rate_5xx_pct", "error_rate_4xx_pct"):
        f = a.figures[key]
        assert f.value is None and f.level is Level.UNKNOWN
        assert f.reason == "too few requests: 3 in 10 s (need 10)"
    assert a.level is Level.UNKNOWN
    assert a.figures["requests_per_s"].value == pytest.approx(0.3)


def _statuses(counts: dict[str, float], label: str = "status",
              name: str = "http_requests_total") -> PageText:
    page = PageText()
    for status, n in counts.items():
        page.sample(name, {"method": "GET", label: status}, n)
    return page


def test_error_ratios_come_from_the_request_counters_status_label() -> None:
    e = engine()
    e.observe(obs(0, _statuses({"200": 0, "404": 0, "500": 0, "503": 0}).page()))
    a = e.observe(obs(10, _statuses({"200": 900, "404": 40, "500": 40, "503": 20}).page()))
    assert a.figures["error_rate_5xx_pct"].value == pytest.approx(6.0)
    assert a.figures["error_rate_5xx_pct"].level is Level.CRITICAL
    assert a.figures["error_rate_4xx_pct"].value == pytest.approx(4.0)
    assert a.level is Level.CRITICAL


@pytest.mark.parametrize("label", ["status_code", "code"])
def test_without_a_counter_the_histograms_count_with_its_status_label_serves(label: str) -> None:
    def p(ok: float, bad: float) -> PageText:
        return (PageText().histogram({label: "200"}, {0.1: ok, INF: ok})
                .histogram({label: "502"}, {0.1: bad, INF: bad}))

    e = engine()
    e.observe(obs(0, p(0, 0).page()))
    a = e.observe(obs(10, p(990, 10).page()))
    f = a.figures["error_rate_5xx_pct"]
    assert f.value == pytest.approx(1.0) and f.level is Level.OK  # 1 % is not > 1 %
    assert f.detail.metric == "http_request_duration_seconds_count"


def test_a_configured_status_label_is_used() -> None:
    names = dataclasses.replace(MetricNames(), status_labels=("http_status",))
    e = engine(names=names)
    e.observe(obs(0, _statuses({"200": 0, "500": 0}, "http_status").page(names)))
    a = e.observe(obs(10, _statuses({"200": 98, "500": 2}, "http_status").page(names)))
    assert a.figures["error_rate_5xx_pct"].value == pytest.approx(2.0)


def test_no_status_label_anywhere_makes_error_figures_unknown_with_the_reason() -> None:
    e = engine()
    p = lambda n: PageText().sample("http_requests_total", {"method": "GET"}, n).page()  # noqa: E731
    e.observe(obs(0, p(0)))
    a = e.observe(obs(10, p(500)))
    f = a.figures["error_rate_5xx_pct"]
    assert f.value is None
    assert f.reason is not None and "no status label (status, status_code, code)" in f.reason
    assert a.figures["requests_per_s"].value == pytest.approx(50.0)


def test_a_series_that_appears_inside_the_window_counts_from_zero() -> None:
    e = engine()
    e.observe(obs(0, _statuses({"200": 1000}).page()))
    a = e.observe(obs(10, _statuses({"200": 1090, "500": 10}).page()))
    assert a.figures["error_rate_5xx_pct"].value == pytest.approx(10.0)
    assert a.figures["requests_per_s"].value == pytest.approx(10.0)


def test_counters_on_the_first_scrape_are_a_baseline_not_traffic() -> None:
    e = engine()
    e.observe(obs(0, _statuses({"200": 1000}).page()))
    a = e.observe(obs(10, _statuses({"200": 1000}).page()))
    assert a.figures["requests_per_s"].value == 0.0


def test_a_failed_scrape_keeps_the_last_values_marked_stale_with_their_age() -> None:
    e = engine()
    e.observe(obs(0, _statuses({"200": 0, "500": 0}).page()))
    e.observe(obs(10, _statuses({"200": 980, "500": 20}).page()))
    a = e.observe(obs(11, None, error="connection refused"))
    f = a.figures["error_rate_5xx_pct"]
    assert f.value == pytest.approx(2.0) and f.stale_s == pytest.approx(1.0)
    assert a.sources["metrics"].up is False
    assert a.sources["metrics"].error == "connection refused"
    assert a.level is Level.WARNING  # stale warning still shown; unknown ranks below it
    b = e.observe(obs(15, None, error="connection refused"))
    assert b.figures["error_rate_5xx_pct"].stale_s == pytest.approx(5.0)


def test_a_target_never_read_has_unknown_figures_with_the_reason_never_zero() -> None:
    e = engine()
    a = e.observe(obs(0, None, error="timeout: no answer within 5 s"))
    for f in a.figures.values():
        if f.key != "health":
            assert f.value is None
            assert f.reason == "metrics unavailable: timeout: no answer within 5 s"
    assert a.level is Level.UNKNOWN


def test_the_window_slides_and_reports_its_true_span() -> None:
    e = engine(window_s=20)
    p = lambda n: PageText().sample("http_requests_total", {"status": "200"}, n).page()  # noqa: E731
    # 10 req/s for 30 s, then 100 req/s: a 20 s window at t=50 sees only the fast part.
    for t, n in ((0, 0), (10, 100), (20, 200), (30, 300), (40, 1300)):
        e.observe(obs(t, p(n)))
    a = e.observe(obs(50, p(2300)))
    assert a.window_s == 20
    assert a.figures["requests_per_s"].value == pytest.approx(100.0)


def test_sockets_are_summed_and_memory_is_resident_over_the_configured_limit() -> None:
    e = engine(memory_limit_bytes=1000.0)
    page = (PageText().sample("active_websocket_connections", {"instance": "a"}, 700)
            .sample("active_websocket_connections", {"instance": "b"}, 600)
            .sample("process_resident_memory_bytes", {}, 850).page())
    a = e.observe(obs(0, page))
    assert a.figures["socket_connections"].value == 1300
    assert a.figures["socket_connections"].level is Level.WARNING
    assert a.figures["memory_pct"].value == pytest.approx(85.0)
    assert a.figures["memory_pct"].level is Level.WARNING


def test_memory_falls_back_to_the_health_json() -> None:
    e = engine()
    health = ok_health(0, {"memory": {"rss": 500, "limit": 510}})
    a = e.observe(obs(0, PageText().sample("unrelated", {}, 1).page(), health=health))
    f = a.figures["memory_pct"]
    assert f.value == pytest.approx(100 * 500 / 510) and f.level is Level.CRITICAL
    assert f.detail.rss_from == "health memory.rss"


def test_memory_without_any_limit_is_unknown_and_says_what_to_set() -> None:
    e = engine()
    a = e.observe(obs(0, PageText().sample("process_resident_memory_bytes", {}, 5e8).page()))
    f = a.figures["memory_pct"]
    assert f.value is None and f.reason is not None and "memory_limit_mb" in f.reason


def test_socket_messages_per_second_from_a_counter_without_the_total_suffix() -> None:
    e = engine()
    p = lambda n: PageText().sample("socket_io_events_received", {"event": "chat"}, n).page()  # noqa: E731
    e.observe(obs(0, p(10)))
    a = e.observe(obs(5, p(60)))
    assert a.figures["socket_messages_per_s"].value == pytest.approx(10.0)
    assert a.figures["socket_messages_per_s"].detail.metric == "socket_io_events_received"


def test_routes_are_ranked_by_p95_and_by_5xx_ratio() -> None:
    def p(k: float) -> PageText:
        page = PageText()
        for route, le, bad in (("/fast", 0.1, 0), ("/slow", 1.0, 1), ("/broken", 0.5, 5)):
            page.histogram({"method": "GET", "route": route, "status_code": "200"},
                           {0.1: 0, 0.5: 0, 1.0: 0, INF: 0} | {b: 20 * k for b in (0.1, 0.5, 1.0,
                                                                                 INF) if b >= le})
            page.sample("http_requests_total", {"method": "GET", "route": route, "status": "200"},
                        20 * k)
            page.sample("http_requests_total", {"method": "GET", "route": route, "status": "500"},
                        bad * k)
        return page

    e = engine(top_routes=2)
    e.observe(obs(0, p(0).page()))
    a = e.observe(obs(10, p(1).page()))
    assert [r.name for r in a.routes.slowest] == ["GET /slow", "GET /broken"]
    assert [r.name for r in a.routes.failing] == ["GET /broken", "GET /slow"]
    assert a.routes.failing[0].error_5xx_pct == pytest.approx(20.0)


def test_malformed_labels_refuse_the_whole_page_and_count_nothing() -> None:
    e = engine()
    e.observe(obs(0, _statuses({"200": 10}).page()))
    bad = PageText().sample("http_requests_total", {}, 5)
    bad.lines[-1] = 'http_requests_total{status="200",status="500"} 99'
    a = e.observe(obs(10, bad.page()))
    assert a.sources["metrics"].up is False
    assert "duplicate label" in (a.sources["metrics"].error or "")
    c = e.observe(obs(20, _statuses({"200": 30}).page()))
    assert c.figures["requests_per_s"].value == pytest.approx(1.0)  # 20 over 20 s, no junk


def test_a_non_finite_sample_makes_its_figures_unknown_and_the_next_good_page_counts_all() -> None:
    e = engine()
    e.observe(obs(0, _statuses({"200": 100, "500": 0}).page()))
    page = _statuses({"200": 200}).sample("http_requests_total", {"method": "GET",
                                                                  "status": "500"}, "NaN")
    a = e.observe(obs(10, page.page()))
    for key in ("requests_per_s", "error_rate_5xx_pct"):
        assert a.figures[key].level is Level.UNKNOWN  # never a calm figure from part of the page
        assert a.figures[key].reason == (
            'http_requests_total{method="GET",status="500"} is NaN on the page')
    assert any("1 samples ignored" in n for n in a.notes)
    # The next good page: the 500s skipped at the NaN are counted then, none lost.
    b = e.observe(obs(20, _statuses({"200": 300, "500": 20}).page()))
    assert b.figures["requests_per_s"].value == pytest.approx(220 / 20)
    assert b.figures["error_rate_5xx_pct"].value == pytest.approx(100 * 20 / 220)


def test_a_series_twice_with_different_values_is_ambiguous_and_said() -> None:
    e = engine()
    e.observe(obs(0, _statuses({"200": 100}).page()))
    page = _statuses({"200": 200})
    page.lines.append('http_requests_total{status="200",method="GET"} 150')
    a = e.observe(obs(10, page.page()))
    assert a.figures["requests_per_s"].level is Level.UNKNOWN
    assert "appears twice on the page (200 and 150)" in (a.figures["requests_per_s"].reason or "")
    same = _statuses({"200": 300})
    same.lines.append('http_requests_total{status="200",method="GET"} 300')  # agrees: harmless
    b = e.observe(obs(20, same.page()))
    assert b.figures["requests_per_s"].value == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("probe", "level"),
    [
        (HealthProbe(0, 0, 200, {"status": "ok"}), Level.OK),
        (HealthProbe(0, 0, 503, {"status": "error"}, "HTTP 503"), Level.CRITICAL),
        (HealthProbe(0, 0, None, None, "timeout: no answer within 5 s", True), Level.CRITICAL),
        (HealthProbe(0, 0, None, None, "connection refused", False), Level.UNKNOWN),
    ],
)
def test_health_is_ok_on_2xx_critical_on_error_status_or_timeout(probe: HealthProbe,
                                                                  level: Level) -> None:
    a = engine().observe(obs(0, PageText().sample("x", {}, 1).page(), health=probe))
    assert a.figures["health"].level is level


def test_only_figures_with_thresholds_decide_the_overall_level() -> None:
    e = engine()
    # No socket gauge, no lag: those figures are unknown but carry no threshold... except
    # socket_connections, which the runbook judges, so it makes the whole unknown.
    names = dataclasses.replace(MetricNames(), socket_gauges=(), event_loop_lag="")
    e = engine(names=names, memory_limit_bytes=1e9)
    p = lambda n: (PageText().histogram({"status_code": "200"}, {0.1: n, INF: n})  # noqa: E731
                   .sample("process_resident_memory_bytes", {}, 1e8).page(names))
    e.observe(obs(0, p(0)))
    a = e.observe(obs(10, p(100)))
    assert a.figures["socket_messages_per_s"].value is None  # no counter: informative only
    assert "socket_connections" not in a.figures
    assert a.level is Level.OK


def test_buckets_that_stay_empty_still_bound_the_interpolation() -> None:
    # Every request of the window took 0.7 s: the empty buckets below 0.75 must still be there,
    # or the quantile would interpolate from 0 instead of from 0.5.
    e = engine()
    p = lambda n: PageText().histogram(  # noqa: E731
        {"status_code": "200"}, {0.25: 0, 0.5: 0, 0.75: n, 1.0: n, INF: n}).page()
    e.observe(obs(0, p(0)))
    a = e.observe(obs(10, p(100)))
    assert a.figures["latency_p95_ms"].value == pytest.approx(737.5)


def test_after_a_restart_a_series_missing_from_that_page_counts_in_full_when_back() -> None:
    # le=0.003 had 2 before the restart, is absent from the first page after it, then shows 5:
    # all 5 are new (counters began again at zero), not 5 - 2.
    e = engine()

    def p(started: float, fast: float | None, total: float) -> PageText:
        buckets = {0.1: total, INF: total}
        if fast is not None:
            buckets[0.003] = fast
        return (PageText().histogram({"status_code": "200"}, buckets)
                .sample("process_start_time_seconds", {}, started))

    e.observe(obs(0, p(1000, 2, 50).page()))
    e.observe(obs(10, p(2000, None, 10).page()))
    a = e.observe(obs(20, p(2000, 5, 30).page()))
    assert e.tracker.sums().buckets[0.003] == 5.0
    assert a.figures["requests_per_s"].value == pytest.approx(30 / 20)


def test_after_a_long_outage_the_window_starts_again_instead_of_averaging_the_gap() -> None:
    e = engine(window_s=60)
    p = lambda n: _statuses({"200": n}).page()  # noqa: E731
    e.observe(obs(0, p(0)))
    e.observe(obs(1, p(100)))
    for t in range(2, 600, 30):
        e.observe(obs(t, None, error="connection refused"))
    a = e.observe(obs(600, p(60_000)))
    assert a.figures["requests_per_s"].value is None
    assert a.figures["requests_per_s"].reason == (
        "waiting for a second scrape (the one before failed: connection refused)")
    b = e.observe(obs(601, p(60_050)))
    assert b.figures["requests_per_s"].value == pytest.approx(50.0)


def test_a_target_with_nothing_read_is_never_ok() -> None:
    from sbtop.engine.observations import Observation

    a = engine().observe(Observation(0, 0))
    assert a.level is Level.UNKNOWN


def test_a_figure_stale_for_longer_than_a_window_judges_nothing() -> None:
    e = engine(window_s=60)
    e.observe(obs(0, _statuses({"200": 0, "500": 0}).page()))
    e.observe(obs(10, _statuses({"200": 90, "500": 10}).page()))
    soon = e.observe(obs(20, None, error="connection refused"))
    assert soon.figures["error_rate_5xx_pct"].level is Level.CRITICAL  # fresh enough to show
    late = e.observe(obs(200, None, error="connection refused"))
    f = late.figures["error_rate_5xx_pct"]
    assert f.value == pytest.approx(10.0) and f.level is Level.UNKNOWN
    assert f.reason is not None and f.reason.startswith("stale for 190 s")
    assert late.level is Level.UNKNOWN


def test_a_quantile_past_the_highest_bucket_says_at_least_and_its_json_is_valid() -> None:
    import json

    from sbtop import check

    e = engine()
    e.observe(obs(0, PageText().histogram({}, {1.0: 0, 10.0: 0, INF: 0}).page()))
    # 90 requests under 1 s, 10 slower than the highest bound (10 s).
    a = e.observe(obs(10, PageText().histogram({}, {1.0: 90, 10.0: 90, INF: 100}).page()))
    p99 = a.figures["latency_p99_ms"]
    assert p99.value == 10_000 and p99.detail.bucket_ms == (10_000, None)
    out = json.loads(check.as_json(a))  # no infinity in it: valid JSON
    assert out["figures"]["latency_p99_ms"]["bucket_ms"] == [10_000, None]
    assert "past the highest bucket: at least 10000 ms" in check.as_text(a)


@pytest.mark.parametrize(("rss", "reason"), [
    (-5, "is -5 bytes: impossible"),
    ("123", "is not a number ('123')"),
    (None, "is missing"),
])
def test_memory_that_cannot_be_true_is_unknown_saying_why(rss: object, reason: str) -> None:
    memory: dict[str, object] = {"limit": 512 * 2**20}
    if rss is not None:
        memory["rss"] = rss
    e = engine()
    page = PageText().histogram({}, {1.0: 0, INF: 0}).page()
    e.observe(obs(0, page, health=ok_health(0, {"memory": memory})))
    f = e.observe(obs(10, page, health=ok_health(10, {"memory": memory}))).figures["memory_pct"]
    assert f.value is None and f.level is Level.UNKNOWN and reason in (f.reason or ""), f.reason


def test_a_negative_gauge_on_the_page_is_unknown_never_a_calm_figure() -> None:
    e = engine()
    page = (PageText().histogram({}, {1.0: 0, INF: 0})
            .sample("process_resident_memory_bytes", {}, -5)
            .sample("active_websocket_connections", {}, -3).page())
    a = e.observe(obs(0, page, health=ok_health(0, {"memory": {"limit": 2**30}})))
    for key in ("memory_pct", "socket_connections"):
        assert a.figures[key].value is None and "is -" in (a.figures[key].reason or ""), key


def test_an_absurd_value_prints_in_a_few_digits() -> None:
    from sbtop import format

    assert format.number(1e308, "ms") == "1e+308 ms" and format.number(5e14, "%") == "5e+14%"
