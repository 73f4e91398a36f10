"""Figures that warn before a threshold: how fast memory and the socket count grow, the time
left to the warning and critical limits at that pace, and what a restart did right after it.

The slope is Theil-Sen (the median of the pairwise slopes) over per-minute medians of the
last `window_s`: a GC that frees 20 MB or a scrape that reads a spike moves a median, not the
fit, and one odd minute moves the median of pairwise slopes very little where least squares
would follow it. The fit never spans a restart: a new process starts from a new footprint
(and its reconnect storm), so the fit starts after it, and says so until enough time passed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sbtop.engine import words
from sbtop.engine.detail import Detail
from sbtop.engine.figures import Figure, judge, unknown
from sbtop.engine.keys import Fig
from sbtop.engine.settings import EngineSettings, TrendSettings

MB = 1024.0 * 1024.0
HOUR = 3600.0


def theil_sen(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """(slope, intercept) of the Theil-Sen line through (t, v) points: the median of the
    slopes between every pair, and the median of v - slope * t. None under two distinct t."""
    return _line(points, _slopes(points))


def _line(points: Sequence[tuple[float, float]], slopes: Sequence[float]
          ) -> tuple[float, float] | None:
    """theil_sen's line from the pairwise slopes already sorted (shared with `rises`)."""
    if not slopes:
        return None
    slope = _median(slopes)
    return slope, _median(sorted(v - slope * t for t, v in points))


def _slopes(points: Sequence[tuple[float, float]]) -> list[float]:
    return sorted((v2 - v1) / (t2 - t1) for i, (t1, v1) in enumerate(points)
                  for t2, v2 in points[i + 1:] if t2 != t1)


# The normal quantile of Sen's two-sided 95 % confidence interval of the slope.
Z_95 = 1.96


def rises(points: Sequence[tuple[float, float]], z: float = Z_95) -> bool:
    """Whether the readings rise beyond what noise around a flat line gives: the lower limit
    of Sen's confidence interval of the slope (Sen 1968; Gilbert 1987, 16.5) is above 0. Of
    the N ordered pairwise slopes it is the M1-th, M1 = (N - z * sqrt(Var S)) / 2 with the
    Mann-Kendall variance Var S = n (n - 1) (2n + 5) / 18 (without the tie correction, which
    only narrows it: the test stays on the safe side). A flat series with noise has a
    median slope above 0 half the time; a time left to a limit drawn from that is a false
    warning (a socket count of 600 +- 40 read "warning in ~7h" once in two)."""
    return _rises(len(points), _slopes(points), z)


def _rises(n: int, slopes: Sequence[float], z: float = Z_95) -> bool:
    """`rises` from the pairwise slopes already sorted (shared with theil_sen's line)."""
    m1 = (len(slopes) - z * math.sqrt(n * (n - 1) * (2 * n + 5) / 18.0)) / 2.0
    if m1 < 1:
        return False  # too few points for any interval that excludes 0
    return slopes[math.floor(m1) - 1] > 0


def _median(xs: Sequence[float]) -> float:
    n = len(xs)
    mid = n // 2
    return xs[mid] if n % 2 else (xs[mid - 1] + xs[mid]) / 2.0


@dataclass(frozen=True, slots=True)
class Fit:
    """A series' slope per second and its line's value at `t`; `span_s` is the time its
    readings cover."""

    slope: float
    level: float
    span_s: float
    rising: bool = False  # the slope is above 0 beyond the readings' noise (`rises`)

    @property
    def pace(self) -> float:
        """The slope a time left is counted at: none while noise could have made it."""
        return self.slope if self.rising else 0.0


