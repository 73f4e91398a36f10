"""Read a recording once, index it for seeking, and rebuild any tick's Assessment.

Opening reads the file from start to end once, in bounded memory, and keeps: where each tick's
line begins in the text (8 bytes a tick, not the line), every figure's value per tick in an
array (what the sparklines and charts need after a seek), the canary's changes, the status
pages' changes, the events, and copies of the decompressor's state every half MiB of text
(stream.py). A tick is read again from the file when it is shown: from the nearest copy before
its whole snapshot, a quarter of a MiB of text away on average (a few ms), or on from the tick
read last.

Every line is checked as it is read against what sbtop writes (wellformed.checker, the same type
hints the codec decodes with; the header against meta.check_header): a line that is not is
skipped, and so are the ticks that change what it held, up to the next whole snapshot; the
recording says which line and why (`malformed`, `problem`). A file cut short (sbtop killed
while recording) reads up to its last complete line, and says so; a file that is not a
recording is refused in one line (checks.py). Nothing in it can make the reader hold more than
the limits (limits.py): one line over MAX_LINE is skipped unread, and the whole is read up to
MAX_TEXT.
"""

from __future__ import annotations

import bisect
import math
import os
import weakref
import zlib
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sbtop import untrusted
from sbtop.engine import changes, codec
from sbtop.engine.assessment import Assessment
from sbtop.engine.status_pages import PageStatus
from sbtop.engine.wellformed import Malformed, checker, shown
from sbtop.recording import checks, meta
from sbtop.recording import status_pages as page_lines
from sbtop.recording.limits import (
    MAX_EVENT_BYTES,
    MAX_LINE,
    MAX_SERIES,
    MAX_SPAN,
    MAX_TEXT,
    MAX_TICKS,
    MiB,
)
from sbtop.recording.reading import Reading
from sbtop.recording.stream import (
    MAX_CHECKPOINTS,
    SPACING,
    Checkpoint,
    Inflater,
    Lines,
    TooLong,
    parse_line,
)
from sbtop.recording.writer import FORMAT, RecordingError


@dataclass(frozen=True, slots=True)
class Event:
    wall: float
    kind: str
    data: dict[str, Any]


class _Lost(Exception):
    """A change whose whole snapshot was skipped: nothing to apply it to."""


