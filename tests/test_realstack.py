"""sbtop against the stack StudyBuddy-like teams really run: an Express app instrumented with
prom-client (the runbook's hand-written middleware, its counter labelled `status` or
`status_code`), express-prom-bundle (no request counter, coarse buckets), socket.io, and a real
Prometheus scraping them. A load generator logs every request, so each test knows the truth.

Tolerances, and why:
- Quantiles: Prometheus and sbtop interpolate inside a bucket, so a quantile is only known to
  lie in the bucket that holds it (a true p95 of 700 ms reads 900 ms in express-prom-bundle's
  0.3-1.5 s bucket: not an error). Checked: the reported bucket holds the true quantile, and the
  figure equals histogram_quantile over the same span.
- Direct rates are counter increases between two scrapes: the requests that finished between
  them, give or take the few in flight at each edge (2 % + 2 requests).
- Through Prometheus, rate() extrapolates to the window's edges and scrapes at its own moments
  (1 s here): over 10 s, up to a scrape at each edge, 10 % against the truth. Against PromQL
  evaluated at the same instant (sbtop states it), the figures are equal.
- Ratios come from the same counters, cycles of 25 or 50 requests: half a point.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sbtop import check, config
from sbtop.engine.assessment import Assessment
from sbtop.wiring import Wiring
from tests.cli import run_sbtop
from tests.promserver import PromServer
from tests.realstack.stack import Load, NodeApp, cycle, running

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("realstack")]
PROMTOOL = shutil.which("promtool")
WINDOW = 10.0

# Prometheus's own alerts: one about the handcode job (critical), one about no job at all.
RULES = """groups:
  - name: test
    rules:
      - alert: HandcodeErrors
        expr: sum by (job) (rate(http_requests_total{job="handcode",status_code=~"5.."}[15s])) > 0
        labels: {severity: critical}
        annotations: {summary: "handcode answers 5xx"}
      - alert: SomewhereElse
        expr: vector(1)
        labels: {severity: warning}
        annotations: {summary: "not about any job"}
"""


@dataclasses.dataclass
class Stack:
    sb: NodeApp  # hand-status, job studybuddy (with sb2)
    sb2: NodeApp
    code: NodeApp  # hand-status-code, job handcode
    bundle: NodeApp  # express-prom-bundle, job bundle
    load: Load
    prom: PromServer  # scrapes the three jobs and itself
    solo: PromServer  # scrapes studybuddy and itself: one app job


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    sb, sb2 = NodeApp("hand-status"), NodeApp("hand-status")
    code, bundle = NodeApp("hand-status-code"), NodeApp("bundle")
    with running(sb, sb2, code, bundle):
        # sb: 10 % take 300 ms, 2 % are 404, no 5xx; code: every request 120 ms, 4 % 500;
        # bundle: 10 % take 700 ms, 4 % 503.
        steady = cycle(50, slow=5, slow_ms=300, statuses={404: 1})
        load = Load({"targets": [
            {"name": "sb", "url": sb.url, "rps": 40, "cycle": steady},
            {"name": "sb2", "url": sb2.url, "rps": 40, "cycle": steady},
            {"name": "code", "url": code.url, "rps": 40,
             "cycle": cycle(25, fast_ms=120, statuses={500: 1})},
            {"name": "bundle", "url": bundle.url, "rps": 40,
             "cycle": cycle(50, slow=5, slow_ms=700, statuses={503: 2})}],
            "sockets": [{"url": sb.url, "clients": 7, "msgs_per_s": 2},
                        {"url": bundle.url, "clients": 12, "msgs_per_s": 1}]})
        prom = PromServer(jobs={"studybuddy": [sb.hostport, sb2.hostport],
                                "handcode": [code.hostport], "bundle": [bundle.hostport]},
                          rules=RULES, scrape_self=True)
        solo = PromServer(jobs={"studybuddy": [sb.hostport]}, scrape_self=True)
        with running(load, prom, solo):
            # Enough scrapes that every window of the tests lies inside the series' lives
            # (rate() over a window longer than a series' life reads low).
            for p in (prom, solo):
                p.wait_for('count_over_time(up{job="studybuddy"}[1m]) >= 14', timeout=60)
            yield Stack(sb, sb2, code, bundle, load, prom, solo)


def via_prometheus(url: str, selector: str, **target: Any) -> Wiring:
    return config.resolve(config.Config(targets={"p": config.TargetConfig(
        prometheus=config.PrometheusConfig(url=url, selector=selector), **target)}))


def direct(url: str, **target: Any) -> Wiring:
    return config.resolve(config.Config(targets={"d": config.TargetConfig(
        base_url=url, **target)}))


def run_checks(*targets: Wiring, window: float = WINDOW) -> list[Assessment]:
    """Several checks at once, so their windows overlap instead of adding up."""
    async def go() -> list[Assessment]:
        return list(await asyncio.gather(*(check.run(t, window) for t in targets)))
    return asyncio.run(go())


def evaluated_at(a: Assessment) -> float:
    at = a.sources["prometheus"].detail["evaluated_at"]
    assert isinstance(at, float)
    return at


@contextlib.contextmanager
def rss_sampled(app: NodeApp) -> Iterator[list[int]]:
    """The app's resident memory as the kernel shows it, every 20 ms while the block runs."""
    seen = [app.rss_bytes()]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            seen.append(app.rss_bytes())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield seen
    finally:
        done.set()
        sampler.join(5)
        seen.append(app.rss_bytes())


