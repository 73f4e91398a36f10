"""What the target's application exports, looked up for `sbtop rules`: from Prometheus when
the target reads it, else from one scrape of its metrics page (the first one, when it lists
several). Imported only when rules are asked to detect: the rest of `sbtop rules` loads no
HTTP client."""

from __future__ import annotations

import dataclasses

from sbtop.clock import SYSTEM
from sbtop.engine.names import wanted_samples
from sbtop.engine.shape import Shape, from_page
from sbtop.sources import metrics
from sbtop.sources.http import make_client
from sbtop.sources.prometheus import PromError, PrometheusSource
from sbtop.sources.settings import CollectorSettings


class DetectError(Exception):
    pass


async def shape(settings: CollectorSettings, selector: str) -> tuple[Shape, str, str]:
    """(shape, selector, where it was read). The selector is the one given, or the job sbtop
    chose in Prometheus when none was given and only one job exports the app's metrics."""
    if settings.prometheus is not None:
        p = dataclasses.replace(settings.prometheus, selector=selector)
        async with PrometheusSource(p, settings.engine) as source:
            try:
                found = await source.shape()
            except PromError as e:
                raise DetectError(f"Prometheus at {p.url}: {e}") from None
            scope = source.scope
            chosen = scope.selector if scope is not None else selector
            where = f"Prometheus at {p.url}" + (f"; {scope.note}" if scope and scope.note else "")
            return found, chosen, where
    url = settings.metrics_url or next(iter(settings.instances.values()), None)
    if url is None:
        raise DetectError("the target has no metrics URL and no Prometheus")
    wanted = wanted_samples(settings.engine.names)
    async with make_client(settings.http) as client:
        got = await metrics.scrape(client, url, settings.http, wanted, SYSTEM.now())
    if got.page is None:
        raise DetectError(f"{url}: {got.error}")
    return from_page(got.page, settings.engine.names), selector, url
