"""The trend figures, worked by hand: Theil-Sen slopes, the time left to a limit, restarts in
the window, noise, gaps, too little data, and a restart's effects linked to it."""

from __future__ import annotations

import math

import pytest

from sbtop.engine.detail import Detail
from sbtop.engine.figures import Figure, judge
from sbtop.engine.keys import Fig
from sbtop.engine.settings import EngineSettings
from sbtop.engine.trends import (
    MB,
    Trends,
    aftermath,
    rises,
    theil_sen,
    time_left_words,
    time_to,
)

S = EngineSettings()
LIMIT = 512 * MB  # warning at 80 %: 409.6 MB; critical at 95 %: 486.4 MB
W0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def memory(rss_mb: float | None, *, stale: bool = False) -> Figure:
    if rss_mb is None:
        return judge(Fig.MEMORY_PCT, None, S, reason="no resident memory")
    f = judge(Fig.MEMORY_PCT, 100 * rss_mb * MB / LIMIT, S,
              detail=Detail(rss_bytes=rss_mb * MB, limit_bytes=LIMIT))
    if stale:
        return Figure(f.key, f.value, f.level, f.unit, f.threshold, "stale", f.detail,
                      f.judged, stale_s=30.0)
    return f


def figs(rss_mb: float | None = None, sockets: float | None = None,
         pool: float | None = None) -> dict[str, Figure]:
    out = {Fig.MEMORY_PCT: memory(rss_mb)}
    if sockets is not None:
        out[Fig.SOCKET_CONNECTIONS] = judge(Fig.SOCKET_CONNECTIONS, sockets, S)
    if pool is not None:
        out[Fig.DB_POOL_PCT] = judge(Fig.DB_POOL_PCT, pool, S)
    return out


def feed(tr: Trends, t: float, f: dict[str, Figure], reset_t: float | None = None,
         start: float | None = None) -> tuple[dict[str, Figure], str | None]:
    return tr.observe(t, W0 + t, f, reset_t, start)


def test_theil_sen_of_points_on_a_line_is_that_line() -> None:
    assert theil_sen([(0, 10), (60, 12), (120, 14)]) == (2 / 60, 10)


def test_theil_sen_ignores_one_outlier_where_least_squares_would_not() -> None:
    # Pairwise slopes: 1 (six pairs), 10, 14.5, 28, -26: the median of the ten is 1;
    # the intercept is the median of v - t: 0, 0, 0, 27, 0.
    assert theil_sen([(0, 0), (1, 1), (2, 2), (3, 30), (4, 4)]) == (1, 0)
    assert theil_sen([(5, 1)]) is None


def test_time_to_a_limit_none_when_flat_or_falling_zero_when_past() -> None:
    assert time_to(210, 1 / 60, 409.6, 7 * 86400) == (409.6 - 210) * 60
    assert time_to(210, 0.0, 409.6, 7 * 86400) is None
    assert time_to(210, -1.0, 409.6, 7 * 86400) is None
    assert time_to(500, 1.0, 409.6, 7 * 86400) == 0
    assert time_to(210, 1e-6, 409.6, 7 * 86400) is None  # years away: no warning
    assert time_left_words(12000, 16560, 1.0) == "warning in ~3h20m, critical in ~4h36m"
    assert time_left_words(0, 600, 1.0) == "past warning, critical in ~10m"
    assert time_left_words(0, 0, 1.0) == "past critical"
    assert time_left_words(None, None, 0.0) == "flat"
    assert time_left_words(None, None, -2.0) == "falling"


