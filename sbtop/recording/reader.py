"""Read a recording whole, index it for seeking, and rebuild any tick's Assessment.

Opening keeps each tick's line as bytes (decoded on demand), every figure's value per tick in
an array (what the sparklines and charts need after a seek), the canary's changes and the
events. A file cut short (sbtop killed while recording) reads up to its last complete line,
and says so; a file that is not a recording is refused in one line.
"""

from __future__ import annotations

import bisect
import gzip
import json
import math
import zlib
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sbtop import untrusted
from sbtop.engine import codec
from sbtop.engine.assessment import Assessment
from sbtop.recording.writer import FORMAT, RecordingError


@dataclass(frozen=True, slots=True)
class Event:
    wall: float
    kind: str
    data: dict[str, Any]


class Recording:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.header: dict[str, Any] = {}
        self.walls = array("d")
        self.ts = array("d")
        self._lines: list[bytes] = []
        self._keys: list[int] = []  # indexes of the ticks holding a whole snapshot
        self.events: list[Event] = []
        self.series: dict[str, array[float]] = {}  # figure -> value per tick (NaN: unknown)
        self._canary_at: list[int] = []  # tick indexes where the canary's state changed
        self._canary: list[dict[str, Any]] = []
        self.problem: str | None = None  # why it ends early, when it does
        self._cache: tuple[int, codec.Encoded] | None = None
        self._read()

    def __len__(self) -> int:
        return len(self._lines)

    # --- reading ---------------------------------------------------------------------------

    def _read(self) -> None:
        try:
            with gzip.open(self.path, "rb") as f:
                self._read_from(f)
        except FileNotFoundError:
            raise RecordingError(f"{self.path}: no such file") from None
        except IsADirectoryError:
            raise RecordingError(f"{self.path}: is a directory") from None
        except PermissionError:
            raise RecordingError(f"{self.path}: not readable (permission denied)") from None

    def _read_from(self, f: Any) -> None:
        try:
            first = f.readline()
        except (OSError, EOFError, zlib.error) as e:
            if isinstance(e, FileNotFoundError | PermissionError | IsADirectoryError):
                raise
            raise RecordingError(f"{self.path}: not an sbtop recording "
                                 f"({type(e).__name__})") from None
        try:
            header = _load(first)
        except (ValueError, RecursionError):
            header = None
        if not isinstance(header, dict) or "sbtop_recording" not in header:
            raise RecordingError(f"{self.path}: not an sbtop recording")
        if header["sbtop_recording"] != FORMAT:
            raise RecordingError(f"{self.path}: recording format {header['sbtop_recording']!r};"
                                 f" this sbtop reads format {FORMAT}")
        self.header = header
        current: codec.Encoded | None = None
        lineno = 1
        try:
            for line in f:
                lineno += 1
                if not line.endswith(b"\n"):
                    self.problem = "the last line is incomplete (recording cut short)"
                    break
                try:
                    current = self._take(line, current)
                except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
                    self.problem = (f"line {lineno} is unreadable ({type(e).__name__}): "
                                    "the recording is read up to there")
                    break
        except (EOFError, zlib.error, OSError):
            self.problem = "cut short (sbtop stopped while recording): read up to its end"

    def _take(self, line: bytes, current: codec.Encoded | None) -> codec.Encoded | None:
        """Index one line; raises (changing nothing) when it is not a line of a recording."""
        obj = _load(line)
        if "e" in obj:
            self.events.append(Event(float(obj["w"]), str(obj["e"]), dict(obj.get("d") or {})))
            return current
        key = bool(obj.get("k"))
        if not key and current is None:
            raise ValueError("a change before any whole snapshot")
        wall, t = float(obj["w"]), float(obj.get("t", obj["w"]))
        current = obj["a"] if key else codec.apply(current, obj["a"])
        values: dict[str, float] = {}
        for name, fig in (current.get("figures") or {}).items():
            value = fig.get("value")
            fresh = fig.get("stale_s") is None and isinstance(value, int | float)
            values[name] = float(value) if fresh else math.nan
        canary = dict(obj["c"] or {}) if "c" in obj else None
        # Everything read: now it is committed.
        index = len(self._lines)
        if key:
            self._keys.append(index)
        self._lines.append(line)
        self.walls.append(wall)
        self.ts.append(t)
        if canary is not None:
            self._canary_at.append(index)
            self._canary.append(canary)
        for name in values.keys() - self.series.keys():
            self.series[name] = array("d", [math.nan] * index)
        for name, ring in self.series.items():
            ring.append(values.get(name, math.nan))
        return current

    # --- looking up ---------------------------------------------------------------------------

    def encoded(self, i: int) -> codec.Encoded:
        """Tick i's Assessment as encoded: from the whole snapshot at or before it, with the
        changes since (the tick just before is kept, so playing forward costs one change)."""
        if not 0 <= i < len(self._lines):
            raise IndexError(i)
        if self._cache is not None and self._cache[0] == i:
            return self._cache[1]
        if self._cache is not None and self._cache[0] == i - 1:
            start, current = i, self._cache[1]
        else:
            k = self._keys[bisect.bisect_right(self._keys, i) - 1]
            start, current = k + 1, _load(self._lines[k])["a"]
        for j in range(start, i + 1):
            obj = _load(self._lines[j])
            current = obj["a"] if obj.get("k") else codec.apply(current, obj["a"])
        self._cache = (i, current)
        return current

    def assessment(self, i: int) -> Assessment:
        return codec.decode_assessment(self.encoded(i))

    def canary(self, i: int) -> dict[str, Any] | None:
        """The canary's state as recorded at tick i (None: the recording has none)."""
        j = bisect.bisect_right(self._canary_at, i) - 1
        return self._canary[j] if j >= 0 else None

    def index_at(self, wall: float) -> int:
        """The last tick at or before `wall` (the first one when `wall` is earlier)."""
        return max(0, bisect.bisect_right(self.walls, wall) - 1)

    def events_between(self, start_wall: float, end_wall: float) -> list[Event]:
        return [e for e in self.events if start_wall <= e.wall <= end_wall]


def _load(raw: bytes) -> Any:
    """One line of the file, every string in it made safe to show: a recording is a file
    anyone may have handed over, and its text reaches the console and the timeline."""
    return untrusted.deep(json.loads(raw))
