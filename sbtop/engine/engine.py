"""Observations in, one Assessment out per tick. Stateful, but pure: every time comes from the
observation, nothing is read from a clock, a file or the network."""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

from sbtop.engine import words
from sbtop.engine.alerts import AlertEvaluator
from sbtop.engine.assessment import Assessment, SourceStatus
from sbtop.engine.burn import BurnWatch
from sbtop.engine.cohort_window import CohortWindow
from sbtop.engine.cohorts import Cohorts, cohort_figures, cohort_settings, cohorts_over
from sbtop.engine.database import db_figures
from sbtop.engine.exposition import ParseError
from sbtop.engine.figures import (
    Figure,
    figures_over,
    gauge_figures,
    health_figure,
    unknown,
    waiting_figures,
    window_figures,
)
from sbtop.engine.fleet import Fleet, FleetRound
from sbtop.engine.keys import Fig
from sbtop.engine.levels import Level, worst
from sbtop.engine.observations import (
    DbSnapshot,
    ExternalAlert,
    HealthProbe,
    InstanceStatus,
    MetricsScrape,
    Observation,
    PromSnapshot,
)
from sbtop.engine.prom_alerts import alert_level, alert_scope
from sbtop.engine.prom_window import prom_figures, prom_window
from sbtop.engine.rollup import Rollup, slide
from sbtop.engine.routes import Routes
from sbtop.engine.series import SeriesTracker
from sbtop.engine.settings import FIGURE_UNITS, EngineSettings
from sbtop.engine.statements import StatementsPoll, StatementsTracker, StatementsView
from sbtop.engine.trends import Trends

# Figures that come from /metrics and are carried over (marked stale) when a scrape fails.
METRIC_FIGURES = (
    Fig.LATENCY_P50_MS, Fig.LATENCY_P95_MS, Fig.LATENCY_P99_MS, Fig.REQUESTS_PER_S,
    Fig.ERROR_RATE_5XX_PCT, Fig.ERROR_RATE_4XX_PCT, Fig.SOCKET_CONNECTIONS,
    Fig.SOCKET_MESSAGES_PER_S, Fig.MEMORY_PCT, Fig.EVENT_LOOP_LAG_MS,
)


