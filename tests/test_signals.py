"""Long shifts: the terminal resized again and again, a suspension, a hang-up, SIGTERM. The
real `sbtop` in real terminals (tmux, on a server of its own), and the refresh's timing.

A hang-up is the SSH session dying: tmux's session is killed, so the terminal sbtop draws on
is gone. The pane runs a stand-in for the login shell: it passes the SIGHUP on to its job as
bash does (or not: then sbtop only finds the terminal dead) and notes how the job ended.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sbtop import record
from sbtop.actions.state import StateStore
from sbtop.clock import Clock, next_due
from sbtop.commands.targets import demo_target
from sbtop.console.app import SbtopApp
from sbtop.demo.backend import SimulatedBackend
from sbtop.recording.reader import Recording
from sbtop.session.live import LiveSession
from tests import procs
from tests.cli import run_sbtop
from tests.procs import alive, descendants
from tests.tmux import Pane
from tests.waiting import until

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow

if shutil.which("tmux") is None:  # pragma: no cover - the project's machines have it
    pytest.fail("tmux is required for the end-to-end tests (apt-get install tmux)")

SBTOP = Path(sys.executable).with_name("sbtop")

# The login shell's stand-in: runs sbtop as its job, passes a SIGHUP on (or not), and writes
# how the job ended: its exit status, or minus the signal that killed it.
LOGIN_SHELL = """
import os, signal, subprocess, sys
status, pid, forward, *argv = sys.argv[1:]
job = subprocess.Popen(argv)
with open(pid, "w") as f:
    f.write(str(job.pid))
def hang_up(signum, frame):
    if forward == "yes":
        job.send_signal(signal.SIGHUP)
signal.signal(signal.SIGHUP, hang_up)
code = job.wait()
with open(status + ".tmp", "w") as f:
    f.write(str(code))
os.replace(status + ".tmp", status)
"""


@pytest.fixture
def terminals() -> Iterator[list[Pane]]:
    made: list[Pane] = []
    try:
        yield made
    finally:
        for t in made:
            t.close()


# --- processes --------------------------------------------------------------------------------

def state(pid: int) -> str:
    """The process's state letter (T: stopped), "" when it is gone."""
    p = procs.stat(pid)
    return p.state if p is not None else ""


def state_of(pid: int) -> str:
    return "alive" if alive(pid) else "gone"


def read_pid(path: Path) -> int:
    until(lambda: path.exists() and path.read_text().strip(), 10, f"{path} written")
    return int(path.read_text())


def listening(screen: str) -> int:
    """The demo backend's port, from the header's URL."""
    start = screen.index("http://127.0.0.1:") + len("http://127.0.0.1:")
    return int(screen[start:].split(maxsplit=1)[0].rstrip("/"))


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return True
    return False


def in_shell(command: str, pid_file: Path) -> str:
    """A pane running command as a process whose pid is written first, then the shell says how
    it ended and stays, so the screen can be read afterwards."""
    return (f"sh -c 'echo $$ > {pid_file}; exec {command}'; echo sbtop-exited-$?; sleep 60")


# --- the console in a terminal ----------------------------------------------------------------