def test_memory_growing_1_mb_a_minute_is_60_mb_per_h_with_times_to_the_limits() -> None:
    tr = Trends(S)
    # One reading a minute, 200 MB + 1 MB a minute, for 10 minutes (t = 0 ... 600 s).
    for k in range(10):
        out, _ = feed(tr, 60.0 * k, figs(200 + k))
    g = out[Fig.MEMORY_GROWTH_MB_PER_H]
    assert g.value is None and g.reason == "needs 10m00s of memory readings, have 9m00s"
    out, _ = feed(tr, 600.0, figs(210))
    g = out[Fig.MEMORY_GROWTH_MB_PER_H]
    # The ten complete minutes fit 1 MB/min exactly; the line stands at 210 MB at t = 600:
    # (409.6 - 210) / 1 = 199.6 min -> 200 min; (486.4 - 210) / 1 = 276.4 min -> 276 min.
    assert g.value == 60.0 and g.unit == "MB/h" and not g.judged
    assert g.detail.to_warning_s == 200 * 60 and g.detail.to_critical_s == 276 * 60
    assert g.detail.span_s == 600 and g.detail.restart_at is None


def test_noise_and_a_spike_inside_each_minute_leave_the_slope_alone() -> None:
    tr = Trends(S)
    # Five readings a minute at +0, 12, 24, 36, 48 s: the minute's level, then +3, -3, a 50 MB
    # spike, -1. Sorted: -3, -1, 0, 3, 50: the median is the level itself. The level steps
    # 1 MB a minute and each minute's mean time is at +24 s: 1 MB / 60 s, 60 MB/h.
    for k in range(12):
        for off, noise in zip((0, 12, 24, 36, 48), (0, 3, -3, 50, -1), strict=True):
            out, _ = feed(tr, 60.0 * k + off, figs(200 + k + noise))
    assert out[Fig.MEMORY_GROWTH_MB_PER_H].value == 60.0


def test_gaps_and_stale_readings_are_skipped_not_read_as_values() -> None:
    tr = Trends(S)
    for k in range(16):
        if 4 <= k <= 7:
            f = figs(None) if k < 6 else {Fig.MEMORY_PCT: memory(999, stale=True)}
        else:
            f = figs(200 + 2 * k)  # 2 MB a minute
        out, _ = feed(tr, 60.0 * k, f)
    assert out[Fig.MEMORY_GROWTH_MB_PER_H].value == 120.0


def test_falling_memory_has_no_time_to_a_limit() -> None:
    tr = Trends(S)
    for k in range(11):
        out, _ = feed(tr, 60.0 * k, figs(300 - k))
    g = out[Fig.MEMORY_GROWTH_MB_PER_H]
    assert g.value == -60.0
    assert g.detail.to_warning_s is None and g.detail.to_critical_s is None


def test_memory_already_over_the_warning_has_zero_left_to_it() -> None:
    tr = Trends(S)
    for k in range(11):
        out, _ = feed(tr, 60.0 * k, figs(420 + k))
    g = out[Fig.MEMORY_GROWTH_MB_PER_H]
    assert g.detail.to_warning_s == 0
    assert g.detail.to_critical_s == 60 * round(486.4 - 430)


def test_without_a_memory_limit_the_slope_is_said_and_no_time_left() -> None:
    tr = Trends(S)
    for k in range(11):
        f = judge(Fig.MEMORY_PCT, None, S, reason="no memory limit",
                  detail=Detail(rss_bytes=(200 + k) * MB))
        out, _ = feed(tr, 60.0 * k, {Fig.MEMORY_PCT: f})
    g = out[Fig.MEMORY_GROWTH_MB_PER_H]
    assert g.value == 60.0 and g.detail.to_warning_s is None


def test_two_readings_ten_seconds_apart_are_too_little() -> None:
    tr = Trends(S)  # what `sbtop check` sees in its 10 s window
    feed(tr, 0.0, figs(200))
    out, _ = feed(tr, 10.0, figs(201))
    g = out[Fig.MEMORY_GROWTH_MB_PER_H]
    assert g.value is None and g.reason == "needs 10m00s of memory readings, have 10s"