class Engine:
    def __init__(self, settings: EngineSettings, target: str = "", production: bool = False):
        self.settings = settings
        self.target = target
        self.production = production
        self.tracker = SeriesTracker(settings.names, settings.forget_after_scrapes)
        self.alerts = AlertEvaluator(settings.alerts)
        self.window: collections.deque[Rollup] = collections.deque()
        self.tick = 0
        self._metric_figures: dict[str, Figure] = {}
        self._routes = Routes(reason="no successful scrape yet")
        self._metrics_status: SourceStatus | None = None
        self._health: HealthProbe | None = None
        self._metrics_ok_wall: float | None = None  # the latest scrape that worked
        self._fleet: Fleet | None = None  # several instances scraped directly
        self._fleet_instances: tuple[InstanceStatus, ...] = ()
        self._fleet_round: FleetRound | None = None
        self._health_last_ok: float | None = None
        self._prom: PromSnapshot | None = None  # the latest round of PromQL queries
        self._prom_ok: PromSnapshot | None = None
        self._db: DbSnapshot | None = None  # the latest poll
        self._db_ok: DbSnapshot | None = None  # the latest poll that worked
        self._statements = StatementsTracker(settings.window_s)
        self._statements_shown: tuple[StatementsPoll | None, StatementsView] | None = None
        self._end: Rollup | None = None  # what the latest page (or pages) held
        self._window_s: float | None = None  # the span the rate figures cover
        self._reset_t: float | None = None  # when counters last restarted
        # Why the scrape before the only good one failed: said while there is one scrape.
        self._failed_before: str | None = None
        self._burn = BurnWatch(settings)  # error-budget burn rates, when an SLO is set
        # The canary and stable cohorts: the same pages read again with the cohort label in
        # the place of the route (sbtop.engine.cohorts), when a cohort label is configured.
        self._cohort_window: CohortWindow | None = None
        self._cohorts: Cohorts | None = None
        if settings.cohorts is not None:
            self._cohort_window = CohortWindow(settings)
        self.trends = Trends(settings)  # memory and socket growth, a restart's effects

    def observe(self, obs: Observation) -> Assessment:
        self.tick += 1
        if obs.health is not None:
            self._health = obs.health
            if obs.health.status is not None and 200 <= obs.health.status < 300:
                self._health_last_ok = obs.health.wall
        if obs.metrics is not None:
            self._take_metrics(obs.metrics)
        if obs.fleet:
            self._take_fleet(obs.fleet, obs.t, obs.wall)
        if obs.prom is not None:
            self._prom = obs.prom
            if obs.prom.error is None:
                self._prom_ok = obs.prom
        if obs.db is not None:
            self._db = obs.db
            if obs.db.error is None:
                self._db_ok = obs.db
        if obs.statements is not None:
            self._statements.observe(obs.statements)
        figures = self._current_metric_figures(obs.wall)
        prom_p95: dict[str, float] = {}
        if self._prom is not None:
            prom, self._routes, prom_p95 = self._current_prom_figures(obs.wall)
            figures.update(prom)
        hf = health_figure(self._health, self.settings)
        if hf is not None:
            figures[Fig.HEALTH] = hf
        figures.update(self._current_db_figures(obs.wall))
        if self._burn.on:
            figures.update(self._burn_figures(obs.wall))
        cohorts = self._current_cohorts()
        if cohorts is not None:
            figures.update(cohort_figures(cohorts))
        sources: dict[str, SourceStatus] = {}
        if self._metrics_status is not None:
            sources["metrics"] = self._metrics_status
        if self._health is not None:
            sources["health"] = _health_status(self._health, self._health_last_ok)
        if self._db is not None:
            sources["db"] = _db_status(self._db, self._db_ok)
        if self._prom is not None:
            p = self._prom
            sources["prometheus"] = SourceStatus(
                "prometheus", p.error is None, p.error,
                self._prom_ok.wall if self._prom_ok else None, p.wall, p.elapsed_ms,
                {"instances_up": sum(i.up for i in p.instances),
                 "instances": len(p.instances), "selector": p.selector or None,
                 # Every query of the round was evaluated at this instant: ask Prometheus
                 # for it (time=) to see what sbtop saw.
                 "evaluated_at": p.at, "queries": p.queries,
                 # The parts asked one by one (the one query failed, or loses its tags): why.
                 "part_by_part": p.part_by_part,
                 # Read every few seconds, not every round: when, so their age shows.
                 "targets_read_at": p.targets_read_at, "alerts_read_at": p.alerts_read_at})
        if self._prom is not None:
            instances = tuple(dataclasses.replace(i, p95_ms=prom_p95.get(i.name))
                              for i in self._prom.instances)
        else:
            instances = self._fleet_instances
        down = [i for i in instances if not i.up]
        uncounted = self._fleet_round.uncounted if self._fleet_round and not self._prom else ()
        covered = len(instances) - len(down) - len(uncounted)
        if instances and covered < len(instances):
            # The figures from the instances' metrics cover only some of them: say so on
            # each, so no figure passes for the whole service's.
            part = f"{max(0, covered)} of {len(instances)} instances"
            figures = {k: (dataclasses.replace(f, detail=dataclasses.replace(f.detail,
                                                                             partial=part))
                           if k in METRIC_FIGURES and f.value is not None else f)
                       for k, f in figures.items()}
        # The trends once a figure covering only some instances says so (not a reading of
        # the whole service's), before the alerts (a rule may watch a trend).
        start = self._end.gauges.get("process_start") if self._end is not None else None
        trends, restart_note = self.trends.observe(obs.t, obs.wall, figures, self._reset_t,
                                                   start)
        figures.update(trends)
        figures = {k: figures[k] for k in FIGURE_UNITS if k in figures}
        alerts = self.alerts.evaluate(figures, obs.t, obs.wall)
        if self._burn.on:
            alerts += self._burn.alerts(figures, obs.t, obs.wall)
        external = self._external_alerts()
        levels = [f.level for f in figures.values() if f.judged]
        levels += [a.level() for a in alerts]
        # Prometheus's own firing alerts about this target count like sbtop's, by severity.
        levels += [alert_level(x) for x in external if x.counted]
        alerts_error = self._prom_ok.alerts_error if self._prom_ok is not None else None
        if alerts_error:
            levels.append(Level.UNKNOWN)  # a critical alert may be firing there, unseen
        returning = self._fleet_round.returning if self._fleet_round and not self._prom else False
        if down or returning:
            # An instance that does not answer, or whose traffic the window missed, is news.
            levels.append(Level.WARNING)
        levels += [Level.UNKNOWN for s in sources.values() if not s.up and s.name != "health"]
        if not sources:
            levels.append(Level.UNKNOWN)  # nothing was read: nothing can be called ok
        window_s = self._window_s
        if self._prom is not None:
            window_s = self._prom.window_s if self._prom_ok is not None else None
        notes = [restart_note] if restart_note else []
        if self._reset_t is not None and obs.t - self._reset_t <= self.settings.window_s:
            notes.append(f"counters reset {obs.t - self._reset_t:.0f} s ago (the process "
                         "restarted); rates count from the restart, as Prometheus does")
        if self._failed_before is not None and len(self.window) == 1:
            notes.append(f"one good scrape so far; the one before failed ({self._failed_before})"
                         ": rates need a second good one")
        if down and len(down) == len(instances):
            notes.append(f"none of the {len(instances)} instances answering")
        elif down:
            notes.append(f"{len(down)} of {len(instances)} instances not answering: the "
                         "figures cover the others")
        if uncounted:
            notes.append(f"{', '.join(uncounted)}: answering, not in the figures until the "
                         "next tick (a first answer is only a baseline)")
        if self._prom is not None:
            if self._prom.scope_note:
                notes.append(self._prom.scope_note)
            if alerts_error:
                notes.append(f"Prometheus alerts unavailable ({alerts_error}): one may be "
                             "firing unseen, so the level cannot be ok")
            notes.extend(self._prom.problems)
        notes.extend(self._burn.notes())
        end = self._end
        skew = end.page_clock_skew_s if end is not None else None
        if skew is not None:
            side = "ahead of" if skew > 0 else "behind"
            off = (words.duration(abs(skew)) if abs(skew) < 2 * 86400
                   else f"{abs(skew) / 86400:,.0f} days")
            notes.append(f"the page's sample timestamps are {off} {side} "
                         "this machine's clock: ignored, rates use the scrape times")
        ignored = end.ignored if end is not None else 0
        if ignored:
            notes.append(f"{ignored} samples ignored (not finite, duplicated or without le)")
        return Assessment(
            target=self.target,
            tick=self.tick,
            t=obs.t,
            wall=obs.wall,
            level=worst(levels),
            figures=figures,
            routes=self._routes,
            alerts=alerts,
            sources=sources,
            window_s=window_s,
            health_body=self._health.body if self._health is not None else None,
            notes=tuple(notes),
            production=self.production,
            db=self._db_ok if self._db is not None and self._db.error is None else None,
            instances=instances,
            external_alerts=external,
            external_alerts_error=alerts_error,
            statements=self._statements_view(figures),
            cohorts=cohorts,
        )

    def _statements_view(self, figures: dict[str, Figure]) -> StatementsView | None:
        """The statements over the window, their calls set against the target's requests."""
        if self._statements.latest is None:
            return None
        if self._db is not None and self._db.error is not None:
            # Not read while the database is away: the last figures would pass for fresh.
            return StatementsView(source=self._statements.latest.source,
                                  reason=f"database unavailable: {self._db.error}")
        latest = self._statements.latest
        if self._statements_shown is not None and self._statements_shown[0] is latest:
            # Between reads the view stays as it was made: the request rate of the tick the
            # read came in (the same moment), and a recording keeps it once, not every tick.
            return self._statements_shown[1]
        rate = figures.get(Fig.REQUESTS_PER_S)
        reason = ("no request rate (no metrics read)" if rate is None else
                  f"request rate unknown ({rate.reason})" if rate.value is None else
                  "no requests in the window" if rate.value <= 0 else None)
        view = self._statements.view(rate.value if rate is not None else None,
                                     self.settings.n_plus_one_calls_per_request, reason)
        self._statements_shown = (latest, view)
        return view

    def _current_cohorts(self) -> Cohorts | None:
        """The cohorts of this tick: from the latest scrape(s), or from Prometheus's round;
        unknown with the reason when the source failed (never the last ones passed off as
        fresh)."""
        c = self.settings.cohorts
        if c is None:
            return None
        if self._prom is None:
            return self._cohorts
        p = self._prom
        reason = (f"Prometheus unavailable: {p.error}" if p.error is not None
                  else p.refusal)
        if reason is not None:
            return Cohorts(c.label, reason=reason)
        win = prom_window(p, cohort_settings(self.settings))
        return cohorts_over(win.deltas, self.settings, "waiting for Prometheus")

    def _take_cohorts(self, scrapes: tuple[MetricsScrape, ...], t: float, wall: float,
                      error: str | None) -> None:
        c = self.settings.cohorts
        w = self._cohort_window
        if c is None or w is None:
            return
        # Several instances go through a Fleet of trackers, one target through one tracker.
        d = w.observe_fleet(scrapes, t, wall) if self._fleet is not None else w.observe(
            scrapes[0])
        if error is not None:
            self._cohorts = Cohorts(c.label, reason=f"metrics unavailable: {error}")
        else:
            self._cohorts = cohorts_over(d, self.settings, "waiting for a second scrape")

    def _external_alerts(self) -> tuple[ExternalAlert, ...]:
        """Prometheus's alerts about this target: another job's are left out; one without
        the selector's labels is shown but not counted."""
        snap = self._prom_ok
        if snap is None:
            return ()
        out = []
        for x in snap.alerts:
            # With no target chosen (several jobs, no selector), no alert is surely its own.
            scope = "unchosen" if snap.refusal is not None else alert_scope(x, snap.selector)
            if scope != "other":
                out.append(dataclasses.replace(x, scope=scope))
        return tuple(out)

    def _current_prom_figures(self, wall: float
                              ) -> tuple[dict[str, Figure], Routes, dict[str, float]]:
        latest = self._prom
        assert latest is not None
        if latest.error is None or self._prom_ok is None:
            return prom_figures(latest, self._health, self.settings)
        age = wall - self._prom_ok.wall
        figures, routes, p95 = prom_figures(self._prom_ok, self._health, self.settings)
        return ({k: _stale(f, age, latest.error, self.settings) for k, f in figures.items()},
                routes, p95)

    def _burn_figures(self, wall: float) -> dict[str, Figure]:
        if self._prom is not None:
            return self._burn.prometheus(self._prom, wall)
        figures = self._burn.direct(fleet=self._fleet is not None)
        status = self._metrics_status
        if status is not None and not status.up:
            # The history ends at the last good scrape: its figures, marked with their age.
            age = wall - (status.last_ok_wall or wall)
            figures = {k: _stale(f, age, status.error, self.settings)
                       for k, f in figures.items()}
        return figures

    def _current_db_figures(self, wall: float) -> dict[str, Figure]:
        latest = self._db
        if latest is None:
            return {}
        if latest.error is None or self._db_ok is None:
            return db_figures(latest, self.settings)
        # The poll failed after earlier ones worked: the last values, marked stale.
        age = wall - self._db_ok.wall
        return {k: _stale(f, age, latest.error, self.settings)
                for k, f in db_figures(self._db_ok, self.settings).items()}

    def _take_metrics(self, scrape: MetricsScrape) -> None:
        error = scrape.error
        rollup: Rollup | None = None
        if scrape.page is not None:
            try:
                rollup = self.tracker.observe(scrape.page, scrape.t, scrape.wall)
            except ParseError as e:
                error = f"unparsable page: {e}"
        detail: dict[str, Any] = {"bytes": scrape.size_bytes}
        self._take_cohorts((scrape,), scrape.t, scrape.wall,
                           None if rollup is not None else (error or "no page"))
        if rollup is None:
            self._metrics_status = SourceStatus(
                "metrics", False, error or "no page", self._metrics_ok_wall, scrape.wall,
                scrape.elapsed_ms, detail)
            self._failed_before = error or "no page"
            return
        assert scrape.page is not None
        detail["samples"] = scrape.page.count()
        self._metrics_ok_wall = scrape.wall
        self._metrics_status = SourceStatus("metrics", True, None, scrape.wall, scrape.wall,
                                            scrape.elapsed_ms, detail)
        slide(self.window, rollup, self.settings.window_s)
        if self._burn.on:
            self._burn.history.add(rollup)
        if len(self.window) >= 2:
            self._failed_before = None
        waiting = "waiting for a second scrape"
        if self._failed_before is not None:
            waiting = f"waiting for a second scrape (the one before failed: {self._failed_before})"
        self._metric_figures, self._routes = window_figures(
            self.window[0], rollup, self._health, self.settings, waiting)
        self._took(rollup, self.window[-1].t - self.window[0].t if len(self.window) >= 2
                   else None)

    def _take_fleet(self, scrapes: tuple[MetricsScrape, ...], t: float, wall: float) -> None:
        if self._fleet is None:
            self._fleet = Fleet(self.settings)
        r = self._fleet.observe(scrapes, t, wall)
        self._fleet_round = r
        self._take_cohorts(scrapes, t, wall, None if r.answered else "no instance answered")
        self._fleet_instances = r.instances
        detail: dict[str, Any] = {"bytes": r.size_bytes, "instances_up": r.answered,
                                  "instances": len(r.instances)}
        down = "; ".join(f"{i.name}: {i.error}" for i in r.down) or None
        if r.end is None or not r.answered:
            self._metrics_status = SourceStatus(
                "metrics", False, f"no instance answered ({down})", self._metrics_ok_wall,
                wall, r.elapsed_ms, detail)
            return
        detail["samples"] = r.samples
        self._metrics_ok_wall = wall
        self._metrics_status = SourceStatus("metrics", True, down, wall, wall, r.elapsed_ms,
                                            detail)
        if r.deltas is None:
            self._metric_figures, self._routes = waiting_figures(r.end, self._health,
                                                                 self.settings)
        else:
            self._metric_figures, self._routes = figures_over(r.deltas, r.end, self._health,
                                                              self.settings)
        self._took(r.end, r.deltas.span if r.deltas is not None else None)

    def _took(self, end: Rollup, span: float | None) -> None:
        self._end = end
        self._window_s = span
        if end.reset:
            self._reset_t = end.t

    def _current_metric_figures(self, wall: float) -> dict[str, Figure]:
        status = self._metrics_status
        if status is None:
            return {}
        if status.up:
            figures = dict(self._metric_figures)
            # Memory may come from the health JSON, which can be newer than the last scrape.
            if self._end is not None:
                figures[Fig.MEMORY_PCT] = gauge_figures(self._end, self._health,
                                                      self.settings)[Fig.MEMORY_PCT]
            return figures
        if not self._metric_figures:
            reason = f"metrics unavailable: {status.error}"
            return {k: unknown(k, reason, self.settings) for k in METRIC_FIGURES
                    if k in _configured(self.settings)}
        age = wall - (status.last_ok_wall or wall)
        return {k: _stale(f, age, status.error, self.settings)
                for k, f in self._metric_figures.items()}


