"""The checks a recording's file and lines pass before anything in them is used: a recording is a
file anyone may have handed over. The file must be a regular one sbtop can read; a line must be
JSON sbtop writes (finite numbers, every string made safe to show), its times ones a clock could
show, the canary's state as --record writes it. What fails is said in one short line.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from sbtop import untrusted
from sbtop.engine.wellformed import MAX_TIME, Malformed, shown
from sbtop.recording.writer import RecordingError


def open_file(path: Path) -> int:
    try:
        # Non-blocking: a FIFO named as a recording must not hold sbtop until a writer comes.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise RecordingError(f"{path}: no such file") from None
    except PermissionError:
        raise RecordingError(f"{path}: not readable (permission denied)") from None
    except OSError as e:
        raise RecordingError(f"{path}: cannot read: {e.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise RecordingError(f"{path}: is a directory" if stat.S_ISDIR(mode) else
                             f"{path}: not a regular file (a recording is read from a file)")
    return fd


def time(value: Any, name: str) -> float:
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not 0 <= value <= MAX_TIME):
        raise Malformed(f"{name} is {shown(value)}, not a time a clock could show")
    return float(value)


def canary(value: Any) -> dict[str, Any]:
    """The canary's state as the console's --record writes it, checked; nothing else kept."""
    if not isinstance(value, dict):
        raise Malformed(f"c is {shown(value)}, not an object")
    percent, since = value.get("percent"), value.get("step_started_wall")
    base, error = value.get("baseline_p95_ms"), value.get("read_error")
    if percent is not None and (isinstance(percent, bool) or not isinstance(percent, int)
                                or not 0 <= percent <= 100):
        raise Malformed(f"c.percent is {shown(percent)}, not a percentage")
    if since is not None:
        time(since, "c.step_started_wall")
    if base is not None and (isinstance(base, bool) or not isinstance(base, int | float)
                             or base < 0):
        raise Malformed(f"c.baseline_p95_ms is {shown(base)}, not a latency")
    if error is not None and not isinstance(error, str):
        raise Malformed(f"c.read_error is {shown(error)}, not text")
    return {"percent": percent, "step_started_wall": since, "baseline_p95_ms": base,
            "read_error": error}


def reason(e: BaseException) -> str:
    text = str(e).split("\n", 1)[0]
    return untrusted.line(f"{type(e).__name__}: {text}" if text else type(e).__name__, 90)