def value(a: Assessment, key: str) -> float:
    v = a.figures[key].value
    assert v is not None, (key, a.figures[key].reason)
    return v


def assert_in_true_bucket(a: Assessment, key: str, truth_ms: float) -> None:
    """The quantile lies in the bucket that holds the true quantile."""
    low, high = a.figures[key].detail.bucket_ms
    assert low < truth_ms <= high, (key, truth_ms, low, high)
    assert low <= value(a, key) <= high


def test_each_exporter_read_directly_agrees_with_the_truth(stack: Stack) -> None:
    limit = {"memory_limit_mb": 1024.0}
    with rss_sampled(stack.code) as rss:
        sb, code, bundle = run_checks(direct(stack.sb.url, **limit),
                                      direct(stack.code.url, **limit),
                                      direct(stack.bundle.url, **limit), window=6.0)
    # A labelled counter that has counted nothing yet prints only its HELP and TYPE: zero.
    assert value(code, "socket_messages_per_s") == 0
    for a, name, p95_ms in ((sb, "sb", 300.0), (code, "code", 120.0), (bundle, "bundle", 700.0)):
        assert a.window_s is not None
        truth = stack.load.truth(name, a.wall - a.window_s, a.wall)
        assert value(a, "requests_per_s") == pytest.approx(truth.rate, rel=0.02,
                                                           abs=2 / a.window_s), name
        assert value(a, "error_rate_5xx_pct") == pytest.approx(truth.pct(5), abs=0.5), name
        assert value(a, "error_rate_4xx_pct") == pytest.approx(truth.pct(4), abs=0.5), name
        assert truth.quantile_ms(0.95) == p95_ms
        assert_in_true_bucket(a, "latency_p95_ms", p95_ms)
    # express-prom-bundle's coarse buckets: a true 700 ms reads about 900 ms inside (300, 1500]
    # (0.3 + 1.2 x (f - 0.05) / f for a slow share f: 10 % give 900, 9 % 833, 11 % 955).
    assert 830 <= value(bundle, "latency_p95_ms") <= 960
    assert value(sb, "socket_connections") == 7  # active_websocket_connections
    assert value(bundle, "socket_connections") == 12  # socket_io_connected
    assert value(sb, "socket_messages_per_s") == pytest.approx(14, rel=0.2)
    assert value(bundle, "socket_messages_per_s") == pytest.approx(12, rel=0.2)
    # Resident memory over the configured limit, against what the kernel said of the process
    # while it was read: Node's RSS moves by tens of MB within seconds (its collector), so the
    # figure is within what the kernel showed over those seconds, not equal to a later reading.
    low, high = 100 * min(rss) / 1024**3, 100 * max(rss) / 1024**3
    assert low * 0.9 <= value(code, "memory_pct") <= high * 1.1, (low, high)