def test_resized_many_times_suspended_resumed_then_sigterm(terminals: list[Pane],
                                                          tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    term = Pane(in_shell(f"{SBTOP} demo", pid_file), size=(100, 30))
    terminals.append(term)
    pid = read_pid(pid_file)
    term.wait_for("health HTTP 200 OK")
    for _ in range(3):
        for width, height in ((80, 24), (120, 40), (60, 20), (200, 60), (100, 30)):
            term.resize(width, height)
            time.sleep(0.15)

    def drawn_for_100x30() -> bool:  # header on top, footer at the bottom, borders full width
        lines = term.text().split("\n")
        return (len(lines) >= 30 and lines[0].startswith(" sbtop") and "q Quit" in lines[29]
                and any(len(line) == 100 and line.endswith("╮") for line in lines))

    try:
        until(drawn_for_100x30, 15, "redrawn for the last size")
    except AssertionError:
        raise AssertionError("not redrawn for 100x30; the screen was:\n" + term.text()) from None
    screen = term.text()
    for title in ("Latency", "Traffic & errors", "Sockets & memory", "Alerts", "Routes by"):
        assert title in screen
    assert "Traceback" not in screen

    os.kill(pid, signal.SIGTSTP)
    until(lambda: state(pid) == "T", 15, "stopped by SIGTSTP")
    time.sleep(1.5)  # long enough for the next tick to be overdue when it resumes
    os.kill(pid, signal.SIGCONT)
    until(lambda: state(pid) not in ("T", ""), 15, "running again after SIGCONT")
    before = term.wait_for("q Quit")  # all of it repainted, the footer too
    assert "Latency" in before and "Routes by" in before
    until(lambda: term.text() != before, 15, "the figures update after the resume")
    assert "Traceback" not in term.text()

    os.kill(pid, signal.SIGTERM)
    screen = term.wait_for("sbtop-exited-")
    assert "sbtop-exited-143" in screen and "Traceback" not in screen
    assert "Latency" not in screen  # the terminal is given back: the shell's screen again
    until(lambda: not alive(pid), 20, "sbtop gone after SIGTERM")


@pytest.mark.parametrize("forward", ["yes", "no"], ids=["sighup", "dead-terminal-only"])
def test_a_hang_up_ends_it_at_once_cleanly_and_leaves_nothing_behind(
        terminals: list[Pane], tmp_path: Path, forward: str) -> None:
    shell = tmp_path / "login_shell.py"
    shell.write_text(LOGIN_SHELL)
    status, pid_file, recording = tmp_path / "status", tmp_path / "pid", tmp_path / "shift.sbrec"
    term = Pane(f"{sys.executable} {shell} {status} {pid_file} {forward} "
                f"{SBTOP} demo --record {recording}", size=(100, 30))
    terminals.append(term)
    pid = read_pid(pid_file)
    screen = term.wait_for("health HTTP 200 OK")
    port = listening(screen)
    # Two ticks taken (and so recorded): a rate is on screen only once a second scrape is in.
    until(lambda: re.search(r"\d+\.\d/s req", term.text()), 30, "a second tick shown")
    family = descendants(pid)

    term.hang_up()
    took = until(status.exists, 20, "sbtop ended after the hang-up")
    # Passed on by the shell, SIGHUP ends it at once; without it, sbtop notices the dead
    # terminal at its next redraw (within one refresh). Either way it ends by itself, well
    # before the exit watchdog's 10 s would end it (a busy machine stretches "at once").
    assert took < 9.0
    assert status.read_text() == "129"  # exited 128 + SIGHUP, cleanly (not killed by it)
    until(lambda: not alive(pid), 20, "the sbtop process gone")
    assert not [p for p in family if alive(p)]
    assert refused(port)  # the demo's backend stopped with it
    rec = Recording(recording)
    assert len(rec) >= 2 and rec.problem is None


# --- a main thread caught in the middle -------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def wedgeable(tmp_path: Path, deadline_s: float = 2.0) -> tuple[Pane, int]:
    """The console of tests/wedged_console.py in a terminal, drawn and collecting; its pid."""
    pid_file = tmp_path / "pid"
    term = Pane(in_shell(f"{sys.executable} -m tests.wedged_console {deadline_s}", pid_file),
                size=(100, 30), env={"PYTHONPATH": str(ROOT)})
    return term, read_pid(pid_file)


def test_sigtstp_while_the_main_thread_holds_the_terminal_queue_suspends_and_resumes(
        terminals: list[Pane], tmp_path: Path) -> None:
    # Suspended inside the signal handler, the console wrote to the writer thread's queue
    # while its own thread held the queue's lock: wedged for good, deaf even to SIGTERM.
    term, pid = wedgeable(tmp_path)
    terminals.append(term)
    term.wait_for("health HTTP 200 OK")
    term.keys("w")
    until(lambda: state(pid) == "T", 20, "stopped by the SIGTSTP sent under the lock")
    os.kill(pid, signal.SIGCONT)
    until(lambda: state(pid) not in ("T", ""), 20, "running again after SIGCONT")
    before = term.wait_for("q Quit")  # all of it repainted, the footer too
    until(lambda: term.text() != before, 20, "the figures update after the resume")
    term.keys("q")
    assert "sbtop-exited-0" in term.wait_for("sbtop-exited-")


def test_sigterm_ends_a_console_whose_event_loop_is_wedged(terminals: list[Pane],
                                                          tmp_path: Path) -> None:
    # The orderly stop runs on the loop; the watchdog that ends the process should the stop
    # hang is armed by the signal handler itself, so a loop that never runs again is no
    # reason to stay (the deadline is 2 s here, 10 s in sbtop).
    term, pid = wedgeable(tmp_path, deadline_s=2.0)
    terminals.append(term)
    term.wait_for("health HTTP 200 OK")
    term.keys("h")
    until(lambda: state(pid) == "S" and "Latency" in term.text(), 20, "wedged")
    os.kill(pid, signal.SIGTERM)
    assert "sbtop-exited-143" in term.wait_for("sbtop-exited-", timeout=30)
    until(lambda: not alive(pid), 10, "the wedged console gone")


STUBBORN = """
trap '' HUP
echo $$ >> "$1"
setsid sh -c 'echo $$ >> "$0"; exec sleep 300' "$1" &
sleep 300 &
echo $! >> "$1"
kill -STOP $!
wait
"""


def test_closing_a_terminal_ends_everything_it_started(tmp_path: Path) -> None:
    # What a test runs in a terminal must not outlive it, even when it ignores the hang-up,
    # is stopped, or has left the terminal's session.
    script, pids = tmp_path / "stubborn.sh", tmp_path / "pids"
    script.write_text(STUBBORN)
    term = Pane(f"sh {script} {pids}")
    try:
        until(lambda: pids.exists() and len(pids.read_text().split()) == 3, 20,
                   "three processes started")
        started = [int(x) for x in pids.read_text().split()]
        assert all(alive(p) for p in started)
    finally:
        term.close()
    assert not [p for p in started if alive(p)]


# --- an action in flight at a hang-up ---------------------------------------------------------

DEPLOY = """#!/bin/sh
# A deploy command: 25 % takes its time (the SSH session dies meanwhile).
echo $$ > "$1/deploy.pid"
if [ "$2" = 25 ]; then sh -c 'echo $$ > "$0/sleep.pid"; exec sleep 60' "$1"; fi
echo "$2" > "$1/flag"
echo "flag set to $2"
"""


@pytest.fixture
def backend() -> Iterator[SimulatedBackend]:
    b = SimulatedBackend(port=0).start()
    try:
        yield b
    finally:
        b.stop()


def test_a_hang_up_during_a_command_action_keeps_the_state_and_stops_the_command(
        terminals: list[Pane], tmp_path: Path, backend: SimulatedBackend) -> None:
    work, state = tmp_path / "deploy", tmp_path / "state"
    work.mkdir()
    (work / "flag").write_text("0\n")
    script = work / "set-flag.sh"
    script.write_text(DEPLOY)
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"""
[targets.x]
base_url = "{backend.url}"
production = false
memory_limit_mb = 512

[targets.x.actions]
provider = "command"

[targets.x.actions.command]
canary = ["sh", "{script}", "{work}", "{{percent}}"]
read_flag = ["cat", "{work / 'flag'}"]
timeout_s = 120.0
""")
    r = run_sbtop("canary", "next", "--yes", "--force", "--window", "1", "--config", str(cfg),
                  "--target", "x", "--state-dir", str(state))
    assert r.returncode == 0, r.stdout + r.stderr
    store = StateStore(state, "x")
    assert store.load().canary.percent == 5

    pid_file = tmp_path / "pid"
    term = Pane(in_shell(f"{SBTOP} --config {cfg} --target x --state-dir {state}",
                         pid_file), size=(120, 40))
    terminals.append(term)
    pid = read_pid(pid_file)
    term.wait_for("flag 5%")
    term.wait_for("health HTTP 200 OK")
    (work / "deploy.pid").unlink()
    term.keys("c")
    term.wait_for("Type the target's name")  # 5 -> 25 before the soak: an override
    term.keys("x", "Enter")
    sleep_pid = read_pid(work / "sleep.pid")  # the command is running, its child too
    deploy_pid = read_pid(work / "deploy.pid")
    assert alive(sleep_pid) and alive(deploy_pid)
    assert store.load().in_flight is not None

    os.kill(pid, signal.SIGHUP)
    # Bounded by the 1 s grace the command gets; generous deadlines for a busy machine.
    screen = term.wait_for("sbtop-exited-", timeout=20)
    assert "sbtop-exited-129" in screen and "Traceback" not in screen
    until(lambda: not alive(pid), 20, "sbtop gone")
    audit_now = (state / "audit.jsonl").read_text()[-600:]
    until(lambda: not alive(deploy_pid) and not alive(sleep_pid), 20,
               f"the command and its child stopped (deploy {state_of(deploy_pid)}, sleep "
               f"{state_of(sleep_pid)}; the audit ends {audit_now!r})")

    raw = json.loads(store.path.read_text())  # whole, and still JSON
    assert raw["canary"]["percent"] == 5 and raw["in_flight"] is None
    loaded = store.load()
    assert store.problem == "" and loaded.canary.percent == 5 and loaded.in_flight is None
    entries = [json.loads(x) for x in (state / "audit.jsonl").read_text().splitlines()]
    last = entries[-1]
    assert last["action"] == "canary next" and last["result"].startswith("interrupted")
    assert (work / "flag").read_text() == "5\n"  # the command never got to set 25


