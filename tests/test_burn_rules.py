"""`sbtop rules`' error-budget rules in a real rule engine: promtool accepts them, and `promtool
test rules`, fed the samples the engine is fed (tests/burn_data.py), evaluates the recording
rules to the engine's ratios and fires the pages at the minute the engine does."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from sbtop.engine.alerts import AlertState
from sbtop.engine.engine import Engine
from sbtop.engine.keys import Fig
from sbtop.engine.settings import EngineSettings
from sbtop.engine.slo import SloSettings
from sbtop.rules import rules_yaml
from tests.burn_data import (
    BOUNDS,
    bad,
    ok,
    restarted_bad,
    restarted_ok,
    restarted_page,
    series_values,
    since_restart,
)
from tests.burn_data import page as burn_page
from tests.pagegen import obs

PROMTOOL = shutil.which("promtool")
if PROMTOOL is None:  # pragma: no cover - .ci/run installs Debian's prometheus package
    pytest.fail("promtool is required: apt-get install prometheus")

SETTINGS = EngineSettings(window_s=60, slo=SloSettings(99.5, 99.0, 500.0))
MINUTES = 100


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PROMTOOL), *args], capture_output=True, text=True, check=False)


def _engine_runs() -> dict[int, object]:
    e = Engine(SETTINGS)
    return {m: e.observe(obs(60.0 * m, burn_page(m).page())) for m in range(MINUTES + 1)}


def _le(x: float) -> str:
    return "+Inf" if x == float("inf") else f"{x:g}"


@pytest.mark.slow
def test_promtool_accepts_the_slo_rules(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(rules_yaml(SETTINGS, selector='job="studybuddy"'))
    r = promtool("check", "rules", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    text = path.read_text()
    assert "- record: sbtop:slo_errors_ratio:rate5m" in text
    assert "- alert: SbtopErrorBudgetBurnFast" in text and "(14.4 * 0.005)" in text
    assert "- alert: SbtopLatencyBudgetBurnTicket" in text


@pytest.mark.slow
def test_prometheus_evaluates_the_rules_to_the_engines_numbers_and_pages_when_it_does(
        tmp_path: Path) -> None:
    runs = _engine_runs()
    (tmp_path / "rules.yml").write_text(rules_yaml(SETTINGS))
    series = [
        {"series": 'http_requests_total{status="200"}', "values": series_values(ok, MINUTES)},
        {"series": 'http_requests_total{status="500"}', "values": series_values(bad, MINUTES)},
    ] + [
        {"series": f'http_request_duration_seconds_bucket{{le="{_le(le)}"}}',
         "values": series_values(lambda m, n=n: n * m, MINUTES)}
        for le, n in BOUNDS.items()
    ]
    at = 90
    exprs = []
    for window in ("5m", "30m", "1h"):
        for slo, key in (("availability", f"burn_rate_{window}"),
                         ("latency", f"latency_burn_rate_{window}")):
            f = runs[at].figures[key]  # type: ignore[attr-defined]
            ratio = f.detail.errors / f.detail.requests  # the engine's, from the same samples
            budget = 0.005 if slo == "availability" else 0.01
            assert f.value == pytest.approx(ratio / budget)
            # Prometheus's rate() ratio, to float noise (its rates carry a last-bit error
            # of their own: an exact comparison would test float rounding, not the rules).
            exprs.append({
                "expr": f'abs(sbtop:slo_errors_ratio:rate{window}{{slo="{slo}"}} - {ratio!r})'
                        " < bool 1e-12",
                "eval_time": f"{at}m",
                "exp_samples": [{"labels": f'{{slo="{slo}"}}', "value": 1}]})
    # By hand: 20 % of requests failed over the last 5m and 30m, 10 % over the last hour.
    assert runs[at].figures[Fig.BURN_RATE_1H].value == pytest.approx(20.0)  # type: ignore[attr-defined]
    # The 6h window: Prometheus gives the 90 minutes it holds; the engine says it cannot.
    assert runs[at].figures[Fig.BURN_RATE_6H].value is None  # type: ignore[attr-defined]

    fast = {"alertname": "SbtopErrorBudgetBurnFast", "severity": "critical",
            "sbtop_burn": "page", "slo": "availability"}
    summary = "availability error budget burning over 14.4x over 1h and 5m"

    def engine_fires(m: int) -> bool:
        return any(a.name == fast["alertname"] and a.state is AlertState.FIRING
                   for a in runs[m].alerts)  # type: ignore[attr-defined]

    # Both page at minute 82 (4,400 errors in the last hour: 7.33 % > 7.2 %), not at 81.
    assert not engine_fires(81) and engine_fires(82)
    # The engine never judges the slow page here: its 6h window is unknown (90 minutes of
    # history), where Prometheus pages at 71m (below).
    assert not any(al.name == "SbtopErrorBudgetBurnSlow"
                   for m in range(MINUTES + 1) for al in runs[m].alerts)  # type: ignore[attr-defined]
    alert_tests = [
        {"eval_time": "81m", "alertname": "SbtopErrorBudgetBurnFast", "exp_alerts": []},
        {"eval_time": "82m", "alertname": "SbtopErrorBudgetBurnFast",
         "exp_alerts": [{"exp_labels": {k: v for k, v in fast.items() if k != "alertname"},
                         "exp_annotations": {"summary": summary}}]},
        # The slow page and the ticket have no history guard in Prometheus (as Sloth's): its
        # 6h and 3d windows hold the 70 minutes there are. The slow page at 71m (2,200 of
        # 71,000 = 3.1 % > 6 x 0.5 %), the ticket at 62m (400 of 62,000 > 0.5 %).
        {"eval_time": "70m", "alertname": "SbtopErrorBudgetBurnSlow", "exp_alerts": []},
        {"eval_time": "71m", "alertname": "SbtopErrorBudgetBurnSlow",
         "exp_alerts": [{"exp_labels": {"severity": "critical", "sbtop_burn": "page",
                                        "slo": "availability"},
                         "exp_annotations": {"summary": "availability error budget burning "
                                                        "over 6x over 6h and 30m"}}]},
        {"eval_time": "61m", "alertname": "SbtopErrorBudgetBurnTicket", "exp_alerts": []},
        {"eval_time": "62m", "alertname": "SbtopErrorBudgetBurnTicket",
         "exp_alerts": [{"exp_labels": {"severity": "warning", "sbtop_burn": "ticket",
                                        "slo": "availability"},
                         "exp_annotations": {"summary": "availability error budget burning "
                                                        "over 1x over 3d and 6h"}}]},
        # The latency SLO burns at 2x: neither of its pages fires.
        {"eval_time": "90m", "alertname": "SbtopLatencyBudgetBurnFast", "exp_alerts": []},
        {"eval_time": "90m", "alertname": "SbtopLatencyBudgetBurnSlow", "exp_alerts": []},
    ]
    test = {"rule_files": ["rules.yml"], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": series,
                       "promql_expr_test": exprs, "alert_rule_test": alert_tests}]}
    # JSON is YAML: floats written by repr, so promtool reads back the same float64.
    (tmp_path / "test.yml").write_text(json.dumps(test, indent=1))
    r = promtool("test", "rules", str(tmp_path / "test.yml"))
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow
def test_the_latency_rule_reads_a_whole_second_bound_written_either_way(tmp_path: Path) -> None:
    """A threshold of 1000 ms is the bucket le="1" as prom-client writes it, and le="1.0" as
    Python's client writes it (and Prometheus 3 stores every classic bucket): the rule reads
    both, where a plain le="1" matched nothing there and the latency SLO never paged."""
    settings = EngineSettings(window_s=60, slo=SloSettings(None, 99.0, 1000.0))
    (tmp_path / "rules.yml").write_text(rules_yaml(settings))
    assert promtool("check", "rules", str(tmp_path / "rules.yml")).returncode == 0
    exprs = []
    for spelling in ("1", "1.0"):
        series = [
            {"series": f'http_request_duration_seconds_bucket{{le="{spelling}"}}',
             "values": series_values(lambda m: 995 * m, 10)},
            {"series": 'http_request_duration_seconds_bucket{le="+Inf"}',
             "values": series_values(lambda m: 1000 * m, 10)},
        ]
        # By hand: 5 of every 1,000 requests over 1 s, a ratio of 0.005 in every window.
        exprs.append({"interval": "1m", "input_series": series, "promql_expr_test": [{
            "expr": 'abs(sbtop:slo_errors_ratio:rate5m{slo="latency"} - 0.005) < bool 1e-9',
            "eval_time": "10m", "exp_samples": [{"labels": '{slo="latency"}', "value": 1}]}]})
    test = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": exprs}
    (tmp_path / "test.yml").write_text(json.dumps(test, indent=1))
    r = promtool("test", "rules", str(tmp_path / "test.yml"))
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow
def test_a_threshold_between_bounds_is_read_where_the_engine_reads_it(tmp_path: Path) -> None:
    """A 300 ms threshold on an app whose bounds are 0.1, 0.5 and 1 s: the console reads the
    bucket at 0.5 s (the nearest above, with a note), the rules read le="0.3", which matched
    nothing: the latency pages could never fire while the console showed a burn. Detected from
    the page, the rules read 0.5 s too, and Prometheus evaluates them to the engine's ratio."""
    from sbtop.engine.shape import from_page

    settings = EngineSettings(window_s=60, slo=SloSettings(None, 99.0, 300.0))
    shape = from_page(burn_page(1).page(), settings.names)
    assert shape.bounds == (0.1, 0.5, 1.0)
    text = rules_yaml(settings, shape=shape)
    assert 'le=\\"0.3\\"' not in text and "nearest bound over 300 ms" in text
    (tmp_path / "rules.yml").write_text(text)
    e = Engine(settings)
    runs = {m: e.observe(obs(60.0 * m, burn_page(m).page())) for m in range(11)}
    f = runs[10].figures[Fig.LATENCY_BURN_RATE_5M]
    ratio = f.detail.errors / f.detail.requests  # 20 of 1,000 over 0.5 s
    assert ratio == pytest.approx(0.02)
    series = [{"series": f'http_request_duration_seconds_bucket{{le="{_le(le)}"}}',
               "values": series_values(lambda m, n=n: n * m, 10)} for le, n in BOUNDS.items()]
    test = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": series, "promql_expr_test": [{
            "expr": f'abs(sbtop:slo_errors_ratio:rate5m{{slo="latency"}} - {ratio!r}) < bool 1e-9',
            "eval_time": "10m", "exp_samples": [{"labels": '{slo="latency"}', "value": 1}]}]}]}
    (tmp_path / "test.yml").write_text(json.dumps(test, indent=1))
    r = promtool("test", "rules", str(tmp_path / "test.yml"))
    assert r.returncode == 0, r.stdout + r.stderr


