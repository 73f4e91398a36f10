"""The cohort path against a real prom-client app (tests/realstack/app.js with the runbook's
flag on: every request labelled `variant`, the optimized path four times as slow) read
directly, over several metrics URLs and through a real Prometheus: each cohort holds its share
of the requests, and the slow canary is caught by the cohort comparison (in one query a round
through Prometheus)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sbtop import check, config
from sbtop.engine.assessment import Assessment
from sbtop.engine.cohorts import FAIL
from sbtop.engine.keys import Fig
from sbtop.wiring import Wiring
from tests.promserver import PromServer
from tests.realstack.stack import Load, NodeApp, cycle, readme_cohort_app, running

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("realstack")]
WINDOW = 3.0
COHORTS = {"label": "variant", "canary": "optimized", "stable": "baseline",
           "min_canary_requests": 30}


@dataclasses.dataclass
class Canary:
    app: NodeApp
    app2: NodeApp  # a second instance, for the several-URLs mode
    load: Load
    prom: PromServer


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    # 20 % of requests on the optimized path, which takes 4 x the asked 40 ms. No slow tail:
    # with one (10 % at 300 ms), a 3 s window drew so few of the canary's slow requests now and
    # then that its p95 fell under stable's (a flaky test); the slowdown alone sets them apart.
    env = {"PERF_OPTIMIZATIONS_ENABLED": "20", "SBTOP_TEST_OPTIMIZED_SLOWDOWN": "4"}
    app, app2 = NodeApp("hand-status", env=env), NodeApp("hand-status", env=env)
    with running(app, app2):
        steady = cycle(20)
        load = Load({"targets": [{"name": "app", "url": app.url, "rps": 100, "cycle": steady},
                                 {"name": "app2", "url": app2.url, "rps": 50,
                                  "cycle": steady}]})
        prom = PromServer(jobs={"app": [app.hostport]})
        with running(load, prom):
            prom.wait_for('count_over_time(up{job="app"}[1m]) >= 5', timeout=60)
            yield Canary(app, app2, load, prom)


def wiring(**target: Any) -> Wiring:
    return config.resolve(config.parse({
        "canary": {"cohorts": COHORTS},
        "targets": {"t": target}}))


def run(w: Wiring) -> Assessment:
    return asyncio.run(check.run(w, WINDOW))


def test_a_real_prom_client_app_is_split_by_its_cohort_label_directly_and_over_several_urls(
        canary: Canary) -> None:
    a, both = asyncio.run(_both(canary))
    c = a.cohorts
    assert c is not None and c.canary is not None and c.stable is not None, a.cohorts
    total = c.canary.requests + c.stable.requests
    # The flag's draw: about 20 % of the requests (100/s over 3 s: ~300; binomial spread).
    assert 0.1 < c.canary.requests / total < 0.3
    whole = a.figures[Fig.REQUESTS_PER_S].detail.requests
    assert whole is not None and total == pytest.approx(whole)
    assert c.comparison is not None
    assert c.comparison.latency.state == FAIL, c.comparison.latency.said
    assert c.canary.p95_ms is not None and c.stable.p95_ms is not None
    # Four times as slow by design, but on a loaded machine the stable requests queue as well
    # (in a full-suite run 40 ms requests had a p95 of 153 ms against the canary's 248): the
    # verdict above (significant and over the tolerance) is the point, the ratio only a side.
    assert c.canary.p95_ms > 1.2 * c.stable.p95_ms
    # Several URLs: each instance read by its own tracker, the cohorts added up; the second
    # instance takes half the first one's traffic, so about 1.5 x the requests.
    c2 = both.cohorts
    assert c2 is not None and c2.canary is not None and c2.stable is not None, c2
    ratio = (c2.canary.requests + c2.stable.requests) / total
    assert 1.3 < ratio < 1.7
    assert c2.comparison is not None and c2.comparison.latency.state == FAIL


def test_prometheus_splits_the_same_cohorts_in_one_query_a_round(canary: Canary) -> None:
    a = run(wiring(prometheus={"url": canary.prom.url, "selector": 'job="app"'}))
    c = a.cohorts
    assert c is not None and c.canary is not None and c.stable is not None, a.cohorts
    share = c.canary.requests / (c.canary.requests + c.stable.requests)
    assert 0.1 < share < 0.3
    assert c.comparison is not None and c.comparison.latency.state == FAIL
    # Still one query a round for the figures (the cohorts come from the same answer).
    assert a.sources["prometheus"].detail["part_by_part"] is None


async def _both(canary: Canary) -> tuple[Assessment, Assessment]:
    urls = [f"{canary.app.url}/metrics", f"{canary.app2.url}/metrics"]
    a, b = await asyncio.gather(check.run(wiring(base_url=canary.app.url), WINDOW),
                                check.run(wiring(base_url=canary.app.url, metrics_urls=urls),
                                          WINDOW))
    return a, b


def test_the_readme_prom_client_snippet_runs_and_its_cohorts_are_compared(
        tmp_path: Path) -> None:
    # The README's snippet as written, in a real Express app with prom-client, the flag at
    # 20 %: sbtop splits its pages by `variant` and catches the slow optimized cohort.
    script = readme_cohort_app(tmp_path, Path(__file__).parents[1] / "README.md")
    app = NodeApp("readme", env={"PERF_OPTIMIZATIONS_ENABLED": "20"}, script=script)
    with running(app):
        load = Load({"targets": [{"name": "app", "url": app.url, "rps": 100,
                                  "cycle": cycle(20)}]})
        with running(load):
            a = run(wiring(base_url=app.url))
    c = a.cohorts
    assert c is not None and c.canary is not None and c.stable is not None, a.cohorts
    share = c.canary.requests / (c.canary.requests + c.stable.requests)
    assert 0.1 < share < 0.3
    assert c.comparison is not None and c.comparison.latency.state == FAIL, c.comparison
