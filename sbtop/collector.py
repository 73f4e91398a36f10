"""One tick of I/O for a target: scrape /metrics and probe health at the same time."""

from __future__ import annotations

import asyncio

import httpx

from sbtop.clock import SYSTEM, Clock
from sbtop.config import Target
from sbtop.engine.observations import HealthProbe, MetricsScrape, Observation
from sbtop.engine.series import wanted_samples
from sbtop.sources import health, metrics
from sbtop.sources.http import make_client


class Collector:
    """Owns the target's HTTP client; use as an async context manager."""

    def __init__(self, target: Target, clock: Clock = SYSTEM,
                 health_every_s: float | None = None) -> None:
        self.target = target
        self.clock = clock
        # The health path is probed at most this often (a console need not knock on it every
        # second); None means the target's health_interval_s, 0 means every tick.
        self.health_every_s = (target.health_interval_s if health_every_s is None
                               else health_every_s)
        self._health_due = -1e18
        self.wanted = wanted_samples(target.engine.names)
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Collector:
        self._client = make_client(self.target.http)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def observe(self) -> Observation:
        assert self._client is not None, "use Collector as an async context manager"
        now = self.clock.now()
        t = self.target
        jobs: list[asyncio.Task[MetricsScrape] | asyncio.Task[HealthProbe]] = []
        scrape_job = probe_job = None
        if t.metrics_url:
            scrape_job = asyncio.create_task(
                metrics.scrape(self._client, t.metrics_url, t.http, self.wanted, now, self.clock))
            jobs.append(scrape_job)
        if t.health_url and now[0] >= self._health_due:
            self._health_due = now[0] + self.health_every_s
            probe_job = asyncio.create_task(
                health.probe(self._client, t.health_url, t.http, now, self.clock))
            jobs.append(probe_job)
        if jobs:
            await asyncio.gather(*jobs)
        done = self.clock.now()
        return Observation(
            t=done[0],
            wall=done[1],
            metrics=scrape_job.result() if scrape_job else None,
            health=probe_job.result() if probe_job else None,
        )
