"""One tick of I/O for a target: scrape /metrics, probe health and poll the database at once."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import httpx

from sbtop.clock import SYSTEM, Clock
from sbtop.config import Target
from sbtop.engine.observations import (
    DbSnapshot,
    HealthProbe,
    MetricsScrape,
    Observation,
    PromSnapshot,
)
from sbtop.engine.series import wanted_samples
from sbtop.sources import health, metrics
from sbtop.sources.database import DatabaseSource, DbSettings
from sbtop.sources.http import make_client
from sbtop.sources.prometheus import PrometheusSource, PromSettings


def prom_settings(target: Target, selector: str | None = None) -> PromSettings:
    """How to read the target's Prometheus: its URL, limits and credentials (from the
    environment, as resolved), with `selector` instead of the configured one when given."""
    p = target.prometheus
    assert p is not None
    headers = {}
    if p.header and target.secrets.prometheus_header:
        headers[p.header] = target.secrets.prometheus_header
    basic = (p.basic_user, target.secrets.prometheus_password or "") if p.basic_user else None
    return PromSettings(p.url, p.selector if selector is None else selector, p.timeout_s,
                        headers, basic, max_answer_bytes=int(p.max_answer_mb * 1024 * 1024))


class Collector:
    """Owns the target's HTTP client and database connection; an async context manager."""

    def __init__(self, target: Target, clock: Clock = SYSTEM,
                 health_every_s: float | None = None) -> None:
        self.target = target
        self.clock = clock
        self.wanted = wanted_samples(target.engine.names)
        # The health path is probed at most this often (a console need not knock on it every
        # second); None means the target's health_interval_s, 0 means every tick.
        self.health_every_s = (target.health_interval_s if health_every_s is None
                               else health_every_s)
        self._health_due = -1e18
        self._client: httpx.AsyncClient | None = None
        self.prom: PrometheusSource | None = None
        if target.prometheus is not None:
            self.prom = PrometheusSource(prom_settings(target), target.engine, clock)
        self.db: DatabaseSource | None = None
        if target.dsn:
            d = target.db
            self.db = DatabaseSource(target.dsn, DbSettings(
                connect_timeout_s=d.connect_timeout_s, statement_timeout_s=d.statement_timeout_s,
                only_database=d.only_database, pool_user=d.pool_user), clock)

    async def __aenter__(self) -> Collector:
        self._client = make_client(self.target.http, hosts=max(1, len(self.target.instances)))
        if self.prom is not None:
            await self.prom.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self.db is not None:
            await self.db.close()
        if self.prom is not None:
            await self.prom.__aexit__(None, None, None)

    async def observe(self) -> Observation:
        assert self._client is not None, "use Collector as an async context manager"
        now = self.clock.now()
        t = self.target
        jobs: dict[str, asyncio.Task[Any]] = {}
        if self.prom is not None:
            # Prometheus already aggregates every instance: no direct scrape of one of them.
            jobs["prom"] = asyncio.create_task(self.prom.observe())
        elif t.metrics_url:
            jobs["metrics"] = asyncio.create_task(
                metrics.scrape(self._client, t.metrics_url, t.http, self.wanted, now, self.clock))
        elif t.instances:
            jobs["fleet"] = asyncio.create_task(self._scrape_fleet(now))
        if t.health_url and now[0] >= self._health_due:
            self._health_due = now[0] + self.health_every_s
            jobs["health"] = asyncio.create_task(
                health.probe(self._client, t.health_url, t.http, now, self.clock))
        if self.db is not None:
            jobs["db"] = asyncio.create_task(self.db.poll())
        if jobs:
            await asyncio.gather(*jobs.values())
        done = self.clock.now()
        scrape: MetricsScrape | None = jobs["metrics"].result() if "metrics" in jobs else None
        probe: HealthProbe | None = jobs["health"].result() if "health" in jobs else None
        db: DbSnapshot | None = jobs["db"].result() if "db" in jobs else None
        prom: PromSnapshot | None = jobs["prom"].result() if "prom" in jobs else None
        fleet: tuple[MetricsScrape, ...] = jobs["fleet"].result() if "fleet" in jobs else ()
        return Observation(t=done[0], wall=done[1], metrics=scrape, health=probe, db=db,
                           prom=prom, fleet=fleet)

    async def _scrape_fleet(self, now: tuple[float, float]) -> tuple[MetricsScrape, ...]:
        """Every instance at once: a slow one delays the tick by its own time, not the sum."""
        assert self._client is not None
        names = list(self.target.instances)
        got = await asyncio.gather(*(
            metrics.scrape(self._client, self.target.instances[n], self.target.http,
                           self.wanted, now, self.clock) for n in names))
        return tuple(dataclasses.replace(s, instance=n) for n, s in zip(names, got, strict=True))