class Series:
    """One gauge's readings since the latest restart, kept as per-bucket medians over the
    window. The fit is made again only when a bucket is complete (once a minute): the figure
    holds still between, as a slope should."""

    def __init__(self, s: TrendSettings) -> None:
        self.s = s
        self._buckets: deque[tuple[float, float]] = deque()  # (mean t, median value)
        self._cur: int | None = None
        self._cur_t: list[float] = []
        self._cur_v: list[float] = []
        self.first_t: float | None = None
        self.last_t: float | None = None
        self.last_v: float | None = None
        self._fit: tuple[float, float] | None = None
        self._rising = False
        self._dirty = False

    def reset(self) -> None:
        self._buckets.clear()
        self._cur, self._cur_t, self._cur_v = None, [], []
        self.first_t = self.last_t = self.last_v = None
        self._fit, self._dirty = None, False

    def add(self, t: float, v: float) -> None:
        b = math.floor(t / self.s.bucket_s)
        if self._cur is not None and b != self._cur:
            self._close()
        self._cur = b
        self._cur_t.append(t)
        self._cur_v.append(v)
        if self.first_t is None:
            self.first_t = t
        self.last_t, self.last_v = t, v
        start = t - self.s.window_s
        while self._buckets and self._buckets[0][0] < start:
            self._buckets.popleft()
            self._dirty = True
        if self.first_t < start:
            self.first_t = self._buckets[0][0] if self._buckets else t

    def _close(self) -> None:
        if self._cur_t:
            self._buckets.append((sum(self._cur_t) / len(self._cur_t),
                                  _median(sorted(self._cur_v))))
            self._dirty = True
        self._cur_t, self._cur_v = [], []

    @property
    def span_s(self) -> float:
        if self.first_t is None or self.last_t is None:
            return 0.0
        return self.last_t - self.first_t

    def quiet_s(self, t: float) -> float | None:
        """How long since the latest reading, when that is longer than two buckets: a slope
        of readings that stopped is an old slope, not today's."""
        if self.last_t is not None and t - self.last_t > 2 * self.s.bucket_s:
            return t - self.last_t
        return None

    def fit(self, t: float) -> Fit | None:
        """The fit, with its line's value at `t`; None under `min_span_s` of readings or
        three complete buckets, or when the readings stopped."""
        if (self.span_s < self.s.min_span_s or len(self._buckets) < 3
                or self.quiet_s(t) is not None):
            return None
        if self._dirty or self._fit is None:
            points = list(self._buckets)
            slopes = _slopes(points)  # every pair's: sorted once, for the line and its noise
            self._fit = _line(points, slopes)
            self._rising = _rises(len(points), slopes)
            self._dirty = False
        if self._fit is None:
            return None
        slope, intercept = self._fit
        return Fit(slope, intercept + slope * t, self.span_s, self._rising)


def time_to(level: float, slope_per_s: float, bound: float | None, horizon_s: float,
            latest: float | None = None) -> float | None:
    """Seconds until a series whose fitted line is at `level`, growing `slope_per_s`, passes
    `bound`: 0 when it already has, None when it never will at that pace (flat, falling) or
    not within `horizon_s` (a week away is no warning for this deploy).

    The line gives the pace and, under the limit, the level to count from (a GC's dip does not
    move it); the latest reading, when given, says which side of the limit the series is, as
    the figure beside it is judged (strictly beyond the bound): past it is 0 ("past warning")
    whatever the line says, and under it is never 0, counted from the reading when the line
    is already past (so an OK figure never reads "warning now", nor a WARNING one "in ~1m")."""
    if bound is None:
        return None
    if (latest if latest is not None else level) > bound:
        return 0.0
    if slope_per_s <= 0:
        return None
    start = latest if latest is not None and level >= bound else level
    left = (bound - start) / slope_per_s
    if left > horizon_s:
        return None
    return max(left, 1.0)  # at the bound, not beyond it: moments away, not past


def about(seconds: float) -> str:
    """'23m', '2h10m', '<1m': a time left, as coarse as the slope it comes from (whole
    minutes: "~23m00s" would claim a precision the fit does not have)."""
    sec = int(seconds)
    if sec < 60:
        return "<1m"
    if sec < 3600:
        return f"{sec // 60}m"
    return f"{sec // 3600}h{(sec % 3600) // 60:02d}m"


