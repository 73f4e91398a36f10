"""What must survive an SSH drop: the canary step, when it began, the baseline, the action in
flight. One JSON file per target in the state directory, replaced atomically (write, fsync,
rename); a lock file beside it keeps two sbtops from acting on one target at once."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def default_state_dir(explicit: str | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("SBTOP_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "sbtop"


@dataclass
class CanaryState:
    percent: int | None = None  # as last read from the provider (None: never read)
    step_started_wall: float | None = None  # when the current step went live
    baseline: dict[str, float | None] = field(default_factory=dict)
    baseline_wall: float | None = None
    # Why the flag could not be read last time; then the step is unknown, not assumed.
    read_error: str | None = None


@dataclass
class TargetState:
    canary: CanaryState = field(default_factory=CanaryState)
    # The action running now, if any: {"action", "started_wall", "pid", "host"}.
    in_flight: dict[str, Any] | None = None
    # Deploys a rollback went back to: never a later rollback's target (it would go nowhere).
    rollback_skip: list[str] = field(default_factory=list)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


class StateStore:
    def __init__(self, directory: Path, target: str) -> None:
        self.dir = directory
        self.path = directory / f"state-{_safe(target)}.json"
        self.lock_path = directory / f"lock-{_safe(target)}"
        self.problem = ""

    def load(self) -> TargetState:
        """The saved state; a field of the wrong type (a hand edit, a torn write) reads as
        unknown rather than stopping sbtop, and `problem` says what was dropped."""
        self.problem = ""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return TargetState()
        except (OSError, ValueError) as e:
            self.problem = f"{self.path}: unreadable ({type(e).__name__}); starting afresh"
            return TargetState()
        if not isinstance(data, dict):
            self.problem = f"{self.path}: not a JSON object; starting afresh"
            return TargetState()
        found = data.get("canary")
        raw: dict[str, Any] = found if isinstance(found, dict) else {}
        canary = CanaryState()
        bad = []
        for name, kinds in (("percent", (int,)), ("step_started_wall", (int, float)),
                            ("baseline_wall", (int, float)), ("baseline", (dict,)),
                            ("read_error", (str,))):
            value = raw.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, kinds):
                bad.append(name)
                continue
            setattr(canary, name, value)
        if canary.baseline and not all(
                v is None or (isinstance(v, int | float) and not isinstance(v, bool))
                for v in canary.baseline.values()):
            bad.append("baseline")
            canary.baseline = {}
        in_flight = data.get("in_flight")
        if in_flight is not None and not isinstance(in_flight, dict):
            bad.append("in_flight")
            in_flight = None
        skip = data.get("rollback_skip") or []
        if not isinstance(skip, list) or not all(isinstance(x, str) for x in skip):
            bad.append("rollback_skip")
            skip = []
        if bad:
            self.problem = f"{self.path}: ignored {', '.join(bad)} (wrong type)"
        return TargetState(canary=canary, in_flight=in_flight, rollback_skip=skip)

    def save(self, state: TargetState) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(asdict(state), f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    @contextlib.contextmanager
    def locked(self, action: str) -> Iterator[None]:
        """Hold the target's lock for one action; LockedError names who holds it."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        held = False
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 4096, 0).decode(errors="replace").strip()
                raise LockedError(holder or "another sbtop") from None
            held = True
            info = json.dumps({"action": action, "pid": os.getpid(),
                               "host": socket.gethostname(), "since": time.time()})
            os.ftruncate(fd, 0)
            os.pwrite(fd, info.encode(), 0)
            yield
        finally:
            if held:  # only the holder clears who holds it
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
            os.close(fd)  # closing releases the flock


class LockedError(Exception):
    """Another sbtop is acting on this target."""
