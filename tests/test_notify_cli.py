"""Actions taken on the command line (`sbtop restart`, `sbtop canary`, `sbtop plan ...`) are told
to the team's webhook as the console's are; a slow or failing webhook costs the command its
deadline and one line, never its exit code; a dry run or a refusal tells nobody."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sbtop.demo.backend import SimulatedBackend
from tests.cli import clean_env, run_sbtop
from tests.control_plane import render_config, render_env, serving
from tests.servers import Answer, LoopbackServer

pytestmark = pytest.mark.slow

HOOK_PATH = "/services/T000/B000/XXXXsecretXXXX"


@pytest.fixture
def backend() -> Iterator[SimulatedBackend]:
    with serving(build_s=0.2) as b:
        yield b


@pytest.fixture
def hook() -> Iterator[LoopbackServer]:
    with LoopbackServer({HOOK_PATH: Answer(200, b"ok")}) as server:
        yield server


def with_webhook(cfg: Path, timeout_s: float = 5.0) -> Path:
    cfg.write_text(cfg.read_text() + f"""
[notify]
webhook_url_env = "SB_HOOK"
webhook_timeout_s = {timeout_s}
""")
    return cfg


def messages(server: LoopbackServer) -> list[str]:
    return [json.loads(r["body"])["text"] for r in server.requests
            if r["path"] == HOOK_PATH and r["method"] == "POST"]


def setup(tmp_path: Path, b: SimulatedBackend, hook_url: str,
          timeout_s: float = 5.0) -> tuple[Path, dict[str, str]]:
    cfg = with_webhook(render_config(tmp_path / "c.toml", b), timeout_s)
    return cfg, {**render_env(tmp_path / "state"), "SB_HOOK": hook_url + HOOK_PATH}


def test_a_restart_on_the_command_line_is_told_to_the_webhook_url_never_shown(
        tmp_path: Path, backend: SimulatedBackend, hook: LoopbackServer) -> None:
    cfg, env = setup(tmp_path, backend, hook.url)
    r = run_sbtop("restart", "--yes", "--config", str(cfg), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    said = messages(hook)
    assert len(said) == 1, said
    assert "restart done on demo" in said[0]
    assert "XXXXsecret" not in r.stdout + r.stderr


def test_a_canary_step_is_told_a_dry_run_and_a_refusal_are_not(
        tmp_path: Path, backend: SimulatedBackend, hook: LoopbackServer) -> None:
    cfg, env = setup(tmp_path, backend, hook.url)
    r = run_sbtop("canary", "next", "--dry-run", "--config", str(cfg), "--window", "1", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert messages(hook) == []
    r = run_sbtop("canary", "next", "--yes", "--config", str(cfg), "--window", "1", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(messages(hook)) == 1 and "canary" in messages(hook)[0]
    # The next step is refused by its soak: nothing done, nothing told.
    r = run_sbtop("canary", "next", "--yes", "--config", str(cfg), "--window", "1", env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    assert len(messages(hook)) == 1


@pytest.mark.parametrize("answer, words", [
    (Answer(hang=True), "no answer within 1 s"),
    (Answer(500, b"internal"), "answered HTTP 500"),
])
def test_a_webhook_that_hangs_or_fails_costs_one_line_never_the_exit_code(
        tmp_path: Path, backend: SimulatedBackend, answer: Answer, words: str) -> None:
    with LoopbackServer({HOOK_PATH: answer}) as bad:
        cfg, env = setup(tmp_path, backend, bad.url, timeout_s=1.0)
        r = run_sbtop("restart", "--yes", "--config", str(cfg), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "restart" in r.stdout and backend.render.calls
    note = [line for line in r.stdout.splitlines() if line.startswith("note: Slack webhook")]
    assert len(note) == 1, r.stdout
    assert words in note[0] and "the team's channel was not told" in note[0]
    assert "XXXXsecret" not in r.stdout + r.stderr and "Traceback" not in r.stderr


def test_a_phase_rolled_back_on_the_command_line_is_told(
        tmp_path: Path, hook: LoopbackServer) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("""
[targets.x]
base_url = "http://127.0.0.1:9"
production = false

[[plan.phases]]
name = "Database indexes"
run = ["true"]
rollback = ["sh", "-c", "exit 3"]
""")
    with_webhook(cfg)
    env = {**clean_env(), "SB_HOOK": hook.url + HOOK_PATH}
    state = str(tmp_path / "state")
    common: list[Any] = ["--config", str(cfg), "--window", "0.2", "--state-dir", state, "--yes"]
    r = run_sbtop("plan", "start", "1", *common, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_sbtop("plan", "rollback", "1", *common, env=env)
    assert r.returncode == 2, r.stdout + r.stderr  # its command failed: said, and told
    said = messages(hook)
    assert len(said) == 2, said
    assert "Database indexes" in said[0] and "done" in said[0]
    assert "Database indexes" in said[1] and "FAILED" in said[1]


_SLOW_DNS = """
import socket, sys, time
real = socket.getaddrinfo
def slow(host, *args, **kwargs):
    if host in ("hooks.example.invalid", b"hooks.example.invalid"):
        time.sleep(120)  # a name server that never answers
    return real(host, *args, **kwargs)
socket.getaddrinfo = slow
from sbtop.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_webhook_whose_name_never_resolves_costs_its_deadline_not_the_lookups(
        tmp_path: Path, backend: SimulatedBackend) -> None:
    # The name is looked up in a thread, and the command's loop waited for its threads at the
    # end: 8 s for a lookup of 8 s past a 1 s deadline; this one would take two minutes (the
    # run's own bound, 60 s, fails it).
    import subprocess
    import sys

    cfg, env = setup(tmp_path, backend, "https://hooks.example.invalid", timeout_s=1.0)
    r = subprocess.run([sys.executable, "-c", _SLOW_DNS, "restart", "--yes", "--config",
                        str(cfg)], capture_output=True, text=True, env=clean_env(env),
                       timeout=60, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "note: Slack webhook ($SB_HOOK, https://hooks.example.invalid/…): no answer within " \
           "1 s; the team's channel was not told" in r.stdout, r.stdout