def _configured(settings: EngineSettings) -> set[str]:
    keys: set[str] = set(METRIC_FIGURES)
    if not settings.names.socket_gauges:
        keys.discard(Fig.SOCKET_CONNECTIONS)
    if not settings.names.message_counters:
        keys.discard(Fig.SOCKET_MESSAGES_PER_S)
    if not settings.names.event_loop_lag:
        keys.discard(Fig.EVENT_LOOP_LAG_MS)
    return keys


def _stale(f: Figure, age: float, error: str | None, settings: EngineSettings) -> Figure:
    """The last good value, marked with its age. Older than one window, it no longer judges
    anything: its level turns unknown, so an old critical does not pass for today's."""
    reason = f.reason or f"stale: {error}"
    if age > settings.window_s and f.level is not Level.UNKNOWN:
        return dataclasses.replace(f, stale_s=age, level=Level.UNKNOWN,
                                   reason=f"stale for {age:.0f} s: {error}")
    return dataclasses.replace(f, stale_s=age, reason=reason)


def _db_status(latest: DbSnapshot, ok: DbSnapshot | None) -> SourceStatus:
    detail: dict[str, Any] = {"kind": latest.kind, "poll_ms": round(latest.poll_ms, 1)}
    return SourceStatus("db", latest.error is None, latest.error, ok.wall if ok else None,
                        latest.wall, latest.poll_ms, detail)


def _health_status(p: HealthProbe, last_ok: float | None) -> SourceStatus:
    up = p.status is not None and 200 <= p.status < 300
    return SourceStatus("health", up, None if up else (p.error or f"HTTP {p.status}"),
                        last_ok, p.wall, p.elapsed_ms, {"status": p.status})
