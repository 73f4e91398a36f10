"""`sbtop rules`: promtool accepts the file, and it says what the console judges."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli import EXAMPLE, run_sbtop

PROMTOOL = shutil.which("promtool")
if PROMTOOL is None:  # pragma: no cover - .ci/run installs Debian's prometheus package
    pytest.fail("promtool is required: apt-get install prometheus")


def check(text: str, tmp_path: Path) -> str:
    path = tmp_path / "rules.yml"
    path.write_text(text)
    r = subprocess.run([str(PROMTOOL), "check", "rules", str(path)], capture_output=True,
                       text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


@pytest.mark.slow
def test_the_default_rules_are_the_runbooks_and_promtool_accepts_them(tmp_path: Path) -> None:
    r = run_sbtop("rules", env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    out = check(r.stdout, tmp_path)
    assert "SUCCESS" in out
    assert "- alert: HighLatency" in r.stdout and "- alert: HighErrorRate" in r.stdout
    assert 'http_requests_total{status=~\\"5..\\"}' in r.stdout
    assert "SbtopSocketConnectionsCritical" in r.stdout and "> 2000" in r.stdout
    # The runbook's HighLatency already says p95 > 500 ms: no second rule for the same bound.
    assert "SbtopLatencyP95MsWarning" not in r.stdout


@pytest.mark.slow
def test_a_target_with_selector_memory_limit_and_histogram_counts(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[metrics]\nrequests_counter = ""\n'
                   '[targets.p]\nbase_url = "http://h"\nmemory_limit_mb = 512\n')
    r = run_sbtop("rules", "--config", str(cfg), "--selector", 'job="studybuddy"', "--no-detect")
    check(r.stdout, tmp_path)
    assert 'http_request_duration_seconds_count{job=\\"studybuddy\\",status_code=~\\"5..\\"}' in (
        r.stdout)
    assert "max(process_resident_memory_bytes{job=\\\"studybuddy\\\"}) / 536870912 * 100" in (
        r.stdout)


@pytest.mark.slow
def test_the_example_config_gives_valid_rules(tmp_path: Path) -> None:
    # The example's backend is not reachable from here: the rules for its configured names.
    r = run_sbtop("rules", "--config", str(EXAMPLE), "--target", "production", "--no-detect")
    assert r.returncode == 0
    check(r.stdout, tmp_path)