def test_the_fit_starts_after_a_restart_by_start_time() -> None:
    tr = Trends(S)
    for k in range(11):
        out, _ = feed(tr, 60.0 * k, figs(200 + 5 * k))
    assert out[Fig.MEMORY_GROWTH_MB_PER_H].value == 300.0
    # The process restarted (a new start time, 5 s before this tick): the leak's slope is
    # not carried over to the new process, nor fitted across the drop.
    out, _ = feed(tr, 660.0, figs(150), reset_t=660.0, start=W0 + 655.0)
    g = out[Fig.MEMORY_GROWTH_MB_PER_H]
    assert g.value is None
    assert g.reason == "needs 10m00s of memory readings since the restart at 08:10:55 UTC, have 0s"
    for k in range(12, 23):
        out, _ = feed(tr, 60.0 * k, figs(150), reset_t=660.0)
    g = out[Fig.MEMORY_GROWTH_MB_PER_H]
    assert g.value == 0.0 and g.detail.to_warning_s is None
    assert g.detail.restart_at == W0 + 655.0
    assert time_left_words(g.detail.to_warning_s, g.detail.to_critical_s, g.value) == "flat"


def test_a_fall_of_memory_by_a_third_is_a_restart_without_a_start_time() -> None:
    tr = Trends(S)
    for k in range(11):
        feed(tr, 60.0 * k, figs(300 + k))
    out, _ = feed(tr, 660.0, figs(180))  # 310 -> 180 MB: -42 %
    assert out[Fig.MEMORY_GROWTH_MB_PER_H].value is None
    assert tr.restart_wall == W0 + 660.0
    out, _ = feed(tr, 720.0, figs(170))  # -6 %: a collection, not a restart
    assert tr.restart_wall == W0 + 660.0


def test_sockets_rising_5_a_minute_toward_the_redis_adapter_threshold() -> None:
    tr = Trends(S)
    for k in range(11):
        out, _ = feed(tr, 60.0 * k, figs(200, sockets=400 + 5 * k))
    g = out[Fig.SOCKET_GROWTH_PER_H]
    # 300/h; at 450 now: (1000 - 450) / 5 = 110 min, (2000 - 450) / 5 = 310 min.
    assert g.value == 300.0 and g.unit == "/h"
    assert g.detail.to_warning_s == 110 * 60 and g.detail.to_critical_s == 310 * 60


def test_a_restart_is_linked_to_the_reconnect_storm_and_the_pool_spike() -> None:
    tr = Trends(S)
    feed(tr, 0.0, figs(300, sockets=830, pool=35))
    # At t = 60 the process has restarted (started at +58 s): the clients drop and come back,
    # and their first requests fill the pool.
    seq = [(60, 12, 60), (70, 300, 80), (83, 600, 96), (98, 852, 90), (120, 840, 50)]
    note = None
    for t, sockets, pool in seq:
        out, note = feed(tr, t, figs(150, sockets=sockets, pool=pool), reset_t=60.0,
                         start=W0 + 58.0)
    assert note == ("restart at 08:00:58 UTC: sockets +840 in 40s, db pool peak 96.0% 25s "
                    "after (sockets 12 -> 852, 830 before; db pool 35.0% before)")
    g = out[Fig.SOCKET_GROWTH_PER_H]
    assert g.detail.surge == 840 and g.detail.surge_s == 40 and g.detail.restart_at == W0 + 58
    # Past the watch (2 min) the peak holds; past the note's 10 min it is no longer said.
    out, note = feed(tr, 300.0, figs(150, sockets=2000, pool=99), reset_t=60.0)
    assert note is not None and "+840 in 40s" in note
    out, note = feed(tr, 700.0, figs(150, sockets=840, pool=40), reset_t=60.0)
    assert note is None and out[Fig.SOCKET_GROWTH_PER_H].detail.surge is None
    assert out[Fig.SOCKET_GROWTH_PER_H].detail.restart_at == W0 + 58


def test_aftermath_from_a_recording_reads_nan_as_unknown() -> None:
    walls = [100.0, 101.0, 110.0, 130.0, 400.0]
    nan = math.nan
    a = aftermath(100.0, walls, [nan, 5, 50, 45, 999], [20, nan, 70, 30, 99], "db conns",
                  120.0)
    assert (a.sockets_low, a.sockets_peak, a.surge, a.surge_s) == (5, 50, 45, 10)
    assert (a.pool_peak, a.pool_peak_s) == (70, 10)
    assert a.words() == ("restart at 00:01:40 UTC: sockets +45 in 10s, db conns peak 70.0% "
                         "10s after (sockets 5 -> 50)")


