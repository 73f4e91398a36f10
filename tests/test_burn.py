"""Error-budget burn rates worked by hand: the ratio over each window as a multiple of the
budget, the pairs judged as alerts, and unknown (with why) where a window cannot be measured."""

from __future__ import annotations

import pytest

from sbtop.engine.alerts import AlertState
from sbtop.engine.assessment import Assessment, to_dict
from sbtop.engine.burn import BurnWatch, burn_rate, slow_bound
from sbtop.engine.engine import Engine
from sbtop.engine.keys import Fig
from sbtop.engine.levels import Level
from sbtop.engine.observations import PromSnapshot
from sbtop.engine.settings import EngineSettings
from sbtop.engine.slo import PAGE_FAST, PAGE_SLOW, TICKET, SloSettings
from tests.burn_data import page, restarted_page
from tests.pagegen import obs

SLO = SloSettings(availability_pct=99.5, latency_pct=99.0, latency_threshold_ms=500.0)
SETTINGS = EngineSettings(window_s=60, slo=SLO)


def run(minutes: int, settings: EngineSettings = SETTINGS) -> list[Assessment]:
    e = Engine(settings)
    return [e.observe(obs(60.0 * m, page(m).page())) for m in range(minutes + 1)]


def test_the_workbooks_factors_follow_from_the_budget_share_of_a_30_day_period() -> None:
    month = 30 * 86400.0
    assert PAGE_FAST.factor(month) == pytest.approx(14.4)
    assert PAGE_SLOW.factor(month) == pytest.approx(6.0)
    assert TICKET.factor(month) == pytest.approx(1.0)
    # A 7-day budget: 2 % of it in an hour is a burn of 3.36x.
    assert PAGE_FAST.factor(7 * 86400.0) == pytest.approx(3.36)


def test_a_burn_rate_is_the_error_ratio_over_the_budget() -> None:
    assert burn_rate(5, 1000, 0.995) == pytest.approx(1.0)  # 0.5 % bad, 0.5 % budget
    assert burn_rate(72, 1000, 0.995) == pytest.approx(14.4)


def test_burn_rates_over_each_window_worked_by_hand() -> None:
    a = run(90)[-1]
    f = a.figures
    # 5m (85 -> 90): 1,000 5xx of 5,000 = 20 %; over a 0.5 % budget: 40x.
    assert f[Fig.BURN_RATE_5M].value == pytest.approx(40.0)
    assert (f[Fig.BURN_RATE_5M].detail.errors, f[Fig.BURN_RATE_5M].detail.requests) == (
        1000, 5000)
    # 30m (60 -> 90): 6,000 of 30,000 = 20 %: 40x. 1h (30 -> 90): 6,000 of 60,000: 20x.
    assert f[Fig.BURN_RATE_30M].value == pytest.approx(40.0)
    assert f[Fig.BURN_RATE_1H].value == pytest.approx(20.0)
    assert f[Fig.BURN_RATE_1H].detail.span_s == 3600
    # 6h: the session has watched for 90 minutes, and says so rather than pass them off.
    six = f[Fig.BURN_RATE_6H]
    assert six.value is None and six.level is Level.UNKNOWN
    assert six.reason == "needs 6h of history, have 1h30m"
    # Latency: 20 of every 1,000 requests over 0.5 s = 2 %; over a 1 % budget: 2x.
    for key in (Fig.LATENCY_BURN_RATE_5M, Fig.LATENCY_BURN_RATE_30M, Fig.LATENCY_BURN_RATE_1H):
        assert f[key].value == pytest.approx(2.0)
        assert f[key].detail.bound_ms == 500.0
    j = to_dict(a)["figures"]
    assert j["burn_rate_1h"]["value"] == 20 and j["burn_rate_1h"]["unit"] == "x"
    assert j["burn_rate_1h"]["objective_pct"] == 99.5
    assert j["latency_burn_rate_6h"]["value"] is None
    assert "history" in j["latency_burn_rate_6h"]["reason"]


