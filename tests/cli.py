"""Running sbtop as a user does: `python -m sbtop` in a subprocess, without the environment's
SBTOP_ settings; and the shipped example config the command-line tests read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config.example.toml"

# A small Python in between starts a command and writes its peak RSS (KB) to argv[1]: measured
# from pytest's own process, the figure would include pytest's memory copied at the fork.
_PEAK = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[2:]).returncode
with open(sys.argv[1], "w") as f:
    f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without SBTOP_ settings (they would change what is tested),
    plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SBTOP_")}
    env.update(extra or {})
    return env


def run_sbtop(*args: str, env: dict[str, str] | None = None,
              cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sbtop", *args], check=False, capture_output=True,
                          text=True, env=clean_env(env), cwd=cwd, timeout=60)


def peak_rss(argv: list[str], rss_file: Path, *, timeout: float = 120
             ) -> tuple[subprocess.CompletedProcess[str], float]:
    """Runs argv (without SBTOP_ settings) as the child of a small Python that measures it:
    what it did, and its peak RSS in MB."""
    p = subprocess.run([sys.executable, "-c", _PEAK, str(rss_file), *argv], check=False,
                       capture_output=True, text=True, env=clean_env(), timeout=timeout)
    return p, int(rss_file.read_text()) / 1024
