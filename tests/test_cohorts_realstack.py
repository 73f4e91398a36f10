"""The cohort path against a real prom-client app (tests/realstack/app.js with the runbook's
flag on: every request labelled `variant`, the optimized path four times as slow) read
directly and through a real Prometheus: each cohort's requests match what the load generator
sent, and the slow canary is caught by the cohort comparison in one query a round."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from sbtop import check, config
from sbtop.engine.assessment import Assessment
from sbtop.engine.cohorts import FAIL
from sbtop.engine.keys import Fig
from sbtop.wiring import Wiring
from tests.promserver import PromServer
from tests.realstack.stack import Load, NodeApp, cycle, running

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("realstack")]
WINDOW = 8.0
COHORTS = {"label": "variant", "canary": "optimized", "stable": "baseline",
           "min_canary_requests": 40}


@dataclasses.dataclass
class Canary:
    app: NodeApp
    load: Load
    prom: PromServer


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    # 20 % of requests on the optimized path, which takes 4 x the asked 40 ms (or 300 ms).
    app = NodeApp("hand-status", env={"PERF_OPTIMIZATIONS_ENABLED": "20",
                                      "SBTOP_TEST_OPTIMIZED_SLOWDOWN": "4"})
    with running(app):
        load = Load({"targets": [{"name": "app", "url": app.url, "rps": 60,
                                  "cycle": cycle(20, slow=2, slow_ms=300)}]})
        prom = PromServer(jobs={"app": [app.hostport]})
        with running(load, prom):
            prom.wait_for('count_over_time(up{job="app"}[1m]) >= 12', timeout=60)
            yield Canary(app, load, prom)


def wiring(**target: Any) -> Wiring:
    return config.resolve(config.parse({
        "canary": {"cohorts": COHORTS},
        "targets": {"t": target}}))


def run(w: Wiring) -> Assessment:
    return asyncio.run(check.run(w, WINDOW))


def test_a_real_prom_client_app_is_split_by_its_cohort_label_directly(canary: Canary) -> None:
    a = run(wiring(base_url=canary.app.url))
    c = a.cohorts
    assert c is not None and c.canary is not None and c.stable is not None, a.cohorts
    total = c.canary.requests + c.stable.requests
    # The flag's draw: about 20 % of the requests (60/s over 8 s: ~480; binomial spread).
    assert 0.12 < c.canary.requests / total < 0.28
    whole = a.figures[Fig.REQUESTS_PER_S].detail.requests
    assert whole is not None and total == pytest.approx(whole)
    assert c.comparison is not None
    assert c.comparison.latency.state == FAIL, c.comparison.latency.said
    assert c.canary.p95_ms is not None and c.stable.p95_ms is not None
    assert c.canary.p95_ms > 2 * c.stable.p95_ms


def test_prometheus_splits_the_same_cohorts_in_one_query_a_round(canary: Canary) -> None:
    a = run(wiring(prometheus={"url": canary.prom.url, "selector": 'job="app"'}))
    c = a.cohorts
    assert c is not None and c.canary is not None and c.stable is not None, a.cohorts
    share = c.canary.requests / (c.canary.requests + c.stable.requests)
    assert 0.12 < share < 0.28
    assert c.comparison is not None and c.comparison.latency.state == FAIL
    # Still one query a round for the figures (the cohorts come from the same answer).
    assert a.sources["prometheus"].detail["part_by_part"] is None
