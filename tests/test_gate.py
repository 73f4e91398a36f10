"""The canary gate, worked by hand from the runbook's canary plan."""

from __future__ import annotations

from sbtop.engine.figures import Figure
from sbtop.engine.gate import GateSettings, evaluate, next_step
from sbtop.engine.levels import Level

S = GateSettings()


def figs(e5: float | None = 0.2, p95: float | None = 230.0, db: float | None = None,
         db_stale: bool = False) -> dict[str, Figure]:
    out = {
        "error_rate_5xx_pct": Figure("error_rate_5xx_pct", e5, Level.OK, "%"),
        "latency_p95_ms": Figure("latency_p95_ms", p95, Level.OK, "ms"),
    }
    if db is not None or db_stale:
        out["db_connections_pct"] = Figure("db_connections_pct", db, Level.OK, "%", judged=True,
                                           stale_s=3.0 if db_stale else None)
    return out


def test_the_ladder_follows_the_runbook() -> None:
    assert [next_step(p, S.steps) for p in (0, 5, 10, 25, 100)] == [5, 25, 25, 100, None]
    assert next_step(None, S.steps) is None


def test_the_gate_opens_when_the_soak_is_done_and_every_criterion_holds() -> None:
    g = evaluate(5, 0.0, 1800.0, 220.0, figs(), S)
    assert g.open and g.next_percent == 25 and g.soak_left_s == 0
    assert [c.name for c in g.criteria] == ["soak", "5xx", "p95", "db"]
    assert g.criteria[-1].passed is None  # no database: shown, not blocking


def test_an_unfinished_soak_keeps_it_shut_and_counts_down() -> None:
    g = evaluate(5, 0.0, 600.0, 220.0, figs(), S)
    assert not g.open and g.soak_left_s == 1200
    assert g.failing[0].shown == "soak 30m00s: 20m00s left"
    assert evaluate(25, 0.0, 3599.0, 220.0, figs(), S).soak_left_s == 1


def test_errors_latency_and_db_pressure_each_shut_it() -> None:
    assert not evaluate(0, None, 0, 220.0, figs(e5=1.0), S).open  # 1 % is not < 1 %
    assert not evaluate(0, None, 0, 220.0, figs(e5=None), S).open  # unknown is not a pass
    assert evaluate(0, None, 0, 200.0, figs(p95=220.0), S).open  # exactly +10 %
    assert not evaluate(0, None, 0, 200.0, figs(p95=221.0), S).open
    assert not evaluate(5, 0.0, 1800, None, figs(), S).open  # no baseline at a step
    assert evaluate(0, None, 0, None, figs(), S).open  # before the first: it becomes one
    assert not evaluate(0, None, 0, 220.0, figs(db=85.0), S).open
    assert not evaluate(0, None, 0, 220.0, figs(db=10.0, db_stale=True), S).open
    assert evaluate(0, None, 0, 220.0, figs(db=10.0), S).open


def test_the_top_of_the_ladder_has_nowhere_to_go() -> None:
    g = evaluate(100, 0.0, 99999.0, 220.0, figs(), S)
    assert g.next_percent is None and not g.open


def test_a_step_off_the_ladder_soaks_as_the_rung_below_it() -> None:
    # An override to 10 % is past 5 %: it soaks the 5 % rung's 30 minutes, not none at all.
    assert evaluate(10, 0.0, 600.0, 220.0, figs(), S).soak_left_s == 1200
    assert evaluate(50, 0.0, 600.0, 220.0, figs(), S).soak_left_s == 3000  # 25 %'s hour
    assert evaluate(10, 0.0, 1800.0, 220.0, figs(), S).open