def test_zero_5xx_is_zero_through_prometheus_as_it_is_directly(stack: Stack) -> None:
    target = via_prometheus(stack.prom.url, 'job="studybuddy"', memory_limit_mb=1024.0)
    (a,) = run_checks(target)
    # No 5xx yet: the share of them is 0 of a known, non-zero number of requests ...
    f = a.figures["error_rate_5xx_pct"]
    assert f.value == 0 and f.level.value == "ok", f.reason
    # ... where Prometheus's own answer for the 5xx rate is an empty vector, not 0.
    at = evaluated_at(a)
    assert stack.prom.query('sum(rate(http_requests_total{job="studybuddy",status=~"5.."}'
                            '[10s]))', at) == []
    assert a.figures["requests_per_s"].value == pytest.approx(
        stack.prom.value('sum(rate(http_requests_total{job="studybuddy"}[10s]))', at),
        rel=1e-9)
    truth = (stack.load.truth("sb", at - WINDOW, at).rate
             + stack.load.truth("sb2", at - WINDOW, at).rate)
    assert value(a, "requests_per_s") == pytest.approx(truth, rel=0.10)
    assert value(a, "error_rate_4xx_pct") == pytest.approx(2.0, abs=0.5)
    # collectDefaultMetrics' resident memory, the worst instance, over the configured limit:
    # what Prometheus held at that moment, exactly, and near what the kernel says of the two
    # processes now (Node's heap moves between Prometheus's scrape and this read: loosely).
    held = stack.prom.value('max(process_resident_memory_bytes{job="studybuddy"})', at)
    assert held is not None
    assert value(a, "memory_pct") == pytest.approx(100 * held / 1024**3, rel=1e-9)
    worst = max(stack.sb.rss_bytes(), stack.sb2.rss_bytes())
    assert value(a, "memory_pct") == pytest.approx(100 * worst / 1024**3, rel=0.5)
    assert value(a, "event_loop_lag_ms") > 0
    assert a.level.value == "ok", {k: (f.value, f.reason) for k, f in a.figures.items()}
    # The same from the command line: exit 0, as the direct check says.
    r = run_sbtop("check", "--prometheus-url", stack.prom.url, "--selector", 'job="studybuddy"',
                  "--window", "10", env={"XDG_CONFIG_HOME": "/nonexistent"})
    assert re.search(r"error_rate_5xx_pct +0.00%", r.stdout), r.stdout


def test_status_code_counters_and_bundles_histogram_are_read_through_prometheus(
        stack: Stack) -> None:
    code, bundle = run_checks(via_prometheus(stack.prom.url, 'job="handcode"'),
                              via_prometheus(stack.prom.url, 'job="bundle"'))
    for a in (code, bundle):
        for key in ("requests_per_s", "error_rate_5xx_pct", "socket_connections",
                    "socket_messages_per_s"):
            assert a.figures[key].value is not None, (key, a.figures[key].reason)
    at = evaluated_at(code)
    assert value(code, "error_rate_5xx_pct") == pytest.approx(100 * stack.prom.value(
        'sum(rate(http_requests_total{job="handcode",status_code=~"5.."}[10s])) / '
        'sum(rate(http_requests_total{job="handcode"}[10s]))', at), rel=1e-9)
    assert value(code, "error_rate_5xx_pct") == pytest.approx(4.0, abs=0.5)
    assert code.figures["error_rate_5xx_pct"].detail.metric == "http_requests_total"
    # express-prom-bundle has no request counter: the histogram's _count by status_code.
    at = evaluated_at(bundle)
    assert value(bundle, "error_rate_5xx_pct") == pytest.approx(100 * stack.prom.value(
        'sum(rate(http_request_duration_seconds_count{job="bundle",status_code=~"5.."}[10s]))'
        ' / sum(rate(http_request_duration_seconds_count{job="bundle"}[10s]))', at), rel=1e-9)
    assert value(bundle, "error_rate_5xx_pct") == pytest.approx(4.0, abs=0.5)
    assert value(bundle, "requests_per_s") == pytest.approx(stack.prom.value(
        'sum(rate(http_request_duration_seconds_count{job="bundle"}[10s]))', at), rel=1e-9)
    truth = stack.load.truth("bundle", at - WINDOW, at)
    assert value(bundle, "requests_per_s") == pytest.approx(truth.rate, rel=0.10)
    assert value(bundle, "latency_p95_ms") == pytest.approx(1000 * stack.prom.value(
        'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket'
        '{job="bundle"}[10s])))', at), rel=1e-9)
    assert_in_true_bucket(bundle, "latency_p95_ms", truth.quantile_ms(0.95))
    assert value(bundle, "socket_connections") == 12  # socket_io_connected, the second name
    assert value(bundle, "socket_messages_per_s") == pytest.approx(12, rel=0.2)
    # Routes come from PromQL by route (express-prom-bundle's `path` label).
    assert [r.name for r in bundle.routes.failing] == ["GET /api/work"]
    # A labelled counter with no sample yet: Prometheus has no series, its metadata has it.
    assert value(code, "socket_messages_per_s") == 0