def time_left_words(to_warning_s: float | None, to_critical_s: float | None,
                    slope: float | None) -> str:
    """'warning in ~2h10m, critical in ~3h00m'; 'past warning, critical in ~10m'; 'past
    critical'; '' when flat or falling. 0 is a limit the latest reading is already past."""
    if to_critical_s == 0:
        return "past critical"
    parts = []
    if to_warning_s == 0:
        parts.append("past warning")
    elif to_warning_s is not None:
        parts.append(f"warning in ~{about(to_warning_s)}")
    if to_critical_s is not None:
        parts.append(f"critical in ~{about(to_critical_s)}")
    if not parts and slope is not None:
        return "falling" if slope < 0 else "flat"
    return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Aftermath:
    """What followed a restart: the sockets' drop and surge back (the reconnect storm) and the
    connection pool's peak (each client's first requests open connections at once)."""

    restart_wall: float
    sockets_before: float | None = None
    sockets_low: float | None = None
    sockets_peak: float | None = None
    surge_s: float | None = None  # restart to the sockets' peak
    pool_label: str = ""
    pool_before: float | None = None
    pool_peak: float | None = None
    pool_peak_s: float | None = None  # restart to the pool's peak

    @property
    def surge(self) -> float | None:
        if self.sockets_low is None or self.sockets_peak is None:
            return None
        return self.sockets_peak - self.sockets_low

    def effects(self) -> str:
        """'sockets +840 in 40s, db pool peak 96.0% 25s after (sockets 12 -> 852, 830
        before; db pool 35.0% before)': what happened first (a line in an 80-column panel
        keeps it), then the readings it comes from."""
        said, basis = [], []
        surge = self.surge
        if surge is not None and self.surge_s is not None:
            said.append(f"sockets {surge:+,.0f} in {words.duration(self.surge_s)}")
            before = (f", {words.number(self.sockets_before, '')} before"
                      if self.sockets_before is not None else "")
            basis.append(f"sockets {words.number(self.sockets_low, '')} -> "
                         f"{words.number(self.sockets_peak, '')}{before}")
        if self.pool_peak is not None and self.pool_peak_s is not None:
            said.append(f"{self.pool_label} peak {words.number(self.pool_peak, '%')} "
                        f"{words.duration(self.pool_peak_s)} after")
            if self.pool_before is not None:
                basis.append(f"{self.pool_label} {words.number(self.pool_before, '%')} before")
        if not said:
            return "no sockets or pool figures after it"
        return ", ".join(said) + (f" ({'; '.join(basis)})" if basis else "")

    def words(self) -> str:
        """'restart at 12:03:10 UTC: ' and its effects."""
        return f"restart at {clock(self.restart_wall)} UTC: {self.effects()}"


def clock(wall: float) -> str:
    return dt.datetime.fromtimestamp(wall, dt.UTC).strftime("%H:%M:%S")


def pool_key(keys: Sequence[str] | Mapping[str, object]) -> str | None:
    """The pool figure a restart's spike is read from: the app's pool when configured, else
    the database's connections."""
    for k in (Fig.DB_POOL_PCT, Fig.DB_CONNECTIONS_PCT):
        if k in keys:
            return k
    return None


POOL_LABELS: dict[str, str] = {Fig.DB_POOL_PCT: "db pool", Fig.DB_CONNECTIONS_PCT: "db conns"}


def aftermath(restart_wall: float, walls: Sequence[float], sockets: Sequence[float],
              pool: Sequence[float], pool_label: str, span_s: float,
              sockets_before: float | None = None, pool_before: float | None = None
              ) -> Aftermath:
    """The restart's effects from the readings after it (NaN: unknown at that reading), up to
    `span_s` after it: the sockets' lowest reading and the highest after that (the surge is
    the difference, timed from the restart), and the pool's highest reading. Pure, so the
    live engine and `sbtop timeline` (from a recording) say the same."""
    low: tuple[float, float] | None = None  # (value, wall)
    peak: tuple[float, float] | None = None
    pool_peak: tuple[float, float] | None = None
    for i, wall in enumerate(walls):
        if wall < restart_wall:
            continue
        if wall - restart_wall > span_s:
            break
        s = sockets[i] if i < len(sockets) else math.nan
        if not math.isnan(s):
            if low is None or s < low[0]:
                low, peak = (s, wall), (s, wall)
            elif peak is None or s > peak[0]:
                peak = (s, wall)
        p = pool[i] if i < len(pool) else math.nan
        if not math.isnan(p) and (pool_peak is None or p > pool_peak[0]):
            pool_peak = (p, wall)
    return Aftermath(
        restart_wall, sockets_before,
        low[0] if low else None, peak[0] if peak else None,
        peak[1] - restart_wall if peak else None,
        pool_label, pool_before,
        pool_peak[0] if pool_peak else None,
        pool_peak[1] - restart_wall if pool_peak else None)