def test_sbtops_restart_action_starts_the_fit_and_keeps_the_levels_from_before_it() -> None:
    tr = Trends(S)
    for k in range(11):
        out, _ = feed(tr, 60.0 * k, figs(200 + k, sockets=830, pool=35))
    assert out[Fig.MEMORY_GROWTH_MB_PER_H].value == 60.0
    tr.restarted(605.0, W0 + 605.0)  # sbtop's restart succeeded
    # The old process is going: its clients leave before the new one's start time is seen.
    out, note = feed(tr, 610.0, figs(200, sockets=3, pool=5))
    assert out[Fig.MEMORY_GROWTH_MB_PER_H].value is None
    out, note = feed(tr, 620.0, figs(120, sockets=40, pool=90), reset_t=620.0,
                     start=W0 + 618.0)
    out, note = feed(tr, 640.0, figs(121, sockets=800, pool=60), reset_t=620.0)
    assert note == ("restart at 08:10:18 UTC: sockets +760 in 22s, db pool peak 90.0% 2s "
                    "after (sockets 40 -> 800, 830 before; db pool 35.0% before)")


def test_a_figure_covering_some_instances_is_a_gap_not_a_fall() -> None:
    tr = Trends(S)
    for k in range(12):
        f = figs(300 + k, sockets=600 + 10 * k)
        if k in (5, 6):  # one of two instances down: the sum halves, the max may fall
            f = {key: Figure(x.key, x.value / 2 if x.value else x.value, x.level, x.unit,
                             x.threshold, x.reason, Detail(
                                 rss_bytes=(x.detail.rss_bytes or 0) / 2 or None,
                                 limit_bytes=x.detail.limit_bytes,
                                 partial="1 of 2 instances"), x.judged)
                 for key, x in f.items()}
        out, _ = feed(tr, 60.0 * k, f)
    assert tr.restart_wall is None
    assert out[Fig.MEMORY_GROWTH_MB_PER_H].value == 60.0
    assert out[Fig.SOCKET_GROWTH_PER_H].value == 600.0


def test_prometheus_history_seeds_the_fit_from_after_its_last_restart() -> None:
    s = EngineSettings(memory_limit_bytes=LIMIT)
    tr = Trends(s)
    # 40 minutes a minute apart, as Prometheus's range answers: a leak of 1 MB/min, a restart
    # at minute 15 (300 -> 150 MB, sockets 800 -> 100), then 2 MB and 5 sockets a minute.
    walls = [W0 + 60.0 * k for k in range(40)]
    rss = [300 + k if k < 15 else 150 + 2 * (k - 15) for k in range(40)]
    pct = [(w, 100 * r * MB / LIMIT) for w, r in zip(walls, rss, strict=True)]
    socks = [(w, 800.0 if k < 15 else 100.0 + 5 * (k - 15)) for k, w in enumerate(walls)]
    tr.seed(pct, socks, 5000.0, walls[-1])
    assert tr.restart_wall == W0 + 15 * 60
    f = {Fig.MEMORY_PCT: judge(Fig.MEMORY_PCT, 100 * 200 * MB / LIMIT, s,
                               detail=Detail(rss_bytes=200 * MB, limit_bytes=LIMIT)),
         Fig.SOCKET_CONNECTIONS: judge(Fig.SOCKET_CONNECTIONS, 225.0, s)}
    out, note = tr.observe(5060.0, walls[-1] + 60, f, None, None)
    assert out[Fig.MEMORY_GROWTH_MB_PER_H].value == 120.0
    assert out[Fig.SOCKET_GROWTH_PER_H].value == 300.0
    assert out[Fig.MEMORY_GROWTH_MB_PER_H].detail.restart_at == W0 + 15 * 60
    assert note is None  # a restart before the session: its storm was not watched


