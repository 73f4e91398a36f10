"""Benchmark: what the live console costs over SSH, measured by ../shared/tools/tui-cost.

    python bench/console_cost.py [--seconds 30]

Runs `sbtop demo` (the simulated backend in the same process tree, every panel live, 1 s
refresh) in a tmux pane at 120x40 and at 80x24, beside the naive Textual dashboard in
bench/naive_dashboard.py in the same run. Prints CPU (% of one core) and bytes written to the
terminal per second. Figures, not pass/fail; the target is at most 2 % and 3 KB/s.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TUI_COST = Path(os.environ.get("TUI_COST", ROOT.parent / "shared" / "tools" / "tui-cost"))


def measure(command: list[str], size: str, seconds: int) -> tuple[float, float]:
    out = subprocess.run([sys.executable, str(TUI_COST), "--size", size, "--warmup", "8",
                          "--seconds", str(seconds), "--", *command],
                         capture_output=True, text=True, check=True).stdout
    cpu = float(re.search(r"cpu_pct=([\d.]+)", out).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"bytes_per_s=([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return cpu, rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=30)
    args = ap.parse_args()
    if not TUI_COST.exists():
        sys.exit(f"tui-cost not found at {TUI_COST} (set TUI_COST)")
    sbtop = str(Path(sys.executable).with_name("sbtop"))
    runs = [
        ("sbtop demo", [sbtop, "demo"], "120x40"),
        ("sbtop demo", [sbtop, "demo"], "80x24"),
        ("naive Textual dashboard", [sys.executable, str(ROOT / "bench" / "naive_dashboard.py")],
         "120x40"),
    ]
    print(f"{'program':<26}{'size':>8}{'CPU %':>9}{'bytes/s':>10}")
    for label, command, size in runs:
        cpu, rate = measure(command, size, args.seconds)
        print(f"{label:<26}{size:>8}{cpu:>9.2f}{rate:>10.0f}")
    print("target for sbtop demo: CPU <= 2 %, <= 3 KB/s (one core, 1 s refresh)")


if __name__ == "__main__":
    main()
