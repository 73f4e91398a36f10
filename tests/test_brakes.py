"""The brakes always work: the canary abort needs nothing but the provider's write; a signal
or Ctrl-C never leaves an action unsupervised or unrecorded; a plan names every effect; a
damaged, full or read-only state directory gives one line, not a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sbtop.demo.backend import SimulatedBackend
from sbtop.demo.render_api import SERVICE_ID, Failure
from tests import control_plane
from tests.cli import run_sbtop
from tests.control_plane import render_config, render_env, serving
from tests.procs import alive
from tests.tmux import Pane

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow


@pytest.fixture
def backend() -> Iterator[SimulatedBackend]:
    with serving() as b:
        yield b


def render_setup(tmp_path: Path, b: SimulatedBackend) -> tuple[Path, dict[str, str]]:
    return (render_config(tmp_path / "c.toml", b, mode=0o600),
            render_env(tmp_path / "state"))


def audit(tmp_path: Path) -> list[dict[str, Any]]:
    return control_plane.audit(tmp_path / "state")


def test_abort_sets_the_flag_to_0_even_when_it_cannot_be_read(
        tmp_path: Path, backend: SimulatedBackend) -> None:
    cfg, env = render_setup(tmp_path, backend)
    r = run_sbtop("canary", "set", "25", "--yes", "--force", "--config", str(cfg),
                  "--window", "1", env=env)
    assert r.returncode == 0 and backend.render.env["PERF_OPTIMIZATIONS_ENABLED"] == "25"
    # The control plane turns flaky: every read of the flag fails, writes go through.
    backend.render.fail_next(*[Failure(500, "flaky", only="/env-vars/", method="GET")] * 20)
    r = run_sbtop("canary", "status", "--config", str(cfg), "--window", "1", env=env)
    assert r.returncode == 2 and "cannot be read" in r.stdout  # not a calm exit 0
    r = run_sbtop("canary", "abort", "--yes", "--config", str(cfg), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "set to 0 whatever it holds now" in r.stdout
    assert backend.render.env["PERF_OPTIMIZATIONS_ENABLED"] == "0"
    done = [e for e in audit(tmp_path) if e["action"] == "canary abort"]
    assert done[0]["result"] == "started" and done[-1]["ok"] is True


def test_a_refusal_before_any_plan_is_recorded_too(tmp_path: Path,
                                                   backend: SimulatedBackend) -> None:
    cfg, env = render_setup(tmp_path, backend)
    r = run_sbtop("canary", "abort", "--yes", "--config", str(cfg), env=env)
    assert r.returncode == 1 and "already at 0 %" in r.stdout
    refused = audit(tmp_path)[-1]
    assert refused["action"] == "canary abort" and refused["refused"] is True
    assert "already at 0 %" in str(refused["result"])


def test_a_rollback_after_an_abort_says_it_undoes_it_and_names_the_flag(
        tmp_path: Path, backend: SimulatedBackend) -> None:
    cfg, env = render_setup(tmp_path, backend)
    for args in (("canary", "set", "25", "--force"), ("canary", "abort")):
        r = run_sbtop(*args, "--yes", "--config", str(cfg), "--window", "1", env=env)
        assert r.returncode == 0, r.stdout + r.stderr
    r = run_sbtop("rollback", "--dry-run", "--config", str(cfg), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PERF_OPTIMIZATIONS_ENABLED goes back to 25 %" in r.stdout
    assert "this undoes the canary abort" in r.stdout and "was 25 % before it" in r.stdout


def command_setup(tmp_path: Path, b: SimulatedBackend) -> tuple[Path, dict[str, str], Path]:
    """A restart whose command runs until stopped, writing its pid first."""
    pidfile = tmp_path / "deploy.pid"
    script = tmp_path / "deploy.sh"
    script.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 600\n")
    script.chmod(0o755)
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"""
[targets.demo]
base_url = "{b.url}"
[targets.demo.actions]
provider = "command"
[targets.demo.actions.command]
restart = ["{script}"]
timeout_s = 300
""")
    return cfg, {"SBTOP_STATE_DIR": str(tmp_path / "state")}, pidfile


def _wait(predicate: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_during_an_action_stops_its_command_and_records_it(
        tmp_path: Path, backend: SimulatedBackend, sig: int, code: int) -> None:
    cfg, env, pidfile = command_setup(tmp_path, backend)
    full = {k: v for k, v in os.environ.items() if not k.startswith("SBTOP_")}
    proc = subprocess.Popen([sys.executable, "-m", "sbtop", "restart", "--yes", "--config",
                             str(cfg)], env={**full, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait(lambda: pidfile.exists() and pidfile.read_text().strip(), "the command to start")
        command = int(pidfile.read_text())
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, out + err
    assert "Traceback" not in err
    _wait(lambda: not alive(command), "the command to be stopped", 10)
    results = [e["result"] for e in audit(tmp_path) if e["action"] == "restart"]
    assert results[0] == "started" and str(results[-1]).startswith("interrupted")
    state = json.loads((tmp_path / "state" / "state-demo.json").read_text())
    assert state["in_flight"] is None


def test_ctrl_c_at_the_prompt_cancels_at_once_and_writes_nothing(
        tmp_path: Path, backend: SimulatedBackend) -> None:
    cfg, env = render_setup(tmp_path, backend)
    env_line = " ".join(f"{k}={v}" for k, v in env.items())
    pane = Pane(f"env {env_line} {sys.executable} -m sbtop restart --config {cfg}; "
                "echo exited-$?; sleep 30")
    try:
        pane.wait_for("go ahead? [y/N]")
        pane.keys("C-c")
        # At once: the prompt is answered by the terminal's own interrupt, no event loop
        # in between (the old code sat in input() for the loop's cancel).
        screen = pane.wait_for("exited-", timeout=10)
        assert "exited-130" in screen and "cancelled: nothing was sent" in screen
        assert "Traceback" not in screen
    finally:
        pane.close()
    assert audit(tmp_path) == []  # nothing was asked of the provider, nothing recorded
    assert ("POST", f"/v1/services/{SERVICE_ID}/restart") not in backend.render.calls


# One test a damaged value (each is two commands of a window each): xdist spreads them.
@pytest.mark.parametrize("bad", ["NaN", "Infinity", "1e300", "-5"])
def test_a_damaged_state_file_reads_as_unknown_not_a_traceback(
        tmp_path: Path, backend: SimulatedBackend, bad: str) -> None:
    cfg, env = render_setup(tmp_path, backend)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "state-demo.json").write_text(
        f'{{"canary": {{"percent": 25, "step_started_wall": {bad}, "baseline_wall": {bad}, '
        f'"baseline": {{"latency_p95_ms": {bad}}}}}}}')
    r = run_sbtop("canary", "status", "--config", str(cfg), "--window", "1", env=env)
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 0 and "ignored step_started_wall, baseline_wall" in r.stdout
    r = run_sbtop("verify", "--config", str(cfg), "--window", "1", env=env)
    assert "Traceback" not in r.stderr, r.stderr


def _unshare_works() -> bool:
    try:
        return subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False,
                              timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not _unshare_works(), reason="needs a mount namespace (root)")
@pytest.mark.parametrize("disk", ["full", "read-only"])
def test_a_full_or_read_only_state_directory_is_one_line_and_exit_3(
        tmp_path: Path, backend: SimulatedBackend, disk: str) -> None:
    """The state directory on a filesystem of its own, in a mount namespace of the command's
    alone: a tmpfs filled to the last byte, or one mounted read-only."""
    cfg, env = render_setup(tmp_path, backend)
    state = Path(env["SBTOP_STATE_DIR"])
    state.mkdir(mode=0o700)
    opts = "size=16k,mode=0700" + (",ro" if disk == "read-only" else "")
    fill = f"dd if=/dev/zero of={state}/filler bs=1k count=64 2>/dev/null;" if disk == "full" \
        else ""
    full = {k: v for k, v in os.environ.items() if not k.startswith("SBTOP_")}
    for args in (["restart", "--dry-run"], ["restart", "--yes"],
                 ["canary", "status", "--window", "1"]):
        script = (f"mount -t tmpfs -o {opts} tmpfs {state} && {fill} exec {sys.executable} "
                  f"-m sbtop {' '.join(args)} --config {cfg}")
        r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, check=False,
                           text=True, env={**full, **env}, timeout=60)
        assert "Traceback" not in r.stderr, r.stderr
        lines = [x for x in r.stderr.strip().splitlines() if x]
        assert r.returncode == 3 and len(lines) == 1 and lines[0].startswith("sbtop: "), (
            args, r.returncode, r.stdout, r.stderr)
        assert ("No space left" in lines[0]) == (disk == "full"), lines[0]
    # Nothing was sent: a restart that cannot be recorded does not happen.
    assert ("POST", f"/v1/services/{SERVICE_ID}/restart") not in backend.render.calls


def test_output_that_cannot_be_written_is_one_line_and_unknown(
        tmp_path: Path, backend: SimulatedBackend) -> None:
    full = {k: v for k, v in os.environ.items() if not k.startswith("SBTOP_")}
    base = [sys.executable, "-m", "sbtop", "check", "--url", backend.url, "--window", "1"]
    # A reader that has left before the first line (`| head -0`, a closed pipe).
    reader = subprocess.Popen(["true"], stdin=subprocess.PIPE)
    reader.wait(10)
    assert reader.stdin is not None
    r = subprocess.run([*base, "--json"], stdout=reader.stdin, stderr=subprocess.PIPE,
                       text=True, env=full, check=False, timeout=60)
    reader.stdin.close()
    assert r.returncode == 3
    assert "Traceback" not in r.stderr and "Exception" not in r.stderr, r.stderr
    # A full device.
    with open("/dev/full", "w") as devfull:
        r = subprocess.run(base, stdout=devfull, stderr=subprocess.PIPE, text=True, env=full,
                           check=False, timeout=60)
    assert r.returncode == 3, r.stderr
    assert r.stderr.strip().splitlines() == ["sbtop: cannot write the output: No space left "
                                             "on device"], r.stderr
