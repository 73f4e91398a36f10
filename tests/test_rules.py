"""`sbtop rules`: promtool accepts the file, and it says what the console judges."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import EXAMPLE, run_sbtop
from tests.servers import Answer, LoopbackServer

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


# Runs sbtop in a fresh interpreter, then says on stderr's last line which modules it loaded.
_LOADED = """
import json, sys
from sbtop import cli
try:
    code = cli.main(sys.argv[1:])
except SystemExit as e:  # --help
    code = e.code
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
sys.exit(code)
"""
_HTTP = ("httpx", "prometheus_client", "sbtop.sources.http", "sbtop.sources.prometheus",
         "sbtop.detect", "sbtop.collector")


def loaded_by(*args: str, home: Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SBTOP_")}
    env["XDG_CONFIG_HOME"] = str(home)  # no config of this machine's user
    r = subprocess.run([sys.executable, "-c", _LOADED, *args], capture_output=True, text=True,
                       env=env, check=False, timeout=60)
    return r, set(json.loads(r.stderr.splitlines()[-1]))


@pytest.mark.parametrize("args", [("rules", "--help"), ("rules", "--no-detect"),
                                  ("rules", "--config", str(EXAMPLE), "--target", "production",
                                   "--no-detect")])
def test_the_generator_loads_no_http_client(args: tuple[str, ...], tmp_path: Path) -> None:
    r, modules = loaded_by(*args, home=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "--help" in args or "groups:" in r.stdout
    assert not modules & set(_HTTP), sorted(modules & set(_HTTP))


# An express-prom-bundle app: no request counter, the histogram's _count by status_code.
_BUNDLE_PAGE = b"""# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.5",method="GET",path="/",status_code="200"} 3
http_request_duration_seconds_bucket{le="+Inf",method="GET",path="/",status_code="200"} 4
http_request_duration_seconds_sum{method="GET",path="/",status_code="200"} 1.2
http_request_duration_seconds_count{method="GET",path="/",status_code="200"} 4
"""


def test_detection_reads_the_apps_page_and_the_rules_follow_it(tmp_path: Path) -> None:
    with LoopbackServer({"/metrics": Answer(body=_BUNDLE_PAGE)}) as server:
        cfg = tmp_path / "c.toml"
        cfg.write_text(f'[targets.p]\nbase_url = "{server.url}"\n')
        r, modules = loaded_by("rules", "--config", str(cfg), home=tmp_path)
        assert r.returncode == 0, r.stderr
        assert [q["path"] for q in server.requests] == ["/metrics"]
    assert "httpx" in modules and "sbtop.detect" in modules  # asked to look: it does
    assert ("# Requests counted from http_request_duration_seconds_count by status_code "
            f"(read from {server.url}/metrics).") in r.stdout
    assert 'http_request_duration_seconds_count{status_code=~\\"5..\\"}' in r.stdout
    assert "http_requests_total" not in r.stdout
    check(r.stdout, tmp_path)
    # The same config without looking: the configured names, and no request made.
    r, _ = loaded_by("rules", "--config", str(cfg), "--no-detect", home=tmp_path)
    assert "# Requests counted from http_requests_total by status." in r.stdout


def test_an_app_that_cannot_be_read_gets_no_rules(tmp_path: Path) -> None:
    with LoopbackServer({"/metrics": Answer(503, b"down")}) as server:
        cfg = tmp_path / "c.toml"
        cfg.write_text(f'[targets.p]\nbase_url = "{server.url}"\n')
        r = run_sbtop("rules", "--config", str(cfg))
    assert r.returncode != 0 and r.stdout == ""
    assert "cannot tell what the app exports" in r.stderr and "--no-detect" in r.stderr
