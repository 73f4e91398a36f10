"""Error-budget burn rates (sbtop.engine.slo) as judged figures, and the workbook's pairs as
alerts.

Two sources, one computation. A direct scrape: the session's own history of the running sums
(`BurnHistory`, one point every HISTORY_STEP_S), so a window's ratio is the increase between
the newest point at least that window old and now; until the session has watched that long the
figure is unknown and says how much history it has, never a shorter window passed off as the
window. Prometheus: increase() over each window, asked every BURN_EVERY_S inside the round's one
query (sbtop.engine.burn_promql), with how far back Prometheus holds the app's series, so a
window Prometheus does not cover is unknown there too.
"""

from __future__ import annotations

import bisect
import collections
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from sbtop.engine import words
from sbtop.engine.alerts import Alert, AlertEvaluator
from sbtop.engine.detail import Detail
from sbtop.engine.figures import Figure, judge
from sbtop.engine.levels import Level
from sbtop.engine.names import status_class
from sbtop.engine.observations import PromSnapshot
from sbtop.engine.quantile import INF
from sbtop.engine.rollup import BUCKET, Rollup, status_counts
from sbtop.engine.settings import AlertRule, EngineSettings
from sbtop.engine.slo import (
    AVAILABILITY,
    BURN_FIGURES,
    ENGINE_PAIRS,
    FIGURE_WINDOWS,
    LATENCY,
    WINDOW_S,
    BurnPair,
    alert_name,
    page_at,
)

HISTORY_STEP_S = 10.0
# Prometheus's burn rates are read this often (a 6-hour range is not worth asking every
# second); between reads the last ones stand, each saying its age, and past STALE_AFTER_S
# (reads failing) they judge nothing.
BURN_EVERY_S = 30.0
STALE_AFTER_S = 3 * BURN_EVERY_S


@dataclass(frozen=True, slots=True)
class Counts:
    """One window of one SLO: the bad and all requests in it, or why they are not known."""

    bad: float | None = None
    total: float | None = None
    span_s: float | None = None
    bound_s: float | None = None  # the latency SLO's bucket bound read
    reason: str | None = None


def burn_rate(bad: float, total: float, objective: float) -> float:
    """The error ratio as a multiple of the budget (1 - objective)."""
    return (bad / total) / (1.0 - objective)


def slow_bound(bounds: Iterable[float], threshold_s: float) -> float | None:
    """The bucket bound a request must be at or under to meet the latency SLO: the threshold
    itself, or the nearest finite bound above it (then a request between the two counts as
    fast: the budget's use is under-read, said in a note). None: no finite bound that high."""
    # Bounds as the app writes them ("0.5") against ms / 1000: equal up to float noise.
    above = [b for b in bounds if math.isfinite(b) and b >= threshold_s * (1 - 1e-9)]
    return min(above) if above else None


def _figure(key: str, c: Counts, objective: float, min_requests: int,
            settings: EngineSettings, window: str, source: str | None = None) -> Figure:
    reason = c.reason
    if reason is None and c.total is not None and c.total < min_requests:
        reason = f"too few requests: {c.total:.0f} in {window} (need {min_requests})"
    d = Detail(errors=c.bad, requests=c.total, objective_pct=round(objective * 100, 6),
               span_s=None if c.span_s is None else round(c.span_s, 1),
               bound_ms=None if c.bound_s is None else c.bound_s * 1000.0,
               page_at=page_at(window, settings.slo.period_s), source=source)
    if reason is not None or c.bad is None or c.total is None:
        return judge(key, None, settings, reason=reason or "no value", detail=d)
    return judge(key, burn_rate(c.bad, c.total, objective), settings, detail=d)


# --- a direct scrape: the session's own history -----------------------------------------------

@dataclass(frozen=True, slots=True)
class _Point:
    """The running sums a burn rate needs, as of one scrape; None with why where unreadable."""

    t: float
    feed: str | None = None  # which count the requests were read from
    requests: float | None = None
    errors: float | None = None
    why_requests: str | None = None
    bound: float | None = None
    under: float | None = None  # requests at or under the bound
    observed: float | None = None  # every request the histogram saw
    why_latency: str | None = None