def test_the_fast_page_fires_when_both_its_windows_burn_over_14_4x() -> None:
    states = {m: a for m, a in enumerate(run(90))}

    def fast(m: int) -> AlertState | None:
        found = [x for x in states[m].alerts if x.name == "SbtopErrorBudgetBurnFast"]
        return found[0].state if found else None

    # The 5m window burns 40x from minute 65 on; the 1h window passes 14.4x (7.2 % of
    # 60,000 = 4,320 errors) after 21.6 minutes of errors: 4,200 at minute 81, 4,400 at 82.
    assert states[81].figures[Fig.BURN_RATE_1H].value == pytest.approx(14.0)
    assert fast(81) is None
    assert states[82].figures[Fig.BURN_RATE_1H].value == pytest.approx(4400 / 60000 / 0.005)
    assert fast(82) is AlertState.FIRING
    assert states[82].level is Level.CRITICAL
    # The slow page needs 6h of history: never judged here, never firing.
    assert not [x for x in states[90].alerts if x.name == "SbtopErrorBudgetBurnSlow"]


def test_no_burn_rate_until_the_session_has_watched_the_whole_window() -> None:
    e = Engine(SETTINGS)
    e.observe(obs(0, page(0).page()))
    a = e.observe(obs(10, page(1).page()))
    assert a.figures[Fig.BURN_RATE_5M].reason == "needs 5m of history, have 10s"
    assert a.figures[Fig.BURN_RATE_1H].reason == "needs 1h of history, have 10s"
    assert not a.alerts


def test_no_burn_figures_without_an_slo() -> None:
    e = Engine(EngineSettings(window_s=60))
    e.observe(obs(0, page(0).page()))
    a = e.observe(obs(60, page(1).page()))
    assert not [k for k in a.figures if "burn" in k]


def test_a_latency_threshold_between_bounds_reads_the_next_bound_up_and_says_so() -> None:
    assert slow_bound([0.1, 0.5, 1.0, float("inf")], 0.3) == 0.5
    assert slow_bound([0.1, 0.5, 1.0, float("inf")], 0.5) == 0.5
    assert slow_bound([0.1, 0.5, 1.0, float("inf")], 2.0) is None
    a = run(10, EngineSettings(window_s=60, slo=SloSettings(None, 99.0, 300.0)))[-1]
    f = a.figures[Fig.LATENCY_BURN_RATE_5M]
    assert f.detail.bound_ms == 500.0 and f.value == pytest.approx(2.0)
    assert any("no bucket bound at 300 ms" in n and "500 ms" in n for n in a.notes)


def test_the_next_bound_up_note_says_its_meaning_first_within_80_columns() -> None:
    """The Alerts panel has 76 columns at 80x24: the note was cut before "under-read"."""
    a = run(10, EngineSettings(window_s=60, slo=SloSettings(None, 99.0, 300.0)))[-1]
    note = next(n for n in a.notes if "bucket bound" in n)
    assert note == "latency SLO burn under-read: no bucket bound at 300 ms, read at 500 ms"
    assert len(note) <= 76


def test_a_latency_threshold_above_every_bound_is_unknown_with_why() -> None:
    a = run(10, EngineSettings(window_s=60, slo=SloSettings(None, 99.0, 2000.0)))[-1]
    f = a.figures[Fig.LATENCY_BURN_RATE_5M]
    assert f.value is None
    assert f.reason == ("no bucket bound at or above 2000 ms (highest 1000 ms): the share "
                        "slower than it cannot be read")


def test_a_failed_scrape_marks_the_burn_rates_stale() -> None:
    e = Engine(SETTINGS)
    for m in range(7):
        e.observe(obs(60.0 * m, page(m).page()))
    a = e.observe(obs(60.0 * 7, None, error="connection refused"))
    f = a.figures[Fig.BURN_RATE_5M]
    assert f.stale_s == 60.0 and f.value is not None


def _prom(vectors: dict[str, tuple[tuple[dict[str, str], float], ...]], at: float = 1e9,
          since: float | None = None) -> PromSnapshot:
    v = dict(vectors)
    if since is not None:
        v["burn_since"] = (({}, since),)
    return PromSnapshot(t=0.0, wall=at, at=at, vectors=v, burn_at=at)


