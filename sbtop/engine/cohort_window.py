"""The pages read a second time for the cohorts (sbtop.engine.cohorts): a tracker whose "route"
is the cohort label, and its window. One target: one tracker and one window, exactly as the
engine's own; several instances: a Fleet of them, each instance with its own tracker."""

from __future__ import annotations

import collections
from collections.abc import Sequence

from sbtop.engine.cohorts import cohort_settings
from sbtop.engine.deltas import Deltas, deltas
from sbtop.engine.exposition import ParseError
from sbtop.engine.fleet import Fleet
from sbtop.engine.observations import MetricsScrape
from sbtop.engine.rollup import Rollup, slide
from sbtop.engine.series import SeriesTracker
from sbtop.engine.settings import EngineSettings


class CohortWindow:
    def __init__(self, settings: EngineSettings) -> None:
        self.settings = cohort_settings(settings)
        self._tracker = SeriesTracker(self.settings.names, self.settings.forget_after_scrapes)
        self._window: collections.deque[Rollup] = collections.deque()
        self._fleet: Fleet | None = None

    def observe(self, scrape: MetricsScrape) -> Deltas | None:
        """One target's scrape; the window's increases by cohort (None: no window yet, or
        this page could not be read)."""
        if scrape.page is None:
            return None
        try:
            rollup = self._tracker.observe(scrape.page, scrape.t, scrape.wall)
        except ParseError:
            return None
        slide(self._window, rollup, self.settings.window_s)
        if len(self._window) < 2:
            return None
        return deltas(self._window[0], self._window[-1])

    def observe_fleet(self, scrapes: Sequence[MetricsScrape], t: float, wall: float
                      ) -> Deltas | None:
        if self._fleet is None:
            self._fleet = Fleet(self.settings)
        return self._fleet.observe(scrapes, t, wall).deltas