# --- no drift in the refresh ------------------------------------------------------------------

def test_the_next_tick_stays_on_the_grid_over_an_eight_hour_shift() -> None:
    due, now, ticks = 0.0, 0.0, []
    for _ in range(8 * 3600):
        now = max(now, due) + 0.001  # every timer fires a millisecond late
        ticks.append(now)
        due = next_due(due, 1.0, now)
    # Waiting what is left of the interval after each tick drifts by the lateness every
    # time (28.8 s over the shift); on the grid, the last tick is as late as the first.
    assert abs(ticks[-1] - (len(ticks) - 1) - 0.001) < 1e-6
    # A suspension of 10 s: one tick on resuming, then a new grid from there, no burst.
    due, now = 100.0, 110.5
    due = next_due(due, 1.0, now)
    assert due == now
    assert next_due(due, 1.0, now + 0.01) == now + 1.0
    # A tick half an interval late is caught up once, and the grid kept.
    assert next_due(100.0, 1.0, 101.5) == 101.0


class FastClock(Clock):
    """Runs 5 % fast: every wait ends, as this clock measures it, 5 % of its length late: a
    deterministic stand-in for timers that always fire a little late."""

    RATE = 1.05

    def __init__(self) -> None:
        self.t0, self.w0 = time.monotonic(), time.time()

    def now(self) -> tuple[float, float]:
        ahead = (time.monotonic() - self.t0) * self.RATE
        return self.t0 + ahead, self.w0 + ahead


