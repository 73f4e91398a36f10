"""Benchmark: what the live console costs over SSH, measured by ../shared/tools/tui-cost.

    python bench/console_cost.py [--seconds 30]

Runs in tmux panes, one after the other in the same run: `sbtop --url` at 120x40 against the
simulated backend in another process (`sbtop demo --serve`, not counted), `sbtop demo` (the
simulated backend in the same process, so its cost counts) at 120x40 and 80x24, and the
references: a Textual app showing one static line (bench/static_line.py, the floor of any
Textual program), htop (1 s refresh, as sbtop's) and the naive Textual dashboard in
bench/naive_dashboard.py. Prints CPU (% of one core), bytes written to the terminal per second
and peak RSS of the process tree. Figures, not pass/fail; the goal for `sbtop --url`: at most
3x the floor's CPU (about 1 %), 1.5 KB/s and 50 MB. `--baseline DIR` adds a `sbtop --url` row
run with the sbtop package found in DIR (say, an older commit's: `git archive COMMIT sbtop | tar
-x -C DIR`).

    python bench/console_cost.py --plan [--seconds 30]

The deploy window's cost instead: `sbtop demo` at 120x40, each run in a fresh state directory,
three ways (bench/plan_keys.sh presses the keys in the pane): the main screen as it starts,
phase 1 started and watched on the main screen (the header's line counting down), and the same
with the Plan view open. Warm-up 5 s (the keys go in the first seconds).
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TUI_COST = Path(os.environ.get("TUI_COST", ROOT.parent / "shared" / "tools" / "tui-cost"))


def measure(command: list[str], size: str, seconds: int,
            warmup: int = 8) -> tuple[float, float, float]:
    out = subprocess.run([sys.executable, str(TUI_COST), "--size", size, "--warmup", str(warmup),
                          "--seconds", str(seconds), "--", *command],
                         capture_output=True, text=True, check=True).stdout
    cpu = float(re.search(r"cpu_pct=([\d.]+)", out).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"bytes_per_s=([\d.]+)", out).group(1))  # type: ignore[union-attr]
    rss = float(re.search(r"rss_mb=([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return cpu, rate, rss


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, backend: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or backend.poll() is not None:
                sys.exit("the simulated backend did not start")
            time.sleep(0.05)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--baseline", help="a directory holding another sbtop package, run beside")
    ap.add_argument("--plan", action="store_true",
                    help="sbtop demo with and without the deploy window showing")
    args = ap.parse_args()
    if not TUI_COST.exists():
        sys.exit(f"tui-cost not found at {TUI_COST} (set TUI_COST)")
    compileall.compile_dir(str(ROOT / "sbtop"), quiet=1)  # as an installed package is
    sbtop = str(Path(sys.executable).with_name("sbtop"))
    if args.plan:
        plan_rows(sbtop, args.seconds)
        return
    port = free_port()
    backend = subprocess.Popen([sbtop, "demo", "--serve", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, backend)
        runs = [
            ("sbtop --url (backend apart)", [sbtop, "--url", f"http://127.0.0.1:{port}"],
             "120x40"),
            ("Textual, one static line", [sys.executable, str(ROOT / "bench" / "static_line.py")],
             "120x40"),
            ("sbtop demo", [sbtop, "demo"], "120x40"),
            ("sbtop demo", [sbtop, "demo"], "80x24"),
            ("naive Textual dashboard",
             [sys.executable, str(ROOT / "bench" / "naive_dashboard.py")],
             "120x40"),
        ]
        if args.baseline:
            compileall.compile_dir(str(Path(args.baseline) / "sbtop"), quiet=1)
            runs.insert(1, ("sbtop --url, baseline",
                            ["env", f"PYTHONPATH={Path(args.baseline).resolve()}", sbtop,
                             "--url", f"http://127.0.0.1:{port}"], "120x40"))
        htop = shutil.which("htop")
        if htop:
            runs.insert(2, ("htop (1 s refresh)", [htop, "-d", "10"], "120x40"))
        print(f"{'program':<30}{'size':>8}{'CPU %':>9}{'bytes/s':>10}{'RSS MB':>9}")
        for label, command, size in runs:
            cpu, rate, rss = measure(command, size, args.seconds)
            print(f"{label:<30}{size:>8}{cpu:>9.2f}{rate:>10.0f}{rss:>9.1f}", flush=True)
    finally:
        backend.terminate()
        backend.wait()
    print("goal for sbtop --url: CPU <= 3x the static line's, <= 1.5 KB/s, RSS <= 50 MB")


def plan_rows(sbtop: str, seconds: int) -> None:
    keys = str(ROOT / "bench" / "plan_keys.sh")
    print(f"{'sbtop demo, 120x40':<52}{'CPU %':>7}{'bytes/s':>10}{'RSS MB':>9}")
    for label, mode in (("the main screen, the pre-flight open", "main"),
                        ("the main screen, phase 1 watched (header counting)", "watch"),
                        ("the Plan view open, phase 1 watched", "plan")):
        with tempfile.TemporaryDirectory(prefix="sbtop-cost-") as state:
            cpu, rate, rss = measure([keys, mode, sbtop, "demo", "--state-dir", state],
                                     "120x40", seconds, warmup=5)
        print(f"{label:<52}{cpu:>7.2f}{rate:>10.0f}{rss:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