def test_a_trend_window_longer_than_6h_is_refused_in_one_line() -> None:
    """The fit takes the median of every pair of minutes, once a minute: a week's window is
    50 million slopes (gigabytes, seconds of a frozen console each minute), so the window is
    bounded where the cost still is a few milliseconds (6 h: 64,620 pairs)."""
    from sbtop import config

    config.parse({"trends": {"window": "6h"}})
    with pytest.raises(config.ConfigError) as e:
        config.parse({"trends": {"window": "7d"}})
    assert str(e.value).startswith("trends.window: at most 6h") and "\n" not in str(e.value)


def test_a_limit_seconds_away_is_a_minute_away_not_now() -> None:
    """1 MB a minute, the line at 409.3 MB against a warning at 409.6 MB: 18 s away. Rounded
    to whole minutes it was 0, which the detail keeps for "already past" ("past warning")."""
    tr = Trends(S)
    for k in range(11):
        out, _ = feed(tr, 60.0 * k, figs(399.3 + k))
    g = out[Fig.MEMORY_GROWTH_MB_PER_H]
    assert g.value == 60.0
    assert g.detail.to_warning_s == 60
    assert time_left_words(g.detail.to_warning_s, g.detail.to_critical_s, 1.0).startswith(
        "warning in ~1m")


def test_a_reading_under_the_limit_is_never_now_though_the_fitted_line_is_past() -> None:
    """1 MB a minute from 400 MB: the line stands at 410 MB at t = 600, past the warning at
    409.6 MB, but a GC just brought the reading down to 405 MB (79.1 %: OK). The time left is
    counted from the reading at the line's pace: 4.6 MB at 1 MB/min, ~5m, not "now"."""
    tr = Trends(S)
    for k in range(10):
        feed(tr, 60.0 * k, figs(400 + k))
    out, _ = feed(tr, 600.0, figs(405))
    g = out[Fig.MEMORY_GROWTH_MB_PER_H]
    mem = memory(405)
    assert g.value == 60.0 and mem.level.name == "OK"
    assert g.detail.to_warning_s == 5 * 60
    assert time_left_words(g.detail.to_warning_s, g.detail.to_critical_s, 1.0).startswith(
        "warning in ~5m")


def test_a_reading_past_the_limit_is_past_though_the_fitted_line_is_under() -> None:
    """The line at 409 MB at t = 600 (36 s under the warning at its pace), and the reading a
    spike at 412 MB (80.5 %: WARNING): the words say "past warning", not "warning in ~1m"."""
    tr = Trends(S)
    for k in range(10):
        feed(tr, 60.0 * k, figs(399 + k))
    out, _ = feed(tr, 600.0, figs(412))
    g = out[Fig.MEMORY_GROWTH_MB_PER_H]
    assert memory(412).level.name == "WARNING"
    assert g.detail.to_warning_s == 0 and g.detail.to_critical_s is not None
    assert time_left_words(g.detail.to_warning_s, g.detail.to_critical_s, 1.0).startswith(
        "past warning, critical in ~")


def test_the_socket_count_beside_the_trend_says_which_side_of_its_limit_it_is() -> None:
    """Sockets 10 a minute toward the warning at 1000: the line at 1002 but the count 995
    (OK): ~1m left, counted from the count; the count at 1001 (WARNING) with the line at 990:
    past."""
    tr = Trends(S)
    for k in range(10):
        feed(tr, 60.0 * k, {**figs(200), Fig.SOCKET_CONNECTIONS: judge(
            Fig.SOCKET_CONNECTIONS, 902 + 10 * k, S)})
    out, _ = feed(tr, 600.0, {**figs(200), Fig.SOCKET_CONNECTIONS: judge(
        Fig.SOCKET_CONNECTIONS, 995, S)})
    assert out[Fig.SOCKET_GROWTH_PER_H].detail.to_warning_s == 60
    tr = Trends(S)
    for k in range(10):
        feed(tr, 60.0 * k, {**figs(200), Fig.SOCKET_CONNECTIONS: judge(
            Fig.SOCKET_CONNECTIONS, 890 + 10 * k, S)})
    count = judge(Fig.SOCKET_CONNECTIONS, 1001, S)
    out, _ = feed(tr, 600.0, {**figs(200), Fig.SOCKET_CONNECTIONS: count})
    assert count.level.name == "WARNING"
    assert out[Fig.SOCKET_GROWTH_PER_H].detail.to_warning_s == 0