class BurnHistory:
    """One point every `step_s` over the longest window the engine figures (6 h: about 2,200
    points), so memory is bounded whatever the session's length."""

    def __init__(self, settings: EngineSettings, step_s: float = HISTORY_STEP_S) -> None:
        self.settings = settings
        self.step_s = step_s
        self.keep_s = max(WINDOW_S[w] for w in FIGURE_WINDOWS)
        self.points: collections.deque[_Point] = collections.deque()
        self.times: collections.deque[float] = collections.deque()  # the points' t, to bisect
        self.latest: _Point | None = None

    def add(self, r: Rollup) -> None:
        p = self._point(r)
        self.latest = p
        if not self.points or p.t - self.points[-1].t >= self.step_s or p.t < self.points[-1].t:
            if self.points and p.t < self.points[-1].t:
                # A clock that went back: nothing before it compares.
                self.points.clear()
                self.times.clear()
            self.points.append(p)
            self.times.append(p.t)
        horizon = p.t - self.keep_s
        while len(self.points) >= 2 and self.points[1].t <= horizon:
            self.points.popleft()
            self.times.popleft()

    def _point(self, r: Rollup) -> _Point:
        n = self.settings.names
        feed = status_counts(r, n)
        requests = errors = None
        why_requests = None
        if isinstance(feed, str):
            why_requests = feed
        else:
            classes = r.sums.counts(feed[0])
            requests = sum(classes.values())
            errors = classes.get("5xx", 0.0)
        bound = under = observed = None
        why_latency = None
        threshold_s = self.settings.slo.latency_threshold_ms / 1000.0
        if not r.histogram_present:
            why_latency = f"histogram {n.latency_histogram} is not {r.found_in}"
        elif r.latency_problem:
            why_latency = r.latency_problem
        elif BUCKET in r.problems:
            why_latency = r.problems[BUCKET]
        elif INF not in r.sums.buckets:
            why_latency = f'histogram {n.latency_histogram} has no le="+Inf" bucket'
        else:
            bound = slow_bound(r.sums.buckets, threshold_s)
            if bound is None:
                why_latency = _no_bound(r.sums.buckets, threshold_s)
            else:
                under = r.sums.buckets[bound]
                observed = r.sums.buckets[INF]
        return _Point(r.t, feed[0] if feed else None, requests, errors, why_requests, bound,
                      under, observed, why_latency)

    def counts(self, slo: str, window: str) -> Counts:
        end = self.latest
        if end is None:
            return Counts(reason="no successful scrape yet")
        why = end.why_requests if slo == AVAILABILITY else end.why_latency
        if why is not None:
            return Counts(reason=why)
        w = WINDOW_S[window]
        horizon = end.t - w
        i = bisect.bisect_right(self.times, horizon) - 1  # the newest point at or before it
        start = self.points[i] if i >= 0 else None
        if start is None:
            have = end.t - self.points[0].t if self.points else 0.0
            return Counts(reason=f"needs {_span(w)} of history, have {words.duration(have)}")
        allowance = max(3 * self.step_s, 0.1 * w)
        if start.t < horizon - allowance:
            gap = (self.times[i + 1] if i + 1 < len(self.times) else end.t) - start.t
            return Counts(reason=f"nothing read for {words.duration(gap)} around the start of "
                          f"the {window} window: it cannot be measured")
        span = end.t - start.t
        if slo == AVAILABILITY:
            if start.feed != end.feed or start.requests is None or start.errors is None:
                return Counts(reason=f"the request count changed within the {window} window")
            assert end.requests is not None and end.errors is not None
            return Counts(end.errors - start.errors, end.requests - start.requests, span)
        if start.bound != end.bound or start.under is None or start.observed is None:
            return Counts(reason=f"the histogram's buckets changed within the {window} window")
        assert end.under is not None and end.observed is not None
        total = end.observed - start.observed
        return Counts(total - (end.under - start.under), total, span, end.bound)


def _no_bound(bounds: Iterable[float], threshold_s: float) -> str:
    finite = [b for b in bounds if math.isfinite(b)]
    highest = f" (highest {max(finite) * 1000:g} ms)" if finite else ""
    return (f"no bucket bound at or above {threshold_s * 1000:g} ms{highest}: the share "
            "slower than it cannot be read")


def _span(seconds: float) -> str:
    return next((name for name, s in WINDOW_S.items() if s == seconds), words.duration(seconds))


