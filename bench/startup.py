"""Benchmark: how long the console takes to start, measured from the terminal's side.

    python bench/startup.py [--runs 5] [--size 120x40]

Each program is started in a detached tmux pane of the given size (a shell notes the time and
execs it); the pane's text is read every 10 ms until the first frame (header and panels), the
first full screen (the footer's keys too, which Textual's own footer composed a few frames
later) and the first figures (the latency panel showing a p95) are on it. Programs,
in the same run: a Textual app showing one static line (the floor: what any Textual program
takes to put something on the screen), `sbtop demo` (the simulated backend in the same
process), and `sbtop --url` against the simulated backend started beforehand in another
process (`sbtop demo --serve`). Medians of the runs; figures, not pass/fail. The goal: a full
screen within 0.5 s.

`--baseline DIR` adds both sbtop rows again with the sbtop package found in DIR (say, an older
commit's: `git archive COMMIT sbtop | tar -x -C DIR`), interleaved in the same run.

The sources are compiled to bytecode first (as an installed package is), so the figures do
not count Python compiling sbtop's modules on every start.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLL_S = 0.01
TIMEOUT_S = 20.0

Probe = Callable[[str], bool]
Run = tuple[float, float, float]


def sbtop_first(screen: str) -> bool:
    """The first frame: the header and the panels (the footer's keys may come later)."""
    return all(s in screen for s in (" sbtop ", "Latency", "Routes"))


def sbtop_full(screen: str) -> bool:
    """Header, the panels' titles and the footer: the whole layout is on the screen."""
    return all(s in screen for s in (" sbtop ", "Latency", "Routes", "Quit"))


def sbtop_figures(screen: str) -> bool:
    return re.search(r"p95 [\d.,]+ ms", screen) is not None


def floor_drawn(screen: str) -> bool:
    return "one static line" in screen


def one_run(command: list[str], size: str, first: Probe, full: Probe, figures: Probe
            ) -> tuple[float, float, float]:
    """Seconds from the exec to the first frame, the first full screen and the first figures."""
    cols, rows = size.split("x")
    sock = f"sbtop-startup-{os.getpid()}-{time.monotonic_ns()}"  # a fresh server each run
    tmux = ["tmux", "-L", sock]
    with tempfile.TemporaryDirectory() as tmp:
        stamp = Path(tmp) / "t0"
        inner = (f"date +%s.%N > {shlex.quote(str(stamp))}; "
                 f"exec env TERM=xterm-256color {shlex.join(command)}")
        subprocess.run([*tmux, "new-session", "-d", "-s", "m", "-x", cols, "-y", rows,
                        "sh -c " + shlex.quote(inner)], check=True)
        try:
            t_first = t_full = t_fig = None
            deadline = time.time() + TIMEOUT_S
            while time.time() < deadline and (t_full is None or t_fig is None):
                screen = subprocess.run([*tmux, "capture-pane", "-p", "-t", "m"],
                                        capture_output=True, text=True, check=False).stdout
                now = time.time()
                if t_first is None and first(screen):
                    t_first = now
                if t_full is None and full(screen):
                    t_full = now
                if t_fig is None and figures(screen):
                    t_fig = now
                time.sleep(POLL_S)
            if t_first is None or t_full is None or t_fig is None:
                raise SystemExit(f"{shlex.join(command)}: no full screen within {TIMEOUT_S}s:\n"
                                 f"{screen}")
            t0 = float(stamp.read_text())
            return t_first - t0, t_full - t0, t_fig - t0
        finally:
            subprocess.run([*tmux, "kill-server"], capture_output=True, check=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size", default="120x40")
    ap.add_argument("--baseline", help="a directory holding another sbtop package, run beside")
    args = ap.parse_args()
    compileall.compile_dir(str(ROOT / "sbtop"), quiet=1)
    if args.baseline:
        compileall.compile_dir(str(Path(args.baseline) / "sbtop"), quiet=1)
    sbtop = str(Path(sys.executable).with_name("sbtop"))
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    backend = subprocess.Popen([sbtop, "demo", "--serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 20
        while True:  # the backend answers before the console is timed against it
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or backend.poll() is not None:
                    raise SystemExit("the simulated backend did not start") from None
                time.sleep(0.05)
        sbtop_probes = (sbtop_first, sbtop_full, sbtop_figures)
        programs: list[tuple[str, list[str], tuple[Probe, Probe, Probe]]] = [
            ("Textual, one static line", [sys.executable, str(ROOT / "bench" / "static_line.py")],
             (floor_drawn, floor_drawn, floor_drawn)),
            ("sbtop demo", [sbtop, "demo"], sbtop_probes),
            ("sbtop --url (backend apart)", [sbtop, "--url", f"http://127.0.0.1:{port}"],
             sbtop_probes),
        ]
        if args.baseline:
            before = ["env", f"PYTHONPATH={Path(args.baseline).resolve()}"]
            programs += [
                ("sbtop demo, baseline", [*before, sbtop, "demo"], sbtop_probes),
                ("sbtop --url, baseline", [*before, sbtop, "--url", f"http://127.0.0.1:{port}"],
                 sbtop_probes),
            ]
        results: dict[str, list[Run]] = {label: [] for label, *_ in programs}
        for _ in range(args.runs):  # interleaved: a busy moment falls on every program alike
            for label, command, probes in programs:
                results[label].append(one_run(command, args.size, *probes))
    finally:
        backend.terminate()
        backend.wait()
    print(f"{args.runs} runs at {args.size}, medians (min-max)")
    print(f"{'program':<30}{'first frame s':>22}{'full screen s':>22}{'first figures s':>22}")
    for label, runs in results.items():
        cols = []
        for i in (0, 1, 2):
            xs = [r[i] for r in runs]
            cols.append(f"{statistics.median(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})")
        print(f"{label:<30}{cols[0]:>22}{cols[1]:>22}{cols[2]:>22}")
    print("goal: a full screen within 0.5 s")


if __name__ == "__main__":
    main()