def _drift(times: list[float], refresh: float) -> float:
    """How much later than the grid (the first tick + n x refresh) the last ticks are than the
    first ones: what drift makes grow with every tick. Medians of four: one tick the event
    loop was slow to start is noise, not drift."""
    # Each against its own slot on the grid: a tick skipped on a busy machine (its slot gone
    # by) moves the next ones a whole slot, which is not drift.
    offsets = [t - times[0] - round((t - times[0]) / refresh) * refresh for t in times]
    return statistics.median(offsets[-4:]) - statistics.median(offsets[1:5])


# Waiting the rest of each interval after a tick, the late wake-ups add up: 5 % of 0.25 s a
# tick, 0.3 s over 24 ticks. On the grid the last ticks are as late as the first: a busy
# machine's noise (a few late ticks, medians of four) stays well under the bound.
DRIFT_BOUND_S = 0.1


def test_sbtop_record_ticks_do_not_drift(tmp_path: Path, backend: SimulatedBackend) -> None:
    refresh, path = 0.25, tmp_path / "grid.sbrec"
    summary = asyncio.run(record.run(demo_target(backend.url), path, for_s=6.0,
                                     refresh_s=refresh, max_bytes=10**7, clock=FastClock()))
    # Due at 0, 0.25 ... 5.75: the one due at --for is never taken. On a busy machine a tick
    # whose slot has passed is skipped, not squeezed in (the grid, not drift): fewer is
    # scheduling, more would be a bug.
    assert 20 <= summary.ticks <= 24
    rec = Recording(path)
    # The observation's time: the tick's start plus the scrape (a few ms on loopback).
    drift = _drift([rec.assessment(i).t for i in range(len(rec))], refresh)
    assert abs(drift) < DRIFT_BOUND_S, drift


async def test_the_console_ticks_do_not_drift(backend: SimulatedBackend) -> None:
    refresh, clock = 0.25, FastClock()
    session = LiveSession(demo_target(backend.url), clock=clock, refresh_s=refresh,
                          read_only=True)
    app = SbtopApp(session)
    starts: list[float] = []
    tick = session.tick

    async def timed() -> Any:
        starts.append(clock.now()[0])
        return await tick()

    session.tick = timed  # type: ignore[method-assign]
    async with app.run_test(size=(100, 30)):
        deadline = time.monotonic() + 60
        while len(starts) < 24:
            assert time.monotonic() < deadline, starts
            await asyncio.sleep(0.25)
    drift = _drift(starts[:24], refresh)
    assert abs(drift) < DRIFT_BOUND_S, drift
