"""Alert rules move through Prometheus's states: pending, firing after `for`, resolved."""

from __future__ import annotations

from sbtop.engine.alerts import AlertEvaluator, AlertState
from sbtop.engine.figures import Figure
from sbtop.engine.levels import Level
from sbtop.engine.settings import RUNBOOK_ALERTS, AlertRule

RULE = AlertRule("HighLatency", "latency_p95_ms", ">", 500, for_s=300, severity=Level.WARNING)


def p95(value: float | None, stale: bool = False) -> dict[str, Figure]:
    level = Level.UNKNOWN if value is None else Level.OK
    return {"latency_p95_ms": Figure("latency_p95_ms", value, level,
                                     stale_s=5.0 if stale else None)}


def states(ev: AlertEvaluator, t: float, value: float | None, stale: bool = False) -> str:
    alerts = ev.evaluate(p95(value, stale), t, 1e9 + t)
    return alerts[0].state.value if alerts else "inactive"


def test_a_condition_that_holds_is_pending_then_firing_after_for() -> None:
    ev = AlertEvaluator((RULE,))
    assert states(ev, 0, 600) == "pending"
    assert states(ev, 299, 700) == "pending"
    assert states(ev, 300, 650) == "firing"
    alert = ev.evaluate(p95(650), 310, 1e9 + 310)[0]
    assert alert.since_wall == 1e9 + 300  # firing since the evaluation that fired it
    assert alert.active_wall == 1e9  # active since the condition first held


def test_one_evaluation_that_does_not_hold_restarts_the_pending_clock() -> None:
    ev = AlertEvaluator((RULE,))
    assert states(ev, 0, 600) == "pending"
    assert states(ev, 200, 400) == "inactive"
    assert states(ev, 210, 600) == "pending"
    assert states(ev, 400, 600) == "pending"  # only 190 s since it held again
    assert states(ev, 510, 600) == "firing"


def test_a_firing_alert_that_stops_holding_is_resolved_and_then_forgotten() -> None:
    ev = AlertEvaluator((RULE,), keep_resolved_s=900)
    states(ev, 0, 600)
    assert states(ev, 300, 600) == "firing"
    assert states(ev, 310, 100) == "resolved"
    assert states(ev, 900, 100) == "resolved"
    assert states(ev, 1210, 100) == "inactive"


def test_a_rule_without_for_fires_at_once() -> None:
    ev = AlertEvaluator((AlertRule("Now", "latency_p95_ms", ">", 500),))
    assert states(ev, 0, 501) == "firing"


def test_the_threshold_is_strict_as_the_runbook_writes_it() -> None:
    ev = AlertEvaluator((RULE,))
    assert states(ev, 0, 500) == "inactive"


def test_without_data_a_pending_alert_is_dropped_and_a_firing_one_kept() -> None:
    ev = AlertEvaluator((RULE,))
    assert states(ev, 0, 600) == "pending"
    assert states(ev, 10, None) == "inactive"  # cannot show it held throughout
    states(ev, 20, 600)
    assert states(ev, 320, 600) == "firing"
    alerts = ev.evaluate(p95(600, stale=True), 330, 1e9 + 330)
    assert alerts[0].state is AlertState.FIRING and alerts[0].no_data
    assert alerts[0].level() is Level.WARNING


def test_the_runbook_rules_are_the_defaults() -> None:
    names = {r.name: r for r in RUNBOOK_ALERTS}
    assert names["HighLatency"].figure == "latency_p95_ms" and names["HighLatency"].value == 500
    assert names["HighLatency"].for_s == 300
    assert names["HighErrorRate"].figure == "error_rate_5xx_pct"
    assert names["HighErrorRate"].value == 1 and names["HighErrorRate"].for_s == 300
    assert names["HighErrorRate"].severity is Level.CRITICAL
