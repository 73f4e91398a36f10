"""The suite's own scheduling: under the README's `--dist loadgroup`, every test of an
`xdist_group` runs on one worker, so a group's module fixture (the long shift, the real Node
stack, a real Prometheus) is built once a run. On pytest 9.2 with xdist 3.8 it was not: the
group was ignored and the fixture built once a worker (tests/conftest.py says why)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import ROOT, clean_env

# Starts a pytest with two workers in a subprocess: not in the fast loop.
pytestmark = pytest.mark.slow

GROUPED = '''
import os
import pytest

pytestmark = pytest.mark.xdist_group("g")


@pytest.fixture(scope="module")
def built():
    with open(os.environ["LOG"], "a") as f:
        f.write("built\\n")


@pytest.mark.parametrize("i", range(6))
def test_grouped(built, i):
    with open(os.environ["LOG"], "a") as f:
        f.write(f"ran {os.environ['PYTEST_XDIST_WORKER']}\\n")
'''

# Enough ungrouped tests that both workers have work from the start.
LOOSE = '''
import time
import pytest


@pytest.mark.parametrize("i", range(20))
def test_loose(i):
    time.sleep(0.02)
'''


def test_a_group_runs_on_one_worker_and_its_module_fixture_is_built_once(
        tmp_path: Path) -> None:
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    (tmp_path / "test_loose.py").write_text(LOOSE)
    log = tmp_path / "log"
    # The project's conftest as a plugin: its hooks, outside the project's ini and addopts.
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest",
                        "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup",
                        "--rootdir", str(tmp_path), str(tmp_path),
                        # Its temporary directories inside this test's: pytest keeps the last
                        # three runs' under /tmp/pytest-of-<user> and removes older ones, which
                        # would include a run of the suite still going.
                        "--basetemp", str(tmp_path / "basetemp")],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
                       env=clean_env({"LOG": str(log), "PYTHONPATH": str(ROOT)}))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "26 passed" in r.stdout, r.stdout
    lines = log.read_text().splitlines()
    assert lines.count("built") == 1, lines
    workers = {x.removeprefix("ran ") for x in lines if x.startswith("ran ")}
    assert len(workers) == 1, lines