class Trends:
    """Fed every judged tick; gives the trend figures and, for a while after a restart, the
    note that links its effects to it."""

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self.s = settings.trends
        self.memory = Series(self.s)
        self.sockets = Series(self.s)
        self.restart_wall: float | None = None
        self._restart_t: float | None = None
        self._reset_seen: float | None = None
        self._before: dict[str, float | None] = {}
        self._after: list[tuple[float, float, float]] = []  # (wall, sockets, pool)
        self._pool_key: str | None = None
        self._last_sockets: float | None = None  # the previous tick's, for "before"
        self._last_pool: float | None = None
        self._by_action = False  # the latest restart is sbtop's action, not seen yet
        self.latest: Aftermath | None = None

    def observe(self, t: float, wall: float, figures: Mapping[str, Figure],
                reset_t: float | None, process_start: float | None
                ) -> tuple[dict[str, Figure], str | None]:
        """The trend figures and the restart note (None when there is none to say).
        `reset_t`: when the engine last saw the counters restart (a new process start time);
        `process_start`: the process's own start time, the restart's exact moment."""
        mem = _fresh(figures.get(Fig.MEMORY_PCT))
        rss = mem.detail.rss_bytes if mem is not None else None
        sock_f = _fresh(figures.get(Fig.SOCKET_CONNECTIONS))
        sock = sock_f.value if sock_f is not None else None
        restarted = reset_t is not None and reset_t != self._reset_seen
        self._reset_seen = reset_t
        last_rss = self.memory.last_v
        if (not restarted and rss is not None and last_rss is not None
                and rss < last_rss * (1.0 - self.s.restart_drop)):
            restarted = True  # no start time to go by (Prometheus): the footprint fell
        if restarted:
            when = process_start if process_start is not None and (
                0 < wall - process_start < 10 * self.s.after_restart_s) else wall
            self._restart(t, when, figures)
        if rss is not None:
            self.memory.add(t, rss)
        if sock is not None:
            self.sockets.add(t, sock)
        note = self._note(t, wall, figures)
        out: dict[str, Figure] = {}
        if Fig.MEMORY_PCT in figures:
            out[Fig.MEMORY_GROWTH_MB_PER_H] = self._memory_figure(t, mem, figures)
        if Fig.SOCKET_CONNECTIONS in figures:
            out[Fig.SOCKET_GROWTH_PER_H] = self._socket_figure(t, figures)
        return out, note

    def seed(self, memory_pct: Sequence[tuple[float, float]],
             sockets: Sequence[tuple[float, float]], t: float, wall: float) -> None:
        """Readings from before the session began, as (wall, value) (Prometheus's last hour,
        when the console opens on it), so a slope is there at once. Without a start time in
        them, a fall of memory is the restart the fit starts after, as live."""
        limit = self.settings.memory_limit_bytes
        for w, pct in memory_pct:
            if w > wall or math.isnan(pct) or not limit:
                continue
            rss = pct * limit / 100.0
            last = self.memory.last_v
            if last is not None and rss < last * (1.0 - self.s.restart_drop):
                self.memory.reset()
                self.restart_wall = w
            self.memory.add(t - (wall - w), rss)
        since = self.restart_wall if self.restart_wall is not None else -math.inf
        for w, n in sockets:
            if since <= w <= wall and not math.isnan(n):
                self.sockets.add(t - (wall - w), n)

    def restarted(self, t: float, wall: float) -> None:
        """sbtop restarted the service (its restart action succeeded): the fit starts again
        and its effects are watched from now, before the new process is seen (a platform
        restart takes a while, and without a start time only a fall of memory shows it)."""
        self._restart(t, wall, {})
        self._by_action = True

    def _restart(self, t: float, wall: float, figures: Mapping[str, Figure]) -> None:
        self.memory.reset()
        self.sockets.reset()
        # The process seen restarting shortly after sbtop's action is that restart: the
        # levels before are those before the action, not the ones it already brought down.
        keep = (self._by_action and self._restart_t is not None
                and t - self._restart_t <= self.s.after_restart_s)
        self._by_action = False
        self.restart_wall, self._restart_t = wall, t
        self._pool_key = pool_key(figures)
        if not keep:
            # The figures of the tick that saw the restart may already be the new
            # process's: the level before is the last tick's.
            self._before = {Fig.SOCKET_CONNECTIONS: self._last_sockets,
                            "pool": self._last_pool}
        self._after = []
        self.latest = None

    def _note(self, t: float, wall: float, figures: Mapping[str, Figure]) -> str | None:
        sock_f = _fresh(figures.get(Fig.SOCKET_CONNECTIONS))
        key = self._pool_key = self._pool_key or pool_key(figures)
        pool_f = _fresh(figures.get(key)) if key else None
        sock = sock_f.value if sock_f is not None else None
        pool = pool_f.value if pool_f is not None else None
        self._last_sockets, self._last_pool = sock, pool
        if self._restart_t is None or self.restart_wall is None:
            return None
        since = t - self._restart_t
        if since <= self.s.after_restart_s:
            self._after.append((wall, math.nan if sock is None else sock,
                                math.nan if pool is None else pool))
            self.latest = aftermath(
                self.restart_wall, [w for w, _, _ in self._after],
                [s for _, s, _ in self._after], [p for _, _, p in self._after],
                POOL_LABELS.get(self._pool_key or "", "db pool"), self.s.after_restart_s,
                self._before.get(Fig.SOCKET_CONNECTIONS), self._before.get("pool"))
        if since > self.s.note_for_s:
            self.latest = None  # old news: the timeline keeps it, the screen moves on
        return self.latest.words() if self.latest is not None else None

    def _memory_figure(self, t: float, mem: Figure | None, figures: Mapping[str, Figure]
                       ) -> Figure:
        key = Fig.MEMORY_GROWTH_MB_PER_H
        fit = self.memory.fit(t)
        if fit is None:
            return unknown(key, self._why_not(t, "memory readings", self.memory,
                                              figures[Fig.MEMORY_PCT]), self.settings)
        limit = mem.detail.limit_bytes if mem is not None else None
        th = self.settings.thresholds.get(Fig.MEMORY_PCT)
        warn = crit = None
        if limit and th is not None and th.above:
            warn = _bound(th.warning, limit)
            crit = _bound(th.critical, limit)
        h = self.s.horizon_s
        rss = mem.detail.rss_bytes if mem is not None else None
        return judge(key, round(fit.slope * HOUR / MB, 1), self.settings, detail=Detail(
            span_s=round(fit.span_s), restart_at=self.restart_wall,
            to_warning_s=_minute(time_to(fit.level, fit.pace, warn, h, rss)),
            to_critical_s=_minute(time_to(fit.level, fit.pace, crit, h, rss))))

    def _socket_figure(self, t: float, figures: Mapping[str, Figure]) -> Figure:
        key = Fig.SOCKET_GROWTH_PER_H
        a = self.latest
        surge, surge_s = (a.surge, a.surge_s) if a is not None else (None, None)
        fit = self.sockets.fit(t)
        if fit is None:
            why = self._why_not(t, "socket counts", self.sockets,
                                figures[Fig.SOCKET_CONNECTIONS])
            return judge(key, None, self.settings, reason=why, detail=Detail(
                restart_at=self.restart_wall, surge=surge, surge_s=surge_s))
        th = self.settings.thresholds.get(Fig.SOCKET_CONNECTIONS)
        warn = th.warning if th is not None and th.above else None
        crit = th.critical if th is not None and th.above else None
        h = self.s.horizon_s
        # The count beside it, as shown (a stale one too: it is what the level judged).
        now = figures[Fig.SOCKET_CONNECTIONS].value
        return judge(key, round(fit.slope * HOUR, 1), self.settings, detail=Detail(
            span_s=round(fit.span_s), restart_at=self.restart_wall,
            to_warning_s=_minute(time_to(fit.level, fit.pace, warn, h, now)),
            to_critical_s=_minute(time_to(fit.level, fit.pace, crit, h, now)),
            surge=surge, surge_s=surge_s))

    def _why_not(self, t: float, what: str, series: Series, source: Figure) -> str:
        """Why there is no slope: the figure's own reason while it was never read (a target
        down says so once, not in other words), readings that stopped, or too few yet."""
        if series.last_t is None and source.value is None and source.reason:
            return source.reason
        quiet = series.quiet_s(t)
        if quiet is not None:
            return f"no {what} for {words.duration(quiet)}"
        return self._needs(what, series)

    def _needs(self, what: str, series: Series) -> str:
        need = words.duration(self.s.min_span_s)
        have = words.duration(series.span_s)
        since = ""
        if self.restart_wall is not None:
            since = f" since the restart at {clock(self.restart_wall)} UTC"
        return f"needs {need} of {what}{since}, have {have}"


def _fresh(f: Figure | None) -> Figure | None:
    """A figure read this tick of the whole service: a stale one repeats an old reading, a
    partial one covers only the instances that answered (with one down, the sockets' sum
    falls and the memory's maximum may): gaps, not samples."""
    if f is None or f.stale_s is not None or f.detail.partial:
        return None
    return f


def _bound(pct: float | None, limit: float) -> float | None:
    return None if pct is None else limit * pct / 100.0


def _minute(seconds: float | None) -> float | None:
    """Whole minutes: "~2h10m" is what is said, and a value that changes every tick would be
    written into every tick of a recording. A limit not yet reached is a minute away at the
    least: 0 means already past ("past warning"), and 20 s away is not that."""
    if seconds is None:
        return None
    return 60.0 * max(1, round(seconds / 60.0)) if seconds > 0 else 0.0
