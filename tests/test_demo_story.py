"""The demo tells the whole canary story in minutes: a short soak (said on screen), and its
control plane driven from the command line exactly as the README writes it."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sbtop.commands.targets import demo_target
from tests.cli import ROOT, clean_env, run_sbtop
from tests.servers import closed_port
from tests.tmux import Pane
from tests.waiting import until


def test_the_demo_soaks_each_canary_step_one_minute() -> None:
    wiring = demo_target("http://127.0.0.1:9")
    assert wiring.actions is not None
    assert dict(wiring.actions.gate.soak_s) == {5: 60.0, 25: 60.0}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """`sbtop demo --serve --scenario bad-canary` on a free port, the README's docs/demo.toml
    pointed at it (mode 600, as the README copies it), and the environment it asks for."""
    port = closed_port()
    log = tmp_path / "serve.out"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "sbtop", "demo", "--serve", "--port",
                                 str(port), "--scenario", "bad-canary"], stdout=out,
                                stderr=subprocess.STDOUT, env=clean_env())
    url = f"http://127.0.0.1:{port}"
    try:
        until(lambda: "Ctrl-C stops it." in log.read_text(), 30, "the demo serving")
        # What the README's commands need is said where it serves.
        assert f"render   {url}/v1" in log.read_text(), log.read_text()
        assert "rnd_sbtop_demo_key" in log.read_text()
        cfg = tmp_path / "demo.toml"
        cfg.write_text((ROOT / "docs" / "demo.toml").read_text().replace("8099", str(port)))
        cfg.chmod(0o600)
        env = {"SBTOP_DEMO_RENDER_KEY": "rnd_sbtop_demo_key",
               "SBTOP_STATE_DIR": str(tmp_path / "state")}
        yield url, cfg, env
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def knobs(url: str, **changes: object) -> dict[str, object]:
    data = json.dumps(changes).encode() if changes else None
    with urllib.request.urlopen(urllib.request.Request(
            f"{url}/__sbtop/control", data=data, method="POST" if data else "GET"),
            timeout=5) as r:
        out: dict[str, object] = json.loads(r.read())
    return out


@pytest.mark.slow
def test_the_demos_control_plane_driven_from_the_command_line(
        served: tuple[str, Path, dict[str, str]]) -> None:
    url, cfg, env = served
    assert knobs(url)["canary_regresses_at"] == 25  # the scenario holds when served alone too
    knobs(url, rps=300)  # enough requests in a short window for a steady 5xx share

    def sbtop(*args: str) -> subprocess.CompletedProcess[str]:
        r = run_sbtop(*args, "--config", str(cfg), env=env)
        assert "Traceback" not in r.stderr and "readable by other users" not in r.stderr
        return r

    r = sbtop("canary", "status", "--window", "2")
    assert r.returncode == 0 and "PERF_OPTIMIZATIONS_ENABLED: 0 %" in r.stdout, r.stdout
    r = sbtop("canary", "next", "--yes", "--window", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert knobs(url)["canary_percent"] == 5
    r = sbtop("canary", "status", "--window", "2")
    assert "soak 1m00s" in r.stdout, r.stdout  # the demo's short soak
    r = sbtop("canary", "next", "--yes", "--force", "--window", "2")
    assert r.returncode == 0 and knobs(url)["canary_percent"] == 25, r.stdout
    # From 25 % the optimized routes regress: the gate says so, value then rule.
    until(lambda: "FAIL 5xx" in sbtop("canary", "status", "--window", "2").stdout, 60,
          "the 25 % step's errors seen by the gate")
    r = sbtop("rollback", "--yes")
    assert r.returncode == 0 and knobs(url)["canary_percent"] == 5, r.stdout
    r = sbtop("restart", "--yes")
    assert r.returncode == 0, r.stdout


@pytest.mark.slow
def test_record_demo_as_the_readme_writes_it(tmp_path: Path) -> None:
    r = run_sbtop("record", str(tmp_path / "demo.sbrec"), "--demo", "--for", "3")
    assert r.returncode == 0, r.stderr
    r = run_sbtop("timeline", str(tmp_path / "demo.sbrec"))
    assert r.returncode == 0 and "recording starts" in r.stdout, r.stdout + r.stderr


@pytest.mark.slow
def test_sbtop_demo_says_its_soak_is_short(tmp_path: Path) -> None:
    pane = Pane(f"{Path(sys.executable).with_name('sbtop')} demo --scenario bad-canary; "
                "sleep 30", size=(120, 40))
    try:
        pane.wait_for("each canary step soaks 1 minute")
        pane.keys("q")
    finally:
        pane.close()