def test_rules_fire_on_what_each_app_exports(stack: Stack, tmp_path: Path) -> None:
    assert PROMTOOL is not None
    fired = {}
    for job in ("studybuddy", "handcode", "bundle"):
        r = run_sbtop("rules", "--prometheus-url", stack.prom.url, "--selector", f'job="{job}"',
                      env={"XDG_CONFIG_HOME": str(tmp_path)})
        assert r.returncode == 0, r.stderr
        path = tmp_path / f"{job}.yml"
        path.write_text(r.stdout)
        checked = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True,
                                 text=True, check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        exprs = {m.group(1): json.loads(m.group(2)) for m in re.finditer(
            r"- alert: (\w+)\n\s+expr: (\".*\")", r.stdout)}
        # The rule's condition evaluated now, through Prometheus's query API (no waiting for
        # `for`): HighErrorRate's left side is the 5xx share, its whole holds or not.
        share = exprs["HighErrorRate"].rsplit(" > ", 1)[0]
        fired[job] = (stack.prom.value(share), bool(stack.prom.query(exprs["HighErrorRate"])),
                      f'job: "{job}"' in r.stdout)
    for job in ("handcode", "bundle"):
        assert fired[job][0] == pytest.approx(4.0, abs=0.6) and fired[job][1], job
    assert fired["studybuddy"][:2] == (0.0, False)  # no 5xx: 0, not an empty answer
    assert all(labelled for _v, _f, labelled in fired.values())  # the alerts say whose


