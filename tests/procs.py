"""Processes as /proc shows them: alive or not, whose child, which session; and ending a set of
them for good. A process is known by its pid and its start time, so a pid the kernel has given
to someone else since is never mistaken for it (nor killed)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Proc:
    pid: int
    state: str
    parent: int
    session: int
    started: int  # clock ticks after boot: with the pid, who this is


def stat(pid: int) -> Proc | None:
    """The process, None when there is none (a zombie counts as none)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # The name, in parentheses, may hold anything: the fields start after its last ')'.
    fields = raw[raw.rfind(b")") + 2:].split()
    state = fields[0].decode()
    if state in ("Z", "X"):
        return None
    return Proc(pid, state, int(fields[1]), int(fields[3]), int(fields[19]))


def alive(pid: int) -> bool:
    return stat(pid) is not None


def everyone() -> list[Proc]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (p := stat(int(entry.name))) is not None:
            found.append(p)
    return found


def descendants(pid: int) -> set[int]:
    parents = {p.pid: p.parent for p in everyone()}
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def family(pids: set[int], sessions: frozenset[int] = frozenset()) -> set[Proc]:
    """The processes pids, every process descended from one, and every process in one of
    sessions or in a session one of pids leads (a process whose parent died is no longer
    linked to it, but stays in its session unless it left it)."""
    procs = everyone()
    parents = {p.pid: p.parent for p in procs}
    found = set(pids)
    frontier = set(pids)
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return {p for p in procs if p.pid in found or p.session in pids | sessions}


def still_there(procs: set[Proc]) -> set[Proc]:
    """Those of procs still running: the same pid, started at the same time."""
    return {p for p in procs if (now := stat(p.pid)) is not None and now.started == p.started}


def wait_gone(procs: set[Proc], timeout: float) -> set[Proc]:
    """Waits up to timeout for procs to end; those still running."""
    deadline = time.monotonic() + timeout
    left = still_there(procs)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = still_there(left)
    return left


def kill_all(procs: set[Proc], sessions: frozenset[int], grace: float) -> set[Proc]:
    """Gives procs grace seconds to end by themselves, then kills with SIGKILL (a stopped
    process too) what is left of them, what they started meanwhile and whatever is still in
    sessions. Returns those that even SIGKILL did not end within 10 s (none, short of a process
    stuck in the kernel)."""
    left = wait_gone(procs, grace)
    left = still_there(left | family({p.pid for p in left}, sessions))
    for p in left:
        with contextlib.suppress(OSError):
            os.kill(p.pid, signal.SIGKILL)
    return wait_gone(left, 10.0)