# --- Prometheus -------------------------------------------------------------------------------

def prom_counts(snap: PromSnapshot, slo: str, window: str, settings: EngineSettings) -> Counts:
    """One window of one SLO from the round's burn parts (sbtop.engine.burn_promql)."""
    key = f"burn_{'counts' if slo == AVAILABILITY else 'buckets'}:{window}"
    if key in snap.failures:
        return Counts(reason=f"Prometheus: {snap.failures[key]}")
    if key not in snap.vectors:
        n = settings.names
        return Counts(reason=(f"Prometheus has no {n.requests_counter} or "
                              f"{n.latency_histogram}_count with a status label"
                              if slo == AVAILABILITY else
                              f"Prometheus has no {n.latency_histogram}_bucket"))
    covered = _covered(snap, window)
    if covered is not None:
        return Counts(reason=covered)
    rows = snap.vectors[key]
    w = WINDOW_S[window]
    if not rows:
        return Counts(reason=f"Prometheus holds fewer than two samples in the last {window}")
    if slo == AVAILABILITY:
        labels = settings.names.status_labels
        bad = total = 0.0
        for row, v in rows:
            status = next((row[x] for x in labels if x in row), None)
            if status is None:
                return Counts(reason="a request series without a status label "
                              f"({', '.join(labels)})")
            if not math.isfinite(v) or v < 0:
                return Counts(reason=f"Prometheus: a request increase is {v:g}")
            total += v
            if status_class(status) == "5xx":
                bad += v
        return Counts(bad, total, w)
    buckets: dict[float, float] = {}
    for row, v in rows:
        try:
            le = float(row.get("le", "x"))
        except ValueError:
            continue
        buckets[le] = buckets.get(le, 0.0) + v
    threshold_s = settings.slo.latency_threshold_ms / 1000.0
    if INF not in buckets:
        return Counts(reason=f'histogram {settings.names.latency_histogram} has no le="+Inf" '
                      "bucket")
    bound = slow_bound(buckets, threshold_s)
    if bound is None:
        return Counts(reason=_no_bound(buckets, threshold_s))
    total = buckets[INF]
    return Counts(total - buckets[bound], total, w, bound)


def _covered(snap: PromSnapshot, window: str) -> str | None:
    """Why Prometheus's `window` is not the whole window (it holds less history), or None."""
    if "burn_since" in snap.failures:
        return f"how far back Prometheus holds the app's series is unknown: " \
               f"{snap.failures['burn_since']}"
    rows = snap.vectors.get("burn_since", ())
    at = snap.burn_at
    if not rows or at is None or not math.isfinite(rows[0][1]):
        return "Prometheus holds none of the app's series over the last 6h"
    have = at - rows[0][1]
    w = WINDOW_S[window]
    # A sample at or before the window's start: the window is all there (the history may be
    # understated for its first minute, never overstated: sbtop.engine.burn_promql).
    if have < w:
        # Under a minute, the 1-minute grid may not have found the first sample yet.
        held = "under a minute" if have < 60 else words.duration(have)
        return f"needs {window} of history, Prometheus holds {held} of the app's series"
    return None


# --- both, judged, and the pairs as alerts ----------------------------------------------------

