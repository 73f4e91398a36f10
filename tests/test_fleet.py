"""Several instances scraped directly, worked by hand: their counts add up, each keeps its own
reset and its own p95, one that stops answering is named and adds nothing while down, and one
back after a long gap is a new baseline rather than a burst."""

from __future__ import annotations

import pytest

from sbtop.engine.engine import Engine
from sbtop.engine.exposition import Page
from sbtop.engine.levels import Level
from sbtop.engine.observations import MetricsScrape, Observation
from sbtop.engine.quantile import INF, histogram_quantile
from sbtop.engine.settings import EngineSettings
from tests.pagegen import PageText

SETTINGS = EngineSettings(window_s=60, min_requests=10, memory_limit_bytes=1e9)
WALL0 = 1_800_000_000.0


def page(fast: float, slow: float, *, sockets: float = 0, rss: float = 0,
         start: float = 1.0) -> Page:
    """`fast` requests under 0.1 s and `slow` ones in (0.5, 1], all 200s, cumulative."""
    return (PageText()
            .histogram({"route": "/api/tasks", "status_code": "200"},
                       {0.1: fast, 0.5: fast, 1.0: fast + slow, INF: fast + slow})
            .sample("socket_io_connected", {}, sockets)
            .sample("process_resident_memory_bytes", {}, rss)
            .sample("process_start_time_seconds", {}, start)
            .page())


def round_of(t: float, **pages: Page | str) -> Observation:
    """One round: an instance's page, or the reason it did not answer."""
    wall = WALL0 + t
    fleet = tuple(
        MetricsScrape(t, wall, p, None, 5.0, 100, name) if isinstance(p, Page)
        else MetricsScrape(t, wall, None, p, 0.0, 0, name)
        for name, p in pages.items())
    return Observation(t, wall, fleet=fleet)


def test_the_instances_counts_add_up_and_each_has_its_own_p95() -> None:
    e = Engine(SETTINGS)
    e.observe(round_of(0, a=page(0, 0, sockets=10, rss=100), b=page(0, 0, sockets=5, rss=300)))
    a = e.observe(round_of(10, a=page(100, 0, sockets=12, rss=100),
                           b=page(50, 50, sockets=7, rss=300)))
    assert a.figures["requests_per_s"].value == pytest.approx(20.0)  # (100 + 100) / 10 s
    summed = [(0.1, 150.0), (0.5, 150.0), (1.0, 200.0), (INF, 200.0)]
    assert a.figures["latency_p95_ms"].value == pytest.approx(
        histogram_quantile(0.95, summed) * 1000)
    assert a.figures["socket_connections"].value == 19  # sockets add up
    by_name = {i.name: i for i in a.instances}
    assert by_name["a"].up and by_name["a"].p95_ms == pytest.approx(95.0)  # 0.1 x 0.95
    # b: rank 95 of 100 falls in (0.5, 1] holding 50: 0.5 + 0.5 x 45/50.
    assert by_name["b"].p95_ms == pytest.approx(950.0)
    assert a.sources["metrics"].detail["instances_up"] == 2
    assert a.level is not Level.UNKNOWN and not a.notes


def test_one_instance_restarting_resets_only_its_own_counters() -> None:
    e = Engine(SETTINGS)
    e.observe(round_of(0, a=page(1000, 0), b=page(5000, 0)))
    # a restarted (new start time) and served 30 since; b served 100 more.
    a = e.observe(round_of(10, a=page(30, 0, start=2.0), b=page(5100, 0)))
    assert a.figures["requests_per_s"].value == pytest.approx(13.0)
    assert any("reset" in n for n in a.notes)


def test_an_instance_that_stops_answering_is_named_and_adds_nothing_while_down() -> None:
    e = Engine(SETTINGS)
    e.observe(round_of(0, a=page(0, 0, sockets=10), b=page(0, 0, sockets=5)))
    e.observe(round_of(10, a=page(100, 0, sockets=10), b=page(100, 0, sockets=5)))
    a = e.observe(round_of(20, a=page(200, 0, sockets=10), b="connection refused"))
    # b's 100 from the first ten seconds stay in the window; nothing is counted for it since.
    assert a.figures["requests_per_s"].value == pytest.approx(300 / 20)
    assert a.figures["socket_connections"].value == 10  # only a's sockets are known now
    down = [i for i in a.instances if not i.up]
    assert [(i.name, i.error) for i in down] == [("b", "connection refused")]
    assert a.level is Level.WARNING
    assert any("1 of 2 instances not answering" in n for n in a.notes)
    assert a.sources["metrics"].up and "b: connection refused" in (a.sources["metrics"].error
                                                                   or "")
    # Back within the window: what it served meanwhile is counted, as one increase.
    a = e.observe(round_of(30, a=page(300, 0, sockets=10), b=page(300, 0, sockets=5)))
    assert a.figures["requests_per_s"].value == pytest.approx(600 / 30)
    assert all(i.up for i in a.instances) and a.level is Level.OK