def _ratio_test(window: str, slo: str, ratio: float, at: str) -> dict[str, object]:
    return {"expr": f'abs(sbtop:slo_errors_ratio:rate{window}{{slo="{slo}"}} - {ratio!r})'
                    " < bool 1e-12",
            "eval_time": at, "exp_samples": [{"labels": f'{{slo="{slo}"}}', "value": 1}]}


@pytest.mark.slow
def test_prometheus_counts_a_restart_inside_the_window_as_the_engine_does(
        tmp_path: Path) -> None:
    """The app restarts after minute 29 (tests/burn_data.py): its counters start from zero
    again. Prometheus's rate() and the engine both count across the reset: the same ratios at
    minute 65 (the 1h window, 5 -> 65, holds the restart), and both page."""
    e = Engine(SETTINGS)
    runs = {m: e.observe(obs(60.0 * m, restarted_page(m).page())) for m in range(66)}
    (tmp_path / "rules.yml").write_text(rules_yaml(SETTINGS))
    series = [
        {"series": 'http_requests_total{status="200"}',
         "values": series_values(restarted_ok, 65)},
        {"series": 'http_requests_total{status="500"}',
         "values": series_values(restarted_bad, 65)},
    ] + [
        {"series": f'http_request_duration_seconds_bucket{{le="{_le(le)}"}}',
         "values": series_values(lambda m, n=n: n * since_restart(m), 65)}
        for le, n in BOUNDS.items()
    ]
    f = runs[65].figures
    # By hand (tests/test_burn.py): 4,800 of 60,000 over the hour, 10 % over 5m and 30m.
    assert f[Fig.BURN_RATE_1H].value == pytest.approx(16.0)
    exprs = []
    for window in ("5m", "30m", "1h"):
        for slo, key in (("availability", f"burn_rate_{window}"),
                         ("latency", f"latency_burn_rate_{window}")):
            d = f[key].detail
            exprs.append(_ratio_test(window, slo, d.errors / d.requests, "65m"))
    assert any(a.name == "SbtopErrorBudgetBurnFast" and a.state is AlertState.FIRING
               for a in runs[65].alerts)
    alert_tests = [{"eval_time": "65m", "alertname": "SbtopErrorBudgetBurnFast",
                    "exp_alerts": [{"exp_labels": {"severity": "critical", "sbtop_burn": "page",
                                                   "slo": "availability"},
                                    "exp_annotations": {"summary": "availability error budget "
                                                        "burning over 14.4x over 1h and 5m"}}]}]
    test = {"rule_files": ["rules.yml"], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": series,
                       "promql_expr_test": exprs, "alert_rule_test": alert_tests}]}
    (tmp_path / "test.yml").write_text(json.dumps(test, indent=1))
    r = promtool("test", "rules", str(tmp_path / "test.yml"))
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow
def test_no_traffic_records_no_number_and_pages_nothing(tmp_path: Path) -> None:
    """Counters that stand still for ten minutes: the engine says too few requests; the
    recorded ratios are 0 / 0, NaN (the only value unequal to itself), never 0, and no pair
    fires."""
    e = Engine(SETTINGS)
    runs = {m: e.observe(obs(60.0 * m, burn_page(5).page())) for m in range(11)}
    assert runs[10].figures[Fig.BURN_RATE_5M].reason == "too few requests: 0 in 5m (need 10)"
    (tmp_path / "rules.yml").write_text(rules_yaml(SETTINGS))
    series = [
        {"series": 'http_requests_total{status="200"}', "values": " ".join([str(ok(5))] * 11)},
        {"series": 'http_requests_total{status="500"}', "values": " ".join(["0"] * 11)},
    ] + [
        {"series": f'http_request_duration_seconds_bucket{{le="{_le(le)}"}}',
         "values": " ".join([str(n * 5)] * 11)}
        for le, n in BOUNDS.items()
    ]
    exprs = [{"expr": f'count(sbtop:slo_errors_ratio:rate5m{{slo="{slo}"}} != '
                      f'sbtop:slo_errors_ratio:rate5m{{slo="{slo}"}})',
              "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": 1}]}
             for slo in ("availability", "latency")]
    alert_tests = [{"eval_time": "10m", "alertname": name, "exp_alerts": []}
                   for name in ("SbtopErrorBudgetBurnFast", "SbtopErrorBudgetBurnSlow",
                                "SbtopErrorBudgetBurnTicket", "SbtopLatencyBudgetBurnFast")]
    test = {"rule_files": ["rules.yml"], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": series,
                       "promql_expr_test": exprs, "alert_rule_test": alert_tests}]}
    (tmp_path / "test.yml").write_text(json.dumps(test, indent=1))
    r = promtool("test", "rules", str(tmp_path / "test.yml"))
    assert r.returncode == 0, r.stdout + r.stderr