def test_prometheus_increases_give_the_same_burn_rates() -> None:
    w = BurnWatch(SETTINGS)
    counts = (({"status": "200"}, 4000.0), ({"status": "500"}, 1000.0), ({"status": "404"}, 0.0))
    buckets = (({"le": "0.1"}, 4500.0), ({"le": "0.5"}, 4900.0), ({"le": "+Inf"}, 5000.0))
    vectors = {f"burn_counts:{x}": counts for x in ("5m", "30m", "1h", "6h")}
    vectors |= {f"burn_buckets:{x}": buckets for x in ("5m", "30m", "1h", "6h")}
    # Prometheus holds 2 hours of the app's series: the 6h window is not passed off.
    f = w.prometheus(_prom(vectors, since=1e9 - 7200), wall=1e9 + 12)
    assert f[Fig.BURN_RATE_5M].value == pytest.approx(40.0)
    assert f[Fig.BURN_RATE_5M].detail.source == "prometheus"
    assert f[Fig.BURN_RATE_5M].detail.age_s == 12.0
    assert f[Fig.LATENCY_BURN_RATE_1H].value == pytest.approx(2.0)
    assert f[Fig.BURN_RATE_6H].reason == ("needs 6h of history, Prometheus holds 2h00m of the "
                                          "app's series")
    # Read every 30 s: the next round carries none, the last read stands with its age...
    later = w.prometheus(PromSnapshot(t=30.0, wall=1e9 + 40), wall=1e9 + 40)
    assert later[Fig.BURN_RATE_5M].value == pytest.approx(40.0)
    assert later[Fig.BURN_RATE_5M].detail.age_s == 40.0
    # ...marked stale while Prometheus fails...
    failing = w.prometheus(PromSnapshot(t=45.0, wall=1e9 + 45, error="unreachable"),
                           wall=1e9 + 45)
    assert failing[Fig.BURN_RATE_5M].stale_s == 45.0
    assert failing[Fig.BURN_RATE_5M].value == pytest.approx(40.0)
    # ...and past 90 s it judges nothing.
    old = w.prometheus(PromSnapshot(t=200.0, wall=1e9 + 200, error="unreachable"),
                       wall=1e9 + 200)
    assert old[Fig.BURN_RATE_5M].level is Level.UNKNOWN and old[Fig.BURN_RATE_5M].stale_s


def test_prometheus_without_a_status_label_is_unknown_not_zero() -> None:
    w = BurnWatch(SETTINGS)
    f = w.prometheus(_prom({"burn_counts:5m": (({}, 100.0),)}, since=0.0), wall=1e9)
    assert f[Fig.BURN_RATE_5M].value is None
    assert "without a status label" in (f[Fig.BURN_RATE_5M].reason or "")


def test_the_slo_table_becomes_the_engines_slo_with_the_p95_warning_as_default_bound() -> None:
    from sbtop import config

    cfg = config.parse({"slo": {"availability": 99.9, "latency": 99, "period": "28d"},
                        "thresholds": {"latency_p95_ms": {"warning": 400}},
                        "targets": {"x": {"base_url": "http://h"}}})
    slo = config.resolve(cfg).engine.slo
    assert slo == SloSettings(99.9, 99.0, 400.0, 28 * 86400.0)
    assert config.resolve(config.parse({"targets": {"x": {"base_url": "http://h"}}})
                          ).engine.slo.objectives() == {}


@pytest.mark.parametrize(("slo", "message"), [
    ({"availability": 100}, "slo.availability: expected a per cent between 0 and 100"),
    ({"latency": -1}, "slo.latency: expected a per cent between 0 and 100"),
    ({"availability": 90}, "slo.availability: 90% leaves a budget of 10%, and the fast page's "
                           "14.4x burn would need over 100 % of requests bad"),
    ({"availability": 99.5, "period": "6h"}, "slo.period: at least 1d"),
    ({"availability": 99.5, "period": "a month"}, "slo.period"),
])
def test_slo_mistakes_are_one_line_naming_the_key(slo: dict[str, object], message: str) -> None:
    from sbtop import config

    with pytest.raises(config.ConfigError) as e:
        config.resolve(config.parse({"slo": slo, "targets": {"x": {"base_url": "http://h"}}}))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_window_whose_start_sbtop_did_not_read_is_unknown_not_stretched() -> None:
    e = Engine(SETTINGS)
    for m in (*range(6), *range(20, 23)):  # sbtop read nothing from minute 6 to 19
        a = e.observe(obs(60.0 * m, page(m).page()))
    # At 22 the 5m window starts at 17: the nearest earlier point is minute 5.
    assert a.figures[Fig.BURN_RATE_5M].reason == (
        "nothing read for 15m00s around the start of the 5m window: it cannot be measured")
    for m in range(23, 28):
        a = e.observe(obs(60.0 * m, page(m).page()))
    assert a.figures[Fig.BURN_RATE_5M].value == 0.0  # read again for 5 minutes: no 5xx yet