def test_an_instance_back_after_more_than_a_window_is_a_new_baseline_not_a_burst() -> None:
    e = Engine(SETTINGS)
    e.observe(round_of(0, a=page(0, 0), b=page(0, 0)))
    e.observe(round_of(10, a=page(100, 0), b=page(100, 0)))
    for t in range(20, 120, 10):
        e.observe(round_of(t, a=page(100 + 10 * (t - 10), 0), b="timed out"))
    # b served 50,000 requests at unknown times while it could not be read.
    a = e.observe(round_of(120, a=page(1200, 0), b=page(50_100, 0)))
    assert a.figures["requests_per_s"].value == pytest.approx(10.0)  # a's rate alone
    a = e.observe(round_of(130, a=page(1300, 0), b=page(50_200, 0)))
    # Each instance's rate over its own window: a's 600 in 60 s, and b's 100 in the 10 s
    # since it came back (not averaged over a minute it was not counted in).
    assert a.figures["requests_per_s"].value == pytest.approx(600 / 60 + 100 / 10)


def test_no_instance_answering_makes_the_figures_stale_then_unknown() -> None:
    e = Engine(SETTINGS)
    e.observe(round_of(0, a=page(0, 0), b=page(0, 0)))
    e.observe(round_of(10, a=page(100, 0), b=page(100, 0)))
    a = e.observe(round_of(20, a="timed out", b="connection refused"))
    m = a.sources["metrics"]
    assert not m.up and "no instance answered" in (m.error or "")
    assert a.figures["requests_per_s"].stale_s == pytest.approx(10.0)
    a = e.observe(round_of(100, a="timed out", b="connection refused"))
    f = a.figures["requests_per_s"]
    assert f.level is Level.UNKNOWN and "stale for 90 s" in (f.reason or "")


def test_an_unparsable_page_marks_that_instance_down_and_keeps_the_others() -> None:
    e = Engine(SETTINGS)
    # It scans, but a wanted series names one label twice: the page is refused whole.
    broken = PageText().sample("http_request_duration_seconds_bucket",
                               {"le": "0.1", "route": "/x"}, 1)
    broken.lines[-1] = broken.lines[-1].replace('route="/x"', 'le="0.2"')
    e.observe(round_of(0, a=page(0, 0), b=page(0, 0)))
    a = e.observe(round_of(10, a=page(100, 0), b=broken.page()))
    b = next(i for i in a.instances if i.name == "b")
    assert not b.up and "unparsable" in (b.error or "")
    assert a.figures["requests_per_s"].value == pytest.approx(10.0)


def test_instances_with_different_buckets_make_the_quantiles_unknown_saying_why() -> None:
    def odd(n: float) -> Page:  # another bucket layout: 0.5 and +Inf only
        return (PageText().histogram({"route": "/api/tasks", "status_code": "200"},
                                     {0.5: n, INF: n}).page())

    e = Engine(SETTINGS)
    e.observe(round_of(0, a=page(0, 0), b=odd(0)))
    a = e.observe(round_of(10, a=page(100, 0), b=odd(100)))
    f = a.figures["latency_p95_ms"]
    assert f.value is None and "histogram buckets differ" in (f.reason or "")
    assert a.figures["requests_per_s"].value == pytest.approx(20.0)  # counts still add up
    by_name = {i.name: i for i in a.instances}
    assert by_name["a"].p95_ms == pytest.approx(95.0)
    assert by_name["b"].p95_ms == pytest.approx(475.0)


def test_an_instance_that_missed_the_first_round_is_named_and_warned_about() -> None:
    e = Engine(SETTINGS)
    e.observe(round_of(0, a=page(0, 0), b="timed out"))
    a = e.observe(round_of(10, a=page(100, 0), b=page(5000, 5000)))
    assert a.level is Level.WARNING
    assert any("b: answering, not in the figures" in n for n in a.notes)
    assert a.figures["requests_per_s"].detail.partial == "1 of 2 instances"
    a = e.observe(round_of(20, a=page(200, 0), b=page(5100, 5000)))
    assert a.figures["requests_per_s"].detail.partial is None
    # a: 200 in its 20 s; b: 100 in the 10 s since its first answer, each over its own span.
    assert a.figures["requests_per_s"].value == pytest.approx(10.0 + 10.0)