def test_a_reading_at_the_limit_is_not_past_it_as_a_threshold_is_crossed_beyond() -> None:
    assert time_to(409.6, 1.0, 409.6, 7 * 86400, latest=409.6) == 1.0
    assert time_to(409.6, 1.0, 409.6, 7 * 86400) == 1.0
    assert time_to(412.0, -1.0, 409.6, 7 * 86400, latest=409.0) is None


def test_a_flat_series_with_noise_gives_its_slope_but_no_time_left() -> None:
    tr = Trends(S)
    # Memory around 252 MB, a minute's reading up or down by a few MB, no leak; the last
    # reading (t = 600) opens the eleventh minute, the ten before are fitted.
    noisy = [250, 256, 247, 255, 249, 258, 246, 254, 251, 257, 250]
    for k, mb in enumerate(noisy):
        out, _ = feed(tr, 60.0 * k, figs(mb, sockets=600 + 10 * (mb - 250)))
    g = out[Fig.MEMORY_GROWTH_MB_PER_H]
    # Of the 45 pairwise slopes the median is +1/3 MB a minute: +20 MB/h, said as the pace.
    # At that pace the warning (409.6 MB) would be ~8h away; but 20 pairs rise against 25
    # (Mann-Kendall S = 5) and Sen's 95 % interval (M1 = (45 - 1.96 * sqrt(125)) / 2 =
    # 11.5: the 11th smallest slope, -1.5 MB a minute) holds 0: noise, not a leak.
    assert g.value == 20.0
    assert g.detail.to_warning_s is None and g.detail.to_critical_s is None
    s = out[Fig.SOCKET_GROWTH_PER_H]
    assert s.value == 200.0 and s.detail.to_warning_s is None
    # The same noise on a leak of 5 MB a minute: every pairwise slope is 5 MB a minute more
    # (the median 320 MB/h), the 11th smallest is +3.5, and the time left is said.
    tr = Trends(S)
    for k, mb in enumerate(noisy):
        out, _ = feed(tr, 60.0 * k, figs(mb + 5 * k))
    g = out[Fig.MEMORY_GROWTH_MB_PER_H]
    assert g.value == 320.0 and g.detail.to_warning_s is not None


def test_flat_noisy_series_rarely_give_a_time_left() -> None:
    import random

    # 200 half-hours of readings every 15 s around a flat 250 MB and 600 sockets (sd 8 MB,
    # 40 sockets). Before the slope had to clear its noise, about one in two gave a time
    # left (the median slope is above 0 half the time); now about one in forty (Sen's 95 %
    # two-sided interval: 2.5 % above 0 by chance).
    rng = random.Random(17)
    said = 0
    for _ in range(200):
        tr = Trends(S)
        for k in range(31):
            for off in (0, 15, 30, 45):
                out, _ = feed(tr, 60.0 * k + off,
                              figs(250 + rng.gauss(0, 8), sockets=600 + rng.gauss(0, 40)))
        said += out[Fig.MEMORY_GROWTH_MB_PER_H].detail.to_warning_s is not None
        said += out[Fig.SOCKET_GROWTH_PER_H].detail.to_warning_s is not None
    assert said <= 20, f"{said} of 400 flat series gave a time left"


def test_a_rise_is_told_from_noise_from_six_medians() -> None:
    # Five points on a rising line: all 10 slopes positive, but M1 = (10 - 1.96 * sqrt(50 /
    # 3)) / 2 = 0.9992: under the first slope, the interval is open below. Six: M1 = (15 -
    # 1.96 * sqrt(85 / 3)) / 2 = 2.28, the 2nd smallest slope, 1: a rise.
    line = [(60.0 * k, 200.0 + k) for k in range(6)]
    assert not rises(line[:5])
    assert rises(line)
    assert not rises([(0.0, 1.0), (60.0, 1.0), (120.0, 1.0), (180.0, 1.0), (240.0, 1.0),
                      (300.0, 1.0)])  # flat: every slope 0
