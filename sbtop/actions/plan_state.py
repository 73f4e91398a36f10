"""The deploy window's record (sbtop.engine.window.PlanState), kept beside the canary's state:
one JSON file per target in the state directory (plan-TARGET.json), checked, opened and
replaced exactly as the canary's (sbtop.actions.state: no links followed, written to an
unguessable temporary file, fsynced, renamed), and changed only under the target's one lock,
the same lock the canary, restart and rollback take. So `sbtop plan` on the command line and
the console agree, two sbtops never act at once, and a dropped SSH link loses nothing."""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import msgspec

from sbtop.actions.state import (
    StateDirError,
    StateStore,
    open_file,
    prepare_dir,
    read_record,
    safe_name,
    shared_group,
    write_record,
)
from sbtop.engine.window import ItemRecord, PhaseRecord, PlanState, Reset


class PlanStore:
    def __init__(self, directory: Path, target: str, *, create: bool = True) -> None:
        self.dir = directory
        # False for a read-only look: no directory is made where none is (nothing to read).
        self.create = create
        self.path = directory / f"plan-{safe_name(target)}.json"
        self.lock = StateStore(directory, target)  # the target's one lock
        self.problem = ""
        self._file_mode: int | None = None
        self.kept: Path | None = None  # where an unreadable record was kept aside
        # The last load found the file unreadable: the next save keeps it aside first (it is
        # the window's record: who passed what, the overrides), never writes over it.
        self._damaged = False

    def _ready(self) -> int:
        if self._file_mode is None:
            self._file_mode = prepare_dir(self.dir, shared_group())
        return self._file_mode

    def check(self) -> None:
        """The directory is safe, and where the plan's file goes is no link (StateDirError)."""
        if not self.create and not self.dir.exists():
            return
        mode = self._ready()
        try:
            os.close(open_file(self.path, os.O_RDONLY, mode))
        except FileNotFoundError:
            pass
        except OSError as e:
            raise StateDirError(f"{self.path}: cannot open: {e.strerror}") from None
        self.lock.check()

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> PlanState:
        """The saved record. A phase or item of the wrong shape (a hand edit, a team mate's
        older sbtop) is dropped alone, read as never done, and named in `problem`."""
        if not self.create and not self.path.exists():
            return PlanState()
        data, self.problem = read_record(self.path, self._ready())
        self._damaged = data is None and bool(self.problem)
        if data is None:
            if self._damaged:
                self.problem += (f" (kept aside as {self.path.stem}.damaged.<UTC time>.json at "
                                 "the next change, never written over)")
            return PlanState()
        bad: list[str] = []
        phases = _each(data.get("phases"), PhaseRecord, "phases", bad)
        items = _each(data.get("preflight"), ItemRecord, "preflight", bad)
        reset = None
        if data.get("reset") is not None:
            try:
                reset = msgspec.convert(data["reset"], Reset)
            except msgspec.ValidationError:
                bad.append("reset")
            if reset is not None and not _sane(data["reset"]):
                reset = None
                bad.append("reset")
        if bad:
            self.problem = f"{self.path}: ignored {', '.join(bad)} (wrong type or value)"
        return PlanState(phases, items, reset)

    def save(self, state: PlanState) -> None:
        """Call under the lock."""
        if self._damaged and self.exists() and read_record(self.path, self._ready())[1]:
            self.kept = self.archive(time.time(), "damaged")
        self._damaged = False
        write_record(self.path, self._ready(), asdict(state), "the plan", allow_nan=False)

    def archive(self, now_wall: float, why: str = "") -> Path:
        """The record moved aside, beside it (plan-TARGET.<UTC time>.json, or
        plan-TARGET.<why>.<UTC time>.json), never over another archive and never deleted;
        call under the lock."""
        self._ready()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now_wall))
        stem = f"{self.path.stem}.{why}" if why else self.path.stem
        for n in range(1, 100):
            dest = self.dir / f"{stem}.{stamp}{'' if n == 1 else f'-{n}'}.json"
            try:
                os.link(self.path, dest, follow_symlinks=False)
            except FileExistsError:
                continue  # two resets in one second: the next name
            except OSError as e:
                raise StateDirError(f"{dest}: cannot archive the plan: {e.strerror}") from None
            os.unlink(self.path)
            return dest
        raise StateDirError(f"{self.dir}: too many archives of {self.path.name} at {stamp}")

    @contextlib.contextmanager
    def locked(self, action: str) -> Iterator[None]:
        """The target's lock (LockedError names who holds it)."""
        with self.lock.locked(action):
            yield


def _each(found: Any, kind: type[Any], where: str, bad: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if found is None:
        return out
    if not isinstance(found, dict):
        bad.append(where)
        return out
    for name, raw in found.items():
        try:
            out[str(name)] = msgspec.convert(raw, kind)
        except msgspec.ValidationError:
            bad.append(f"{where}.{name}")
            continue
        if not _sane(raw):
            del out[str(name)]
            bad.append(f"{where}.{name}")
    return out


MAX_WALL = 1e11  # seconds since 1970: the year 5138; a time past it is a broken record


def _sane(value: Any, key: str = "") -> bool:
    """Every number finite and every time a time: JSON's NaN or 1e300 in a hand-edited record
    would stop `sbtop check` (it writes the plan) and every save (NaN is not JSON)."""
    if isinstance(value, dict):
        return all(_sane(v, str(k)) for k, v in value.items())
    if isinstance(value, list):
        return all(_sane(v, key) for v in value)
    if isinstance(value, float | int) and not isinstance(value, bool):
        if not math.isfinite(value):
            return False
        return not key.endswith("wall") or 0 <= value < MAX_WALL
    return True