def test_the_history_holds_six_hours_whatever_the_sessions_length() -> None:
    e = Engine(SETTINGS)
    for m in range(0, 8 * 60 + 1, 2):
        a = e.observe(obs(60.0 * m, page(m).page()))
    # 8 hours watched every 2 minutes: the 6h window known, 6 hours of points kept.
    assert a.figures[Fig.BURN_RATE_6H].value is not None
    assert a.figures[Fig.BURN_RATE_6H].detail.span_s == 6 * 3600
    assert len(e._burn.history.points) == 6 * 30 + 1


def test_several_metrics_urls_scraped_directly_give_no_burn_rate_and_say_why() -> None:
    from sbtop.engine.observations import MetricsScrape, Observation

    e = Engine(SETTINGS)
    for m in range(3):
        t = 60.0 * m
        scrapes = tuple(MetricsScrape(t, 1.8e9 + t, page(m).page(), instance=name)
                        for name in ("a", "b"))
        a = e.observe(Observation(t, 1.8e9 + t, fleet=scrapes))
    assert a.figures[Fig.BURN_RATE_5M].reason == ("several metrics URLs scraped directly: burn "
                                                  "rates need Prometheus (or one URL)")


def test_a_restart_inside_the_window_counts_the_counters_from_zero_again() -> None:
    """The app restarts after minute 29 (tests/burn_data.py): 5 % of 1,000 requests a minute
    failed before, 10 % after. Read as the difference of the raw counters, the 1h window at
    minute 65 would be 3,350 of 31,000 (21.6x); counted across the reset it is what was
    served."""
    e = Engine(SETTINGS)
    for m in range(66):
        a = e.observe(obs(60.0 * m, restarted_page(m).page()))
    f = a.figures
    # 5m (60 -> 65) and 30m (35 -> 65), after the restart: 10 %, over a 0.5 % budget: 20x.
    assert (f[Fig.BURN_RATE_5M].detail.errors, f[Fig.BURN_RATE_5M].detail.requests) == (
        500, 5000)
    assert f[Fig.BURN_RATE_30M].value == pytest.approx(20.0)
    # 1h (5 -> 65): 24 minutes at 50 errors before the restart, 36 at 100 after (minute
    # 30's counters hold its one minute): 1,200 + 3,600 = 4,800 of 60,000 = 8 %: 16x.
    one = f[Fig.BURN_RATE_1H]
    assert (one.detail.errors, one.detail.requests) == (4800, 60000)
    assert one.value == pytest.approx(16.0)
    # Latency, the histogram reset too: 2 % over 0.5 s throughout, 1,200 of 60,000: 2x.
    lat = f[Fig.LATENCY_BURN_RATE_1H]
    assert (lat.detail.errors, lat.detail.requests) == (1200, 60000)
    # The fast pair: 1h at 16x and 5m at 20x, both over 14.4x.
    fast = next(x for x in a.alerts if x.name == "SbtopErrorBudgetBurnFast")
    assert fast.state is AlertState.FIRING and fast.value == pytest.approx(16.0)


def test_no_traffic_is_unknown_with_why_never_a_zero_burn() -> None:
    """Counters that stand still: no request in any window. A ratio of 0 of 0 is no burn
    rate, and the pairs are not judged."""
    e = Engine(SETTINGS)
    for m in range(11):
        a = e.observe(obs(60.0 * m, page(5).page()))
    for key in (Fig.BURN_RATE_5M, Fig.LATENCY_BURN_RATE_5M):
        f = a.figures[key]
        assert f.value is None and f.level is Level.UNKNOWN
        assert f.reason == "too few requests: 0 in 5m (need 10)"
    assert not [x for x in a.alerts if x.state is AlertState.FIRING]
