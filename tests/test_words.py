"""Words that must not mislead: a gate line says the value and the rule, a figure nobody judged
is not called OK, unknown is UNKN everywhere, a dead target says why once, a mistyped option is
named as the mistake."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from sbtop.actions.plan import Plan
from sbtop.actions.requests import Params, Request
from sbtop.commands.parser import build_parser
from sbtop.console.screens.action import ActionScreen
from sbtop.demo.backend import SimulatedBackend
from sbtop.engine.figures import Figure
from sbtop.engine.gate import GateSettings, evaluate
from sbtop.engine.levels import Level
from sbtop.engine.verify import FAIL, PASS, UNKNOWN, Check
from sbtop.verify import Report, as_text
from tests.cli import run_sbtop
from tests.console_harness import Harness, screen_text
from tests.control_plane import render_config, render_env, serving
from tests.servers import closed_port

# A gate line that read "FAIL 5xx 1.98% < 1%" stated something false.
FALSE_STATEMENT = re.compile(r"\d% < \d|ms <= \d")


def figs(e5: float, p95: float, db: float | None = None) -> dict[str, Figure]:
    out = {"error_rate_5xx_pct": Figure("error_rate_5xx_pct", e5, Level.OK, "%"),
           "latency_p95_ms": Figure("latency_p95_ms", p95, Level.OK, "ms")}
    if db is not None:
        out["db_connections_pct"] = Figure("db_connections_pct", db, Level.OK, "%", judged=True)
    return out


def test_gate_criteria_say_the_value_then_the_rule_it_must_meet() -> None:
    g = evaluate(25, 0.0, 7200.0, 200.0, figs(1.98, 300.0, db=85.0), GateSettings())
    shown = {c.name: c.shown for c in g.criteria}
    assert shown["5xx"] == "5xx 1.98%, must be < 1%"
    assert shown["p95"] == "p95 300 ms, must be <= 220 ms (baseline 200 +10%)"
    assert shown["db"] == "db conns 85.0%, must be < 80%"
    assert {c.name for c in g.failing} == {"5xx", "p95", "db"}
    # Not blocking, and said for what it is: no database, or one without a connection limit.
    none = evaluate(25, 0.0, 7200.0, 200.0, figs(0.2, 210.0), GateSettings())
    assert none.criteria[-1].shown == "db: no database"
    unlimited = {**figs(0.2, 210.0), "db_connections_pct": Figure(
        "db_connections_pct", None, Level.UNKNOWN, "%", reason="no connection limit known")}
    g2 = evaluate(25, 0.0, 7200.0, 200.0, unlimited, GateSettings())
    assert g2.criteria[-1].shown == "db conns: no connection limit"
    assert g2.criteria[-1].passed is None
    # The confirmation dialog's gate line is made of the same words.
    plan = Plan(Request.CANARY_NEXT, "demo", False, "render", "srv", Params(), [], gate=g)
    gate_line = plan.describe()[-1]
    assert "FAIL 5xx 1.98%, must be < 1%" in gate_line
    assert not FALSE_STATEMENT.search(gate_line), gate_line


@pytest.mark.slow
def test_canary_status_says_the_value_and_the_rule(tmp_path: Path) -> None:
    with serving(build_s=0.2) as b:
        b.set(error_rate=0.05)
        cfg, env = render_config(tmp_path / "c.toml", b), render_env(tmp_path / "state")
        r = run_sbtop("canary", "status", "--config", str(cfg), "--window", "1", env=env)
    assert r.returncode == 0, r.stderr
    assert re.search(r"FAIL 5xx \d+\.\d+%, must be < 1%", r.stdout), r.stdout
    assert not FALSE_STATEMENT.search(r.stdout), r.stdout


@pytest.fixture
async def failing_staging(tmp_path: Path) -> AsyncIterator[Harness]:
    h = Harness(production=False, state_dir=tmp_path)
    h.backend.set(rps=100, error_rate=0.05)
    try:
        yield h
    finally:
        h.close()


@pytest.mark.slow
async def test_the_canary_panel_and_its_dialog_say_the_value_and_the_rule(
        failing_staging: Harness) -> None:
    h = failing_staging
    async with h.app.run_test(size=(120, 40)) as pilot:
        await h.app.workers.wait_for_complete()
        await h.ticks(3, pilot)
        text = screen_text(h.app)
        assert re.search(r"FAIL 5xx \d+\.\d+%, must be < 1%", text), text
        assert not FALSE_STATEMENT.search(text), text
        await pilot.press("c")
        assert isinstance(h.app.screen, ActionScreen)
        dialog = screen_text(h.app)
        assert re.search(r"FAIL 5xx \d+\.\d+%, must be < 1%", dialog), dialog
        assert not FALSE_STATEMENT.search(dialog), dialog
        await pilot.press("n")


@pytest.fixture
def backend() -> Iterator[SimulatedBackend]:
    with SimulatedBackend(port=0) as b:
        b.set(rps=300)
        yield b


@pytest.mark.slow
def test_check_marks_figures_without_a_threshold_as_shown_not_ok(
        backend: SimulatedBackend) -> None:
    r = run_sbtop("check", "--url", backend.url, "--window", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    rows = {line.split()[0]: line for line in r.stdout.splitlines()[1:] if line.startswith("  ")}
    for key in ("latency_p50_ms", "latency_p99_ms", "requests_per_s", "error_rate_4xx_pct",
                "socket_messages_per_s", "event_loop_lag_ms"):
        assert rows[key].split()[-1] == "shown", rows[key]
    for key in ("latency_p95_ms", "error_rate_5xx_pct", "socket_connections", "memory_pct",
                "health"):
        assert rows[key].split()[-1] == "OK", rows[key]


def test_verify_says_unkn_for_an_item_it_could_not_judge() -> None:
    report = Report("demo", 0.0, (Check("errors", "metric", UNKNOWN, "too few requests"),
                                  Check("health", "probe", PASS, "200", method="GET",
                                        path="/api/health"),
                                  Check("login", "probe", FAIL, "expected 200, got 500",
                                        method="POST", path="/api/auth/login")),
                    UNKNOWN, 3, None)
    text = as_text(report)
    assert "????" not in text
    assert "  UNKN  errors" in text


@pytest.mark.slow
def test_a_dead_target_says_why_once_in_the_headline() -> None:
    port = closed_port()
    r = run_sbtop("check", "--url", f"http://127.0.0.1:{port}", "--window", "1")
    assert r.returncode == 3
    lines = r.stdout.splitlines()
    assert lines[0].endswith("-> UNKN (unknown): metrics unavailable: connection refused"), lines
    assert r.stdout.count("metrics unavailable") == 1
    assert "(see above)" not in r.stdout
    # The figures it leaves unknown are named together, not one identical row each.
    assert sum("UNKN" in line for line in lines) == 2, r.stdout  # the headline and health
    assert "latency_p95_ms" in r.stdout and "event_loop_lag_ms" in r.stdout


@pytest.mark.parametrize(("argv", "said"), [
    (["--thme", "dark"], "sbtop: unknown option --thme (did you mean --theme?)\n"),
    (["check", "--windw", "3"], "sbtop: unknown option --windw (did you mean --window?)\n"),
    (["demo", "--scenrio", "bad-canary"],
     "sbtop: unknown option --scenrio (did you mean --scenario?)\n"),
    (["check", "--thme", "x"], "sbtop: unknown option --thme (see sbtop check --help)\n"),
])
def test_a_mistyped_option_is_named_not_the_value_after_it(
        argv: list[str], said: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 3
    assert capsys.readouterr().err == said


def test_a_refresh_out_of_range_names_the_real_range(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--refresh", "0"])
    assert "between 0.5 and 3600 seconds, got 0" in capsys.readouterr().err


@pytest.mark.slow
def test_rules_say_why_the_memory_rules_are_left_out_and_how_to_get_them() -> None:
    r = run_sbtop("rules", "--url", "http://127.0.0.1:9", "--no-detect")
    assert r.returncode == 0, r.stderr
    assert "# Left out: memory_pct: no memory limit: set memory_limit_mb on the target" \
        in r.stdout
    assert "MemoryPct" not in r.stdout