def test_a_counter_one_instance_lacks_falls_back_to_what_all_have() -> None:
    def with_counter(n: float, msgs_name: str, msgs: float) -> Page:
        return (PageText()
                .histogram({"route": "/x", "status_code": "200"}, {0.1: n, INF: n})
                .sample("http_requests_total", {"status": "200"}, n)
                .sample(msgs_name, {}, msgs).page())

    def without_counter(n: float, msgs_name: str, msgs: float) -> Page:
        return (PageText()
                .histogram({"route": "/x", "status_code": "200"}, {0.1: n, INF: n})
                .sample(msgs_name, {}, msgs).page())

    e = Engine(SETTINGS)
    e.observe(round_of(0, a=with_counter(0, "websocket_messages", 0),
                       b=without_counter(0, "websocket_messages_total", 0)))
    a = e.observe(round_of(10, a=with_counter(100, "websocket_messages", 100),
                           b=without_counter(900, "websocket_messages_total", 900)))
    rps = a.figures["requests_per_s"]
    assert rps.value == pytest.approx(100.0) and rps.detail.metric.endswith("_count")
    assert a.figures["socket_messages_per_s"].value == pytest.approx(100.0)


def test_a_down_instance_marks_every_figure_partial() -> None:
    e = Engine(SETTINGS)
    e.observe(round_of(0, a=page(0, 0, sockets=100, rss=1e8), b=page(0, 0, sockets=4000,
                                                                      rss=9.5e8)))
    a = e.observe(round_of(10, a=page(100, 0, sockets=100, rss=1e8), b="connection refused"))
    for key in ("socket_connections", "memory_pct", "requests_per_s"):
        assert a.figures[key].detail.partial == "1 of 2 instances", key


def test_all_instances_down_does_not_claim_others_cover_them() -> None:
    e = Engine(SETTINGS)
    e.observe(round_of(0, a=page(0, 0), b=page(0, 0)))
    a = e.observe(round_of(10, a="timed out", b="timed out"))
    assert "none of the 2 instances answering" in a.notes
    assert not any("cover the others" in n for n in a.notes)


def test_an_instances_p95_window_starts_again_after_sbtop_stalled() -> None:
    e = Engine(SETTINGS)
    e.observe(round_of(0, a=page(0, 0)))
    e.observe(round_of(10, a=page(100, 0)))
    # sbtop was suspended for ten minutes; slow traffic happened at unknown times meanwhile.
    a = e.observe(round_of(610, a=page(100, 5000)))
    assert a.instances[0].p95_ms is None  # a new window: nothing to say yet
    a = e.observe(round_of(620, a=page(200, 5000)))
    assert a.instances[0].p95_ms == pytest.approx(95.0)


def test_a_negative_counter_is_ignored_not_a_negative_rate() -> None:
    e = Engine(SETTINGS)
    p = lambda n: PageText().sample("http_requests_total", {"status": "200"}, n).page()  # noqa: E731
    e.observe(round_of(0, a=p(100)))
    a = e.observe(round_of(10, a=p(-350)))
    assert a.figures["requests_per_s"].level is Level.UNKNOWN  # never a negative or a made-up 0
    assert a.figures["requests_per_s"].reason == (
        'a: http_requests_total{status="200"} is -350 on the page')


def test_one_instances_nan_makes_the_summed_figure_unknown_naming_the_instance() -> None:
    e = Engine(SETTINGS)
    e.observe(round_of(0, a=page(0, 0, rss=100), b=page(0, 0, rss=300)))
    nan = (PageText().histogram({"route": "/api/tasks", "status_code": "200"},
                                {0.1: 50, 0.5: float("nan"), 1.0: 100, INF: 100})
           .sample("process_resident_memory_bytes", {}, float("inf")).page())
    a = e.observe(round_of(10, a=page(100, 0, rss=100), b=nan))
    p95 = a.figures["latency_p95_ms"]
    assert p95.level is Level.UNKNOWN and p95.reason is not None
    assert p95.reason.startswith("b: http_request_duration_seconds_bucket{") and "NaN" in p95.reason
    memory = a.figures["memory_pct"]  # the worst instance cannot be known: not a's 100 bytes
    assert memory.level is Level.UNKNOWN and "b: process_resident_memory_bytes is +Inf" in (
        memory.reason or "")
