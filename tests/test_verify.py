"""`sbtop verify`: the runbook's post-deployment checklist as HTTP probes against StudyBuddy's
routes on the simulated backend (a real HTTP server on loopback), with passing and failing
probes, a hanging one, a bad body, missing credentials; and the two metric items against the
canary's baseline. Judging rules worked by hand first."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sbtop.actions.state import StateStore
from sbtop.checklist import STUDYBUDDY
from sbtop.config import parse
from sbtop.demo.app_api import DEMO_EMAIL, DEMO_PASSWORD, DEMO_SESSION
from sbtop.demo.backend import SimulatedBackend
from sbtop.engine.figures import Figure
from sbtop.engine.levels import Level, Threshold
from sbtop.engine.verify import (
    FAIL,
    PASS,
    UNKNOWN,
    Probe,
    ProbeAnswer,
    Tolerances,
    judge_probe,
    metric_checks,
    verdict,
)
from tests.cli import EXAMPLE, run_sbtop

CREDS = {"STUDYBUDDY_VERIFY_EMAIL": DEMO_EMAIL, "STUDYBUDDY_VERIFY_PASSWORD": DEMO_PASSWORD,
         "STUDYBUDDY_SESSION_COOKIE": DEMO_SESSION}


def probe(**kw: object) -> Probe:
    return Probe(**{"name": "p", "method": "GET", "url": "http://x/p", "path": "/p", **kw})  # type: ignore[arg-type]


def answer(status: int | None = 200, body: object = None, **kw: object) -> ProbeAnswer:
    raw = json.dumps(body).encode() if body is not None else b""
    return ProbeAnswer(status, raw, 12.0, **kw)  # type: ignore[arg-type]


def test_a_probe_passes_on_the_expected_status_and_json() -> None:
    p = probe(expect_json={"user.id": "*", "tasks.0.title": "Read", "ok": True, "n": 2})
    body = {"user": {"id": 7}, "tasks": [{"title": "Read"}], "ok": True, "n": 2.0}
    c = judge_probe(p, answer(200, body))
    assert c.result == PASS and c.detail == "200 in 12 ms"


@pytest.mark.parametrize(("ans", "expect", "detail"), [
    (answer(302, location="/login"), {}, "expected 200, got 302 (to /login) in 12 ms"),
    (answer(500), {}, "expected 200, got 500"),
    (answer(None, error="connection refused"), {}, "no answer: connection refused"),
    (answer(200, {"user": None}), {"user.id": "*"}, "user.id is missing"),
    (answer(200, {"status": "degraded"}), {"status": "ok"},
     "status is 'degraded', expected 'ok'"),
    (answer(200, {"ok": 1}), {"ok": True}, "ok is 1, expected true"),
    (ProbeAnswer(200, b"<html>", 3.0), {"status": "ok"}, "the body is not JSON"),
    (ProbeAnswer(200, b"{", 3.0, truncated=True), {"a": "*"}, "over 1024 KB"),
])
def test_a_probe_fails_naming_what_was_expected_and_what_came(
        ans: ProbeAnswer, expect: dict[str, object], detail: str) -> None:
    c = judge_probe(probe(expect_json=expect), ans)
    assert c.result == FAIL and detail in c.detail


def test_a_probe_lacking_a_variable_is_not_sent_and_fails_naming_it() -> None:
    c = judge_probe(probe(missing=("STUDYBUDDY_VERIFY_PASSWORD",)), None)
    assert c.result == FAIL and c.detail == "not sent: needs $STUDYBUDDY_VERIFY_PASSWORD (not set)"


def fig(key: str, value: float | None, warning: float, stale: bool = False) -> Figure:
    return Figure(key, value, Level.OK, "", Threshold(warning, warning * 2), None if value
                  is not None else "too few requests", {}, True, 3.0 if stale else None)


def test_metric_items_compare_with_the_baseline_within_the_tolerances() -> None:
    figures = {"error_rate_5xx_pct": fig("error_rate_5xx_pct", 0.35, 1.0),
               "latency_p95_ms": fig("latency_p95_ms", 219.0, 500.0)}
    base = {"error_rate_5xx_pct": 0.2, "latency_p95_ms": 200.0}
    errors, latency = metric_checks(figures, base, Tolerances(10.0, 0.1))
    assert errors.result == FAIL and "5xx 0.35% > baseline 0.20% +0.1 pts (0.30%)" in errors.detail
    assert latency.result == PASS
    assert "p95 219 ms <= baseline 200 ms +10 % (220 ms)" in latency.detail
    errors, latency = metric_checks(figures, base, Tolerances(5.0, 0.2))
    assert errors.result == PASS and latency.result == FAIL


def test_without_a_baseline_the_thresholds_judge_and_unknown_is_never_a_pass() -> None:
    figures = {"error_rate_5xx_pct": fig("error_rate_5xx_pct", None, 1.0),
               "latency_p95_ms": fig("latency_p95_ms", 600.0, 500.0)}
    errors, latency = metric_checks(figures, None, Tolerances())
    assert errors.result == UNKNOWN and "too few requests" in errors.detail
    assert latency.result == FAIL and "no baseline" in latency.detail
    stale = {"latency_p95_ms": fig("latency_p95_ms", 100.0, 500.0, stale=True)}
    assert metric_checks(stale, None, Tolerances())[1].result == UNKNOWN
    assert verdict([errors])[1] == 3 and verdict([errors, latency])[1] == 2
    assert verdict([latency.__class__("x", "probe", PASS, "")])[1] == 0


def test_the_example_config_ships_studybuddys_checklist() -> None:
    from sbtop.config import load

    shipped = load(EXAMPLE).verify
    assert shipped == parse({"verify": STUDYBUDDY}).verify
    assert [v.path for v in shipped][:2] == ["/api/health", "/api/auth/login"]


# --- against the simulated backend --------------------------------------------------------


@pytest.fixture
def backend() -> Iterator[SimulatedBackend]:
    b = SimulatedBackend(port=0).start()
    b.set(rps=200, error_rate=0.0, fixed_latency_ms=80)
    try:
        yield b
    finally:
        b.stop()


def config_file(tmp_path: Path, b: SimulatedBackend, extra: str = "") -> Path:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[targets.app]\nbase_url = "{b.url}"\nmemory_limit_mb = 512\n'
                   + EXAMPLE.read_text().split("# The runbook's post-deployment checklist", 1)[1]
                   .split("\n", 1)[1] + extra)
    return cfg


@pytest.mark.slow
def test_the_checklist_passes_against_a_healthy_backend(tmp_path: Path,
                                                         backend: SimulatedBackend) -> None:
    r = run_sbtop("verify", "--window", "2", "--config", str(config_file(tmp_path, backend)),
                  "--state-dir", str(tmp_path / "state"), env=CREDS)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "-> PASS (11 passed)" in r.stdout
    assert "no baseline: judged by the warning threshold" in r.stdout


@pytest.mark.slow
def test_failing_hanging_and_bad_body_probes_are_each_named_with_why(
        tmp_path: Path, backend: SimulatedBackend) -> None:
    backend.app.failing.add("/api/leaderboard")
    backend.app.slow["/api/analytics/dashboard"] = 3.0
    extra = ('\n[[verify]]\nname = "slow analytics"\nmethod = "GET"\n'
             'path = "/api/analytics/dashboard"\ncookie = "connect.sid"\n'
             'cookie_env = "STUDYBUDDY_SESSION_COOKIE"\ntimeout_s = 1.0\n'
             '\n[[verify]]\nname = "health body"\nmethod = "GET"\npath = "/api/health"\n'
             'expect_json = { database = "disconnected" }\n')
    cfg = config_file(tmp_path, backend, extra)
    r = run_sbtop("verify", "--window", "2", "--json", "--config", str(cfg),
                  "--state-dir", str(tmp_path / "state"), env=CREDS)
    assert r.returncode == 2, r.stdout + r.stderr
    out = json.loads(r.stdout)
    by_name = {c["name"]: c for c in out["checks"]}
    assert by_name["leaderboard"]["result"] == "fail"
    assert "expected 200, got 500" in by_name["leaderboard"]["detail"]
    assert "timeout: no complete answer within 1 s" in by_name["slow analytics"]["detail"]
    assert by_name["health body"]["detail"].endswith(
        "but database is 'connected', expected 'disconnected'")
    assert by_name["analytics"]["result"] == "pass"  # 3 s is within its own 10 s
    assert out["result"] == "fail" and out["failed"] == 3
    r = run_sbtop("verify", "--window", "1", "--config", str(cfg),
                  "--state-dir", str(tmp_path / "state"), env={**CREDS,
                                                               "STUDYBUDDY_VERIFY_PASSWORD": ""})
    assert "FAIL  leaderboard" in r.stdout and "Traceback" not in r.stderr


@pytest.mark.slow
def test_missing_or_wrong_credentials_fail_and_never_show_the_secrets(
        tmp_path: Path, backend: SimulatedBackend) -> None:
    cfg = config_file(tmp_path, backend)
    env = {**CREDS, "STUDYBUDDY_VERIFY_PASSWORD": "wrong-pass-5f2a"}
    del env["STUDYBUDDY_SESSION_COOKIE"]
    r = run_sbtop("verify", "--window", "1", "--config", str(cfg), "--json",
                  "--state-dir", str(tmp_path / "state"), env=env)
    out = json.loads(r.stdout)
    by_name = {c["name"]: c for c in out["checks"]}
    assert "expected 200, got 401" in by_name["login"]["detail"]
    assert by_name["tasks: list"]["detail"] == ("not sent: needs $STUDYBUDDY_SESSION_COOKIE "
                                                "(not set)")
    assert "wrong-pass-5f2a" not in r.stdout + r.stderr and DEMO_EMAIL not in r.stdout
    assert r.returncode == 2


@pytest.mark.slow
def test_the_metric_items_use_the_canarys_baseline_from_the_state_directory(
        tmp_path: Path, backend: SimulatedBackend) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[targets.app]\nbase_url = "{backend.url}"\n')
    store = StateStore(tmp_path / "state", "app")
    state = store.load()
    state.canary.baseline = {"latency_p95_ms": 60.0, "error_rate_5xx_pct": 0.0}
    state.canary.baseline_wall = 1_800_000_000.0
    store.save(state)
    # Every request takes 80 ms now: p95 interpolates to about 97 ms, well over 60 + 10 %.
    r = run_sbtop("verify", "--window", "2", "--config", str(cfg),
                  "--state-dir", str(tmp_path / "state"))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "FAIL  latency improved or stable" in r.stdout
    assert "baseline: the canary's, taken 2027-01-15T08:00:00Z" in r.stdout
    assert "PASS  no increase in error rate" in r.stdout
    assert "no checklist items" in r.stdout
    r = run_sbtop("verify", "--window", "2", "--config", str(cfg), "--baseline-p95", "150",
                  "--state-dir", str(tmp_path / "state"))
    assert r.returncode == 0 and "given on the command line" in r.stdout


@pytest.mark.slow
def test_bad_checklist_config_is_one_line_and_exit_3(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[targets.a]\nbase_url = "http://127.0.0.1:9"\n[[verify]]\nname = "x"\n'
                   'path = "api/health"\n')
    r = run_sbtop("verify", "--config", str(cfg))
    assert r.returncode == 3 and "verify[0].path: must start with '/'" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.slow
def test_each_probe_is_bounded_in_time_and_size_by_its_own_settings() -> None:
    # The probes share sbtop.bounded with every outside call: a trickling answer is cut off at
    # the probe's deadline (not at its last byte, nor at the target's shorter read timeout);
    # a large one is cut at MAX_BODY, said, and its JSON not read.
    from sbtop.engine.verify import MAX_BODY
    from sbtop.sources.http import HttpSettings
    from sbtop.sources.probes import run_all
    from tests.servers import Answer, LoopbackServer

    routes = {"/slow": Answer(200, b"{}".ljust(100), "application/json", trickle_s=0.05),
              "/big": Answer(200, b"[" + b"1," * MAX_BODY + b"1]", "application/json"),
              "/login": Answer(302, headers={"Location": "/login"}),
              "/thinks": Answer(200, b"{}", "application/json", delay_s=1.0)}
    with LoopbackServer(routes) as srv:
        slow, big, login, thinks = asyncio.run(run_all([
            probe(url=srv.url + "/slow", timeout_s=1.0), probe(url=srv.url + "/big"),
            probe(url=srv.url + "/login"), probe(url=srv.url + "/thinks", timeout_s=5.0)],
            HttpSettings(timeout_s=0.5)))
        slow_request = next(r for r in srv.settled() if r["path"] == "/slow")
    assert thinks is not None and thinks.status == 200, thinks  # 1 s is within its own 5 s
    assert slow is not None and slow.error == "timeout: no complete answer within 1 s"
    # Its own clock: not cut at the target's 0.5 s. The server's: left before the last byte
    # (5 s of answer), about a second after it came.
    assert slow.elapsed_ms > 900
    assert slow_request["hung_up"] and not slow_request["complete"], slow_request
    assert slow_request["ended"] - slow_request["at"] < 3.0
    assert big is not None and big.truncated and len(big.body) == MAX_BODY
    assert judge_probe(probe(expect_json={"a": "*"}), big).detail.endswith(
        "the body is over 1024 KB: its JSON was not read")
    assert login is not None and login.status == 302 and login.location == "/login"
