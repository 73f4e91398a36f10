"""One tick of I/O for a target: scrape /metrics, probe health and poll the database at once,
as its CollectorSettings say (sbtop.sources.settings, built by the composition root)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Any

from sbtop.clock import SYSTEM, Clock
from sbtop.engine.names import wanted_samples
from sbtop.engine.observations import (
    DbSnapshot,
    HealthProbe,
    MetricsScrape,
    Observation,
    PromSnapshot,
)
from sbtop.engine.statements import StatementsPoll
from sbtop.sources import health, metrics
from sbtop.sources.http import make_client
from sbtop.sources.prometheus import PrometheusSource
from sbtop.sources.settings import CollectorSettings

if TYPE_CHECKING:
    import httpx

    from sbtop.sources.database import DatabaseSource


class Collector:
    """Owns the target's HTTP client and database connection; an async context manager."""

    def __init__(self, settings: CollectorSettings, clock: Clock = SYSTEM,
                 health_every_s: float | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.wanted = wanted_samples(settings.engine.names)
        # The health path is probed at most this often (a console need not knock on it every
        # second); None means the target's health_interval_s, 0 means every tick.
        self.health_every_s = (settings.health_interval_s if health_every_s is None
                               else health_every_s)
        self._health_due = -1e18
        self._client: httpx.AsyncClient | None = None
        self.prom: PrometheusSource | None = None
        if settings.prometheus is not None:
            self.prom = PrometheusSource(settings.prometheus, settings.engine, clock)
        self.db: DatabaseSource | None = None
        if settings.dsn:
            # psycopg only with a database: a tenth of a second of start-up and ~10 MB spared.
            from sbtop.sources.database import DatabaseSource

            self.db = DatabaseSource(settings.dsn, settings.db, clock)

    async def __aenter__(self) -> Collector:
        self._client = make_client(self.settings.http,
                                   hosts=max(1, len(self.settings.instances)))
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
        t = self.settings
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
            jobs["db"] = asyncio.create_task(self._poll_db(self.db))
        if jobs:
            await asyncio.gather(*jobs.values())
        done = self.clock.now()
        scrape: MetricsScrape | None = jobs["metrics"].result() if "metrics" in jobs else None
        probe: HealthProbe | None = jobs["health"].result() if "health" in jobs else None
        db, statements = jobs["db"].result() if "db" in jobs else (None, None)
        prom: PromSnapshot | None = jobs["prom"].result() if "prom" in jobs else None
        fleet: tuple[MetricsScrape, ...] = jobs["fleet"].result() if "fleet" in jobs else ()
        return Observation(t=done[0], wall=done[1], metrics=scrape, health=probe, db=db,
                           prom=prom, fleet=fleet, statements=statements)

    @staticmethod
    async def _poll_db(db: DatabaseSource) -> tuple[DbSnapshot, StatementsPoll | None]:
        """Sessions, then the statement statistics when due: one connection, one at a time."""
        snap = await db.poll()
        return snap, (await db.poll_statements() if snap.error is None else None)

    async def _scrape_fleet(self, now: tuple[float, float]) -> tuple[MetricsScrape, ...]:
        """Every instance at once: a slow one delays the tick by its own time, not the sum."""
        assert self._client is not None
        names = list(self.settings.instances)
        got = await asyncio.gather(*(
            metrics.scrape(self._client, self.settings.instances[n], self.settings.http,
                           self.wanted, now, self.clock) for n in names))
        return tuple(dataclasses.replace(s, instance=n) for n, s in zip(names, got, strict=True))