class Recording:
    def __init__(self, path: Path, *, max_text: int = MAX_TEXT) -> None:
        self.path = path
        self.header: dict[str, Any] = {}
        self.walls = array("d")
        self.ts = array("d")
        self._offsets = array("q")  # where each tick's line begins in the text
        self._crcs = array("L")  # and its CRC-32: a file changed since is noticed, not misread
        self._keys: list[int] = []  # indexes of the ticks holding a whole snapshot
        self._checkpoints: list[Checkpoint] = []
        self._cursor: Lines | None = None  # the last read, to go on from when playing forward
        self.events: list[Event] = []
        self.series: dict[str, array[float]] = {}  # figure -> value per tick (NaN: unknown)
        self._canary_at: list[int] = []  # tick indexes where the canary's state changed
        self._canary: list[dict[str, Any]] = []
        # The providers' status pages where they changed (recordings before them have none).
        self._pages_at: list[int] = []
        self._pages: list[tuple[PageStatus, ...]] = []
        self.malformed: str | None = None  # the first line that is not as sbtop writes it
        self.problem: str | None = None  # what was not read, and why, when something was not
        self._cache: tuple[int, codec.Encoded] | None = None
        self._fd = checks.open_file(path)
        # Closed with close() or the with block, else when the Recording is collected; once.
        self._closer = weakref.finalize(self, os.close, self._fd)
        try:
            self._read(max_text)
        except BaseException:
            self.close()
            raise

    def __len__(self) -> int:
        return len(self._offsets)

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._cursor = None
        self._closer()

    # --- reading ---------------------------------------------------------------------------

    def _read(self, max_text: int) -> None:
        inflater = Inflater(self._fd)
        self._checkpoints.append(Checkpoint(0, 0, zlib.decompressobj(31)))
        lines = Lines(inflater, 0, MAX_LINE)
        self.header = self._header(lines)
        reading = Reading()
        spacing = SPACING
        lineno = 1
        while True:
            if inflater.out - self._checkpoints[-1].out >= spacing:
                cp = inflater.checkpoint()
                if cp is not None:
                    self._checkpoints.append(cp)
                if len(self._checkpoints) > MAX_CHECKPOINTS:
                    # Every other one kept, twice as far apart: memory stays, seeks slow a bit.
                    self._checkpoints = self._checkpoints[::2]
                    spacing *= 2
            at = lines.offset
            lineno += 1
            try:
                line = lines.next()
            except TooLong:
                reading.bad(lineno, f"longer than {MAX_LINE // MiB} MiB (no line sbtop "
                                    "writes is)", tick=True)
                continue
            except (zlib.error, OSError) as e:
                reading.notes.append(f"the compressed data is damaged after "
                                     f"{at / MiB:.1f} MiB of text ({checks.reason(e)}): "
                                     "read up to there")
                break
            if not line:
                break
            if at + len(line) > max_text:
                reading.notes.append(f"larger than {max_text / MiB:,.0f} MiB uncompressed (the "
                                     "limit for one recording): read up to there")
                break
            if not line.endswith(b"\n"):
                reading.notes.append("the last line is incomplete (recording cut short)")
                break
            if len(self) >= MAX_TICKS:
                reading.notes.append(f"more than {MAX_TICKS:,} ticks: read up to there")
                break
            self._line(line, at, lineno, reading)
        if inflater.cut and not reading.notes:
            reading.notes.append("cut short (sbtop stopped while recording): read up to its end")
        if inflater.extra:
            reading.notes.append("data after the end of the recording is not read")
        self.malformed = reading.first
        self.problem = "; ".join(reading.summary()) or None

    def _header(self, lines: Lines) -> dict[str, Any]:
        first, header = b"", None
        try:
            first = lines.next()
            header = parse_line(first)
        except TooLong:
            pass
        except (ValueError, RecursionError) as e:
            if b'"sbtop_recording"' in first:  # meant as a header: say what is wrong with it
                raise RecordingError(f"{self.path}: not a recording sbtop wrote: the header is "
                                     f"not JSON sbtop writes ({checks.reason(e)})") from None
        except (zlib.error, OSError) as e:
            raise RecordingError(f"{self.path}: not an sbtop recording "
                                 f"({checks.reason(e)})") from None
        if not isinstance(header, dict) or "sbtop_recording" not in header:
            raise RecordingError(f"{self.path}: not an sbtop recording")
        if header["sbtop_recording"] != FORMAT:
            shown = untrusted.line(repr(header["sbtop_recording"]), 40)
            raise RecordingError(f"{self.path}: recording format {shown}; this sbtop reads "
                                 f"format {FORMAT}")
        try:
            meta.check_header(header)
        except ValueError as e:
            raise RecordingError(f"{self.path}: not a recording sbtop wrote: {e}") from None
        return header

    def _line(self, line: bytes, at: int, lineno: int, reading: Reading) -> None:
        """One line into the index; a line that is not a recording's is skipped, saying why."""
        event = False
        try:
            obj = parse_line(line)
            if not isinstance(obj, dict):
                raise Malformed(f"{shown(obj)} is not an object")
            event = "e" in obj
            if event:
                self._event(obj, len(line), reading)
            else:
                reading.current = self._tick(obj, line, at, reading)
        except _Lost:
            reading.lost += 1
        except Malformed as e:
            reading.bad(lineno, str(e), tick=not event)
        except (ValueError, RecursionError) as e:
            reading.bad(lineno, f"not JSON ({checks.reason(e)})", tick=True)
        except (KeyError, TypeError, AttributeError) as e:  # a change of the wrong shape
            reading.bad(lineno, f"a change sbtop cannot apply ({checks.reason(e)})", tick=True)

    def _tick(self, obj: dict[str, Any], line: bytes, at: int,
              reading: Reading) -> codec.Encoded:
        """Index one tick; raises (changing nothing) when it is not a tick of a recording."""
        if "a" not in obj:
            raise Malformed("neither a tick nor an event")
        wall, t = checks.time(obj.get("w"), "w"), checks.time(obj.get("t", obj.get("w")), "t")
        key = obj.get("k", 0)
        if key not in (0, 1):  # True and False are 1 and 0 here
            raise Malformed(f"k is {shown(key)}, not 1 (a whole snapshot) or absent")
        change = obj["a"]
        if not isinstance(change, dict):
            raise Malformed(f"a is {shown(change)}, not an object")
        if key:
            current = change
            try:
                checker(Assessment)(current)
                codec.check_top(current)
            except Malformed as e:
                raise e.inside("a") from None
        elif reading.current is None:
            if reading.lost or reading.first:
                raise _Lost
            raise Malformed("a change before any whole snapshot")
        elif at + len(line) - reading.key_at > MAX_SPAN:
            raise Malformed(f"more than {MAX_SPAN // MiB} MiB of changes since the last "
                            "whole snapshot (sbtop writes one every 60 ticks)")
        else:
            try:
                current = changes.apply(reading.current, change)
                changes.check_change(current, change)
                codec.check_top(current)
            except Malformed as e:
                raise e.inside("a") from None
        canary = checks.canary(obj["c"]) if "c" in obj else None
        pages = page_lines.decode(obj["p"]) if "p" in obj else None
        values = _values(current)
        # Everything read: now it is committed.
        index = len(self)
        if key:
            self._keys.append(index)
            reading.key_at = at
        self._offsets.append(at)
        self._crcs.append(zlib.crc32(line))
        self.walls.append(wall)
        self.ts.append(t)
        if canary is not None and (not self._canary or self._canary[-1] != canary):
            self._canary_at.append(index)
            self._canary.append(canary)
        if pages is not None and (not self._pages or self._pages[-1] != pages):
            self._pages_at.append(index)
            self._pages.append(pages)
        for name in values.keys() - self.series.keys():
            if len(self.series) >= MAX_SERIES:
                reading.unseries.add(name)
                continue
            self.series[name] = array("d", [math.nan]) * index
        for name, ring in self.series.items():
            ring.append(values.get(name, math.nan))
        return current

    def _event(self, obj: dict[str, Any], size: int, reading: Reading) -> None:
        wall, kind, data = checks.time(obj.get("w"), "w"), obj["e"], obj.get("d")
        if not isinstance(kind, str):
            raise Malformed(f"e is {shown(kind)}, not text")
        if data is not None and not isinstance(data, dict):
            raise Malformed(f"d is {shown(data)}, not an object")
        if reading.event_bytes + size > MAX_EVENT_BYTES:
            reading.events_dropped += 1
            return
        reading.event_bytes += size
        self.events.append(Event(wall, kind, data or {}))

    # --- looking up ---------------------------------------------------------------------------

    def encoded(self, i: int) -> codec.Encoded:
        """Tick i's Assessment as encoded: from the whole snapshot at or before it, with the
        changes since (the tick just before is kept, so playing forward costs one change)."""
        if not 0 <= i < len(self):
            raise IndexError(i)
        if self._cache is not None and self._cache[0] == i:
            return self._cache[1]
        if self._cache is not None and self._cache[0] == i - 1:
            start, current = i, self._cache[1]
        else:
            start, current = self._keys[bisect.bisect_right(self._keys, i) - 1], {}
        for j in range(start, i + 1):
            obj = self._again(j)
            current = obj["a"] if obj.get("k") else changes.apply(current, obj["a"])
        self._cache = (i, current)
        return current

    def assessment(self, i: int) -> Assessment:
        return codec.decode_assessment(self.encoded(i))

    def canary(self, i: int) -> dict[str, Any] | None:
        """The canary's state as recorded at tick i (None: the recording has none)."""
        j = bisect.bisect_right(self._canary_at, i) - 1
        return self._canary[j] if j >= 0 else None

    def status_pages(self, i: int) -> tuple[PageStatus, ...]:
        """The providers' status pages as recorded at tick i (none: the recording has none)."""
        j = bisect.bisect_right(self._pages_at, i) - 1
        return self._pages[j] if j >= 0 else ()

    def status_page_changes(self) -> list[tuple[int, tuple[PageStatus, ...]]]:
        """Each tick where the recorded status pages changed, with the pages then."""
        return list(zip(self._pages_at, self._pages, strict=True))

    def index_at(self, wall: float) -> int:
        """The last tick at or before `wall` (the first one when `wall` is earlier)."""
        return max(0, bisect.bisect_right(self.walls, wall) - 1)

    def events_between(self, start_wall: float, end_wall: float) -> list[Event]:
        return [e for e in self.events if start_wall <= e.wall <= end_wall]

    def _again(self, i: int) -> dict[str, Any]:
        """Tick i's line read again from the file, as it was when indexed."""
        offset = self._offsets[i]
        try:
            line = self._line_at(offset)
            if zlib.crc32(line) != self._crcs[i]:
                raise ValueError("not the line indexed")
            obj: dict[str, Any] = parse_line(line, again=True)
        except (OSError, zlib.error, TooLong, ValueError, RecursionError) as e:
            self._cursor = None
            raise RecordingError(f"{self.path}: changed since it was opened (tick {i + 1} "
                                 f"reads differently: {checks.reason(e)})") from None
        return obj

    def _line_at(self, offset: int) -> bytes:
        """The line at `offset` in the text: going on from the last read when it is on the
        way, else from the nearest copy of the decompressor's state before it."""
        j = bisect.bisect_right(self._checkpoints, offset, key=lambda c: c.out) - 1
        cp = self._checkpoints[j]
        lines = self._cursor
        if lines is None or not cp.out <= lines.offset <= offset:
            lines = Lines(Inflater(self._fd, cp), offset, MAX_LINE)
        lines.skip_to(offset)
        self._cursor = lines
        return lines.next()


def _values(current: codec.Encoded) -> dict[str, float]:
    """Each figure's value for the per-tick arrays: NaN where it is unknown or stale."""
    values: dict[str, float] = {}
    for name, fig in current["figures"].items():
        value = fig.get("value")
        fresh = fig.get("stale_s") is None and isinstance(value, int | float)
        values[name] = float(value) if fresh else math.nan
    return values