def test_rules_without_a_selector_over_several_jobs_are_refused(stack: Stack,
                                                                 tmp_path: Path) -> None:
    r = run_sbtop("rules", "--prometheus-url", stack.prom.url,
                  env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert r.returncode == 3 and not r.stdout
    assert "3 jobs (bundle, handcode, studybuddy)" in r.stderr and "--selector" in r.stderr


def test_jobs_exporting_differently_are_each_read_as_they_export(stack: Stack) -> None:
    from sbtop.sources.prometheus import PrometheusSource, PromSettings

    selector = 'job=~"studybuddy|bundle"'
    (a,) = run_checks(via_prometheus(stack.prom.url, selector))
    at = evaluated_at(a)
    # bundle has no request counter: every instance is read from the histogram's _count.
    assert value(a, "requests_per_s") == pytest.approx(stack.prom.value(
        f"sum(rate(http_request_duration_seconds_count{{{selector}}}[10s]))", at), rel=1e-9)
    assert value(a, "error_rate_5xx_pct") == pytest.approx(100 * stack.prom.value(
        f'sum(rate(http_request_duration_seconds_count{{{selector},status_code=~"5.."}}[10s]))'
        f" / sum(rate(http_request_duration_seconds_count{{{selector}}}[10s]))", at), rel=1e-9)
    # Sockets: active_websocket_connections on sb (7) and socket_io_connected on bundle (12).
    assert value(a, "socket_connections") == 19
    assert value(a, "socket_messages_per_s") == pytest.approx(14 + 12, rel=0.2)
    # prom-client's buckets and express-prom-bundle's: no quantile, now or in the history.
    assert "histogram buckets differ" in (a.figures["latency_p95_ms"].reason or "")
    target = via_prometheus(stack.prom.url, selector)

    async def history() -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        async with PrometheusSource(PromSettings(stack.prom.url, selector),
                                    target.engine) as source:
            return (await source.history("latency_p95_ms", 30, 1),
                    await source.history("requests_per_s", 30, 1))

    p95, rate = asyncio.run(history())
    assert p95 == [] and len(rate) > 5


def test_the_window_asked_for_is_the_one_prometheus_is_asked_for(stack: Stack) -> None:
    (a,) = run_checks(via_prometheus(stack.prom.url, 'job="handcode"'), window=7.0)
    assert a.window_s == 7.0
    at = evaluated_at(a)
    assert value(a, "requests_per_s") == pytest.approx(stack.prom.value(
        'sum(rate(http_requests_total{job="handcode"}[7s]))', at), rel=1e-9)
    r = run_sbtop("check", "--prometheus-url", stack.prom.url, "--selector", 'job="handcode"',
                  "--window", "7", "--json", env={"XDG_CONFIG_HOME": "/nonexistent"})
    assert json.loads(r.stdout)["window_s"] == 7.0


def test_prometheus_alerts_count_by_severity_for_their_own_target_only(stack: Stack) -> None:
    deadline = time.monotonic() + 30
    while True:
        code, sb = run_checks(via_prometheus(stack.prom.url, 'job="handcode"'),
                              via_prometheus(stack.prom.url, 'job="studybuddy"',
                                             memory_limit_mb=1024.0), window=5.0)
        if any(x.name == "HandcodeErrors" and x.state == "firing" for x in code.external_alerts):
            break
        assert time.monotonic() < deadline, code.external_alerts
        time.sleep(1)
    # handcode: 4 % 5xx is a warning; its critical alert firing in Prometheus makes it critical.
    assert code.level.value == "critical"
    assert code.figures["error_rate_5xx_pct"].level.value == "warning"
    # studybuddy: handcode's alert is not its own; the alert with no job is shown, not counted.
    assert "HandcodeErrors" not in [x.name for x in sb.external_alerts]
    # The same selector in single quotes, as PromQL also writes it, scopes the same way.
    (quoted,) = run_checks(via_prometheus(stack.prom.url, "job='studybuddy'"), window=5.0)
    assert "HandcodeErrors" not in [x.name for x in quoted.external_alerts]
    assert {i.name for i in quoted.instances} == {stack.sb.hostport, stack.sb2.hostport}
    elsewhere = next(x for x in sb.external_alerts if x.name == "SomewhereElse")
    assert not elsewhere.counted
    assert sb.level.value == "ok"
    text = check.as_text(code)
    assert "none pending or firing" not in text
    assert "alert HandcodeErrors: firing" in text
    r = run_sbtop("check", "--prometheus-url", stack.prom.url, "--selector", 'job="handcode"',
                  "--window", "5", env={"XDG_CONFIG_HOME": "/nonexistent"})
    assert r.returncode == 2, r.stdout


def test_without_a_selector_several_jobs_are_refused_and_a_lone_job_is_chosen(
        stack: Stack) -> None:
    mixed, lone, chosen = run_checks(via_prometheus(stack.prom.url, ""),
                                     via_prometheus(stack.solo.url, ""),
                                     via_prometheus(stack.solo.url, 'job="studybuddy"'))
    p95 = mixed.figures["latency_p95_ms"]
    assert p95.value is None and p95.reason is not None
    assert "3 jobs (bundle, handcode, studybuddy)" in p95.reason and "--selector" in p95.reason
    assert mixed.level.value == "unknown"
    # Prometheus also scrapes itself; only one job exports the app's metrics: that one.
    assert any('job "studybuddy" chosen' in n for n in lone.notes)
    assert lone.sources["prometheus"].detail["selector"] == 'job="studybuddy"'
    assert value(lone, "latency_p95_ms") == pytest.approx(value(chosen, "latency_p95_ms"),
                                                          rel=0.05)
    assert {i.name for i in lone.instances} == {stack.sb.hostport}


def test_several_urls_are_each_dated_by_their_own_scrape(stack: Stack) -> None:
    target = config.resolve(config.Config(targets={"f": config.TargetConfig(
        metrics_urls=[f"{stack.sb.url}/metrics", f"{stack.sb2.url}/metrics"])}))
    stack.sb2.delay_metrics(3000, times=1)  # its first answer comes 3 s late
    started = time.time()
    (a,) = run_checks(target, window=8.0)
    truth = (stack.load.truth("sb", started, a.wall).rate
             + stack.load.truth("sb2", started, a.wall).rate)
    assert value(a, "requests_per_s") == pytest.approx(truth, rel=0.05)
    assert value(a, "error_rate_4xx_pct") == pytest.approx(2.0, abs=0.5)


def test_several_urls_of_different_exporters_add_counts_and_refuse_to_mix_buckets(
        stack: Stack) -> None:
    target = config.resolve(config.Config(targets={"f": config.TargetConfig(
        metrics_urls=[f"{stack.code.url}/metrics", f"{stack.bundle.url}/metrics"],
        memory_limit_mb=1024.0)}))
    started = time.time()
    (a,) = run_checks(target, window=5.0)
    p95 = a.figures["latency_p95_ms"]
    # prom-client's default buckets and express-prom-bundle's: no quantile from the two.
    assert p95.value is None and "histogram buckets differ" in (p95.reason or "")
    # The counts add up: bundle has no counter, so both are read from the histogram's _count.
    truth = (stack.load.truth("code", started, a.wall).rate
             + stack.load.truth("bundle", started, a.wall).rate)
    assert value(a, "requests_per_s") == pytest.approx(truth, rel=0.05)
    assert a.figures["requests_per_s"].detail.metric == "http_request_duration_seconds_count"
    assert value(a, "error_rate_5xx_pct") == pytest.approx(4.0, abs=0.5)
    assert value(a, "socket_connections") == 12  # 0 on code's gauge, 12 on bundle's
    worst = max(stack.code.rss_bytes(), stack.bundle.rss_bytes())
    assert value(a, "memory_pct") == pytest.approx(100 * worst / 1024**3, rel=0.15)


def test_a_first_scrape_that_timed_out_is_said_not_hidden(stack: Stack) -> None:
    stack.sb.delay_metrics(2500, times=1)
    (a,) = run_checks(direct(stack.sb.url, timeout_s=1.0), window=3.0)
    f = a.figures["requests_per_s"]
    assert f.value is None and f.reason is not None and "timeout" in f.reason, f.reason
    assert any("the one before failed (timeout" in n for n in a.notes), a.notes


async def test_the_console_counts_prometheus_alerts_and_shows_routes(stack: Stack) -> None:
    from sbtop.console.widgets.alerts import AlertsPanel
    from tests.console_harness import live_app, screen_text

    target = via_prometheus(stack.prom.url, 'job="handcode"')
    app = live_app(target, refresh_s=1.0, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        deadline = time.monotonic() + 30
        panel = app.query_one(AlertsPanel)
        while "1 firing" not in str(panel.border_subtitle) or "/api/work" not in screen_text(app):
            assert time.monotonic() < deadline, screen_text(app)
            await pilot.pause(0.5)
        assert panel.has_class("-critical")
        assert "HandcodeErrors" in screen_text(app)


async def test_the_console_on_prometheus_fits_the_trends_from_its_history(stack: Stack) -> None:
    from sbtop.session.live import LiveSession

    # Prometheus has a few seconds of resident memory and sockets before the session opens.
    stack.prom.wait_for('count_over_time(process_resident_memory_bytes{job="studybuddy"}[1m])'
                        ' >= 6')
    target = via_prometheus(stack.prom.url, 'job="studybuddy"', memory_limit_mb=1024)
    session = LiveSession(target, refresh_s=1.0, read_only=True)
    session.subscribe(lambda _update: None)  # the history is drawn for a face that looks
    async with session:
        await session.run(max_ticks=1)
    a = session.assessment
    assert a is not None
    for key in ("memory_growth_mb_per_h", "socket_growth_per_h"):
        reason = a.figures[key].reason or ""
        # One tick alone would have 0s: the readings Prometheus held are in the fit.
        have = re.search(r"have (\d+)s$", reason)
        assert have is not None and int(have.group(1)) >= 4, reason