class BurnWatch:
    """The burn-rate figures each tick and the pairs' alerts (Prometheus's alert states: the
    workbook's rules have no `for`, so a pair fires at the first evaluation that holds)."""

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self.history = BurnHistory(settings)
        self._prom: tuple[dict[str, Figure], float] | None = None  # figures, evaluated at
        self._prom_error: str | None = None
        rules = []
        # Each pair's rule names its long window's figure (the alerts panel shows its unit);
        # the value it is judged on is the slower of the pair's two windows.
        self._pairs: dict[str, tuple[str, BurnPair]] = {}
        for slo in settings.slo.objectives():
            for pair in ENGINE_PAIRS:
                f = pair.factor(settings.slo.period_s)
                name = alert_name(slo, pair)
                self._pairs[name] = (slo, pair)
                rules.append(AlertRule(
                    name, BURN_FIGURES[(slo, pair.long)], ">", f, 0.0, pair.severity,
                    f"{slo} error budget burning over {f:g}x over {pair.long} and {pair.short}"))
        self.rules = tuple(rules)
        self.evaluator = AlertEvaluator(self.rules)

    @property
    def on(self) -> bool:
        return bool(self.settings.slo.objectives())

    def direct(self, fleet: bool) -> dict[str, Figure]:
        out: dict[str, Figure] = {}
        s = self.settings
        for slo, objective in s.slo.objectives().items():
            for window in FIGURE_WINDOWS:
                key = BURN_FIGURES[(slo, window)]
                c = (Counts(reason="several metrics URLs scraped directly: burn rates need "
                            "Prometheus (or one URL)") if fleet
                     else self.history.counts(slo, window))
                out[key] = _figure(key, c, objective, s.min_requests, s, window)
        return out

    def prometheus(self, snap: PromSnapshot, wall: float) -> dict[str, Figure]:
        s = self.settings
        why = (f"Prometheus unavailable: {snap.error}" if snap.error is not None
               else snap.refusal)
        if why is None and snap.burn_at is not None:
            fresh: dict[str, Figure] = {}
            for slo, objective in s.slo.objectives().items():
                for window in FIGURE_WINDOWS:
                    key = BURN_FIGURES[(slo, window)]
                    fresh[key] = _figure(key, prom_counts(snap, slo, window, s), objective,
                                         s.min_requests, s, window, source="prometheus")
            self._prom = (fresh, snap.burn_at)
        if snap.error is None and snap.refusal is not None:
            self._prom = None  # nothing of this scope may stand for the target
        if self._prom is None:
            reason = why or "not read from Prometheus yet"
            return {BURN_FIGURES[(slo, w)]: judge(BURN_FIGURES[(slo, w)], None, s,
                                                   reason=reason)
                    for slo in s.slo.objectives() for w in FIGURE_WINDOWS}
        figures, at = self._prom
        age = max(0.0, wall - at)
        out: dict[str, Figure] = {}
        for k, read in figures.items():
            f = replace(read, detail=replace(read.detail, age_s=round(age, 1)))
            if f.value is not None and (snap.error is not None or age > STALE_AFTER_S):
                # Prometheus failing: the last read, marked stale (as the rates are); past
                # STALE_AFTER_S it judges nothing, so an old burn does not pass for today's.
                f = replace(f, stale_s=age, reason=f"stale: {why or 'not read again'}")
                if age > STALE_AFTER_S:
                    f = replace(f, level=Level.UNKNOWN, reason=f"stale for {age:.0f} s: "
                                f"{why or 'not read again'}")
            out[k] = f
        return out

    def alerts(self, figures: Mapping[str, Figure], t: float, wall: float
               ) -> tuple[Alert, ...]:
        """Each pair as one alert: its value the slower of its two windows' burn (both must
        be over the factor), unknown when either is."""
        synthetic: dict[str, Figure] = {}
        for rule in self.rules:
            slo, pair = self._pairs[rule.name]
            long = figures.get(BURN_FIGURES[(slo, pair.long)])
            short = figures.get(BURN_FIGURES[(slo, pair.short)])
            value = None
            if (long is not None and short is not None and long.value is not None
                    and short.value is not None and long.stale_s is None
                    and short.stale_s is None):
                value = min(long.value, short.value)
            synthetic[rule.figure] = Figure(rule.figure, value, Level.OK)
        return self.evaluator.evaluate(synthetic, t, wall)

    def notes(self) -> tuple[str, ...]:
        """The latency SLO read at a bucket bound other than its threshold, said once."""
        s = self.settings.slo
        if s.latency_pct is None:
            return ()
        bound = None
        end = self.history.latest
        if end is not None and end.bound is not None:
            bound = end.bound
        elif self._prom is not None:
            f = self._prom[0].get(BURN_FIGURES[(LATENCY, FIGURE_WINDOWS[0])])
            if f is not None and f.detail.bound_ms is not None:
                bound = f.detail.bound_ms / 1000.0
        if bound is None or math.isclose(bound * 1000.0, s.latency_threshold_ms,
                                          rel_tol=1e-9):
            return ()
        # What it means first, in the 76 columns the Alerts panel has at 80x24: requests
        # between the two bounds count as fast (README, "Error budget burn", says it whole).
        return (f"latency SLO burn under-read: no bucket bound at {s.latency_threshold_ms:g} "
                f"ms, read at {bound * 1000:g} ms",)
