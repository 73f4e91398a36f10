"""Write a recording: a header line, then one line a tick and one an event, gzip-compressed.

Every tick is the difference from the one before (changes.delta), with a whole snapshot every
KEYFRAME_EVERY ticks so a replay can seek without reading from the start. The stream is flushed
every FLUSH_EVERY_S seconds: if sbtop is killed, the recording keeps all but the last few
seconds, and a reader takes what is there. The file is never overwritten, and recording stops
(saying so) at `max_bytes`, so a forgotten recorder cannot fill the disk.
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import stat
import time
from pathlib import Path
from typing import IO, Any

import msgspec

from sbtop import __version__, bounded
from sbtop.cadence import routes_due
from sbtop.engine import changes, codec
from sbtop.engine.assessment import Assessment
from sbtop.recording.stream import GZIP_MAGIC

FORMAT = 1
KEYFRAME_EVERY = 60
FLUSH_EVERY_S = 5.0
DEFAULT_MAX_BYTES = 200 * 1024 * 1024


_NEW = os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


# A line's JSON by msgspec: what the codec made (exact floats: the shortest text that reads
# back as the same float, as the stdlib writes them) in a fraction of json.dumps's time, as
# compact UTF-8. Anything else in a line (an event's data) that JSON has no type for is
# written as its str(), as before.
_ENCODER = msgspec.json.Encoder(enc_hook=str)


def encode_line(obj: dict[str, Any]) -> bytes:
    """One line of a recording, newline included."""
    try:
        return _ENCODER.encode(obj) + b"\n"
    except (UnicodeEncodeError, TypeError, OverflowError):
        # What msgspec refuses and the stdlib writes: a lone surrogate (escaped), a key that
        # is not a string, an integer past 64 bits. None is expected (outside text is made
        # safe before it gets here); a recording is never to stop for one.
        return json.dumps(obj, separators=(",", ":"), allow_nan=False,
                          default=str).encode() + b"\n"


class RecordingError(Exception):
    """A recording that cannot be written or read, in words."""


def write_output(path: Path, text: str, force: bool = False) -> None:
    """Write what was made from a recording (the timeline) to a new file; an existing one only
    with `force`, and never a recording (gzip data: perhaps an incident's only copy, or the
    very file being read), anything but a regular file, or through a symbolic link."""
    try:
        fd = os.open(path, _NEW | os.O_WRONLY, 0o666)
    except FileExistsError:
        if not force:
            raise RecordingError(f"{path} exists; not overwriting it (--force replaces it)"
                                 ) from None
        fd = _reuse(path)
    except OSError as e:
        raise RecordingError(f"{path}: cannot write: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8"))
    except OSError as e:  # a full disk
        raise RecordingError(f"{path}: cannot write: {e.strerror}") from None


def _reuse(path: Path) -> int:
    """An existing file to write over, checked and emptied through one descriptor: what was
    checked is what is written."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise RecordingError(f"{path}: a symbolic link; not writing through it") from None
        raise RecordingError(f"{path}: cannot write: {e.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise RecordingError(f"{path}: not a regular file; not writing over it")
        if os.pread(fd, len(GZIP_MAGIC), 0) == GZIP_MAGIC:
            raise RecordingError(f"{path}: a recording (gzip data); never written over, even "
                                 "with --force")
        os.ftruncate(fd, 0)
    except BaseException as e:
        os.close(fd)
        if isinstance(e, OSError):
            raise RecordingError(f"{path}: cannot write: {e.strerror}") from None
        raise
    return fd


class Recorder:
    def __init__(self, path: Path, header: dict[str, Any],
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.ticks = 0
        self.events = 0
        self.stopped: str | None = None  # why it stopped early (the size limit)
        self._prev: codec.Encoded | None = None
        self._canary: dict[str, Any] | None = None
        self._pages: list[dict[str, Any]] | None = None
        self._routes_t: float | None = None  # when the route table was last kept
        self._last_flush = time.monotonic()
        self._size = 0
        try:
            # O_EXCL: never over an earlier recording, which may be an incident's only copy,
            # nor through a link (one, even dangling, counts as existing).
            fd = os.open(path, _NEW | os.O_WRONLY, 0o600)
        except FileExistsError:
            raise RecordingError(f"{path} exists; not overwriting it") from None
        except OSError as e:
            raise RecordingError(f"{path}: cannot write: {e.strerror}") from None
        os.fchmod(fd, 0o600)  # whatever the umask; by descriptor, so never another file
        self._raw: IO[bytes] = os.fdopen(fd, "wb")
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=6)
        self._write({"sbtop_recording": FORMAT, "sbtop": __version__, **header})

    @property
    def bytes_written(self) -> int:
        """Compressed bytes on disk so far (up to the last flush)."""
        return self._size if self._raw.closed else self._raw.tell()

    def tick(self, a: Assessment, canary: dict[str, Any] | None = None,
             pages: list[dict[str, Any]] | None = None) -> None:
        """`pages`: the providers' status pages as last polled (recording.status_pages),
        written when they changed and with every whole snapshot, as the canary is."""
        if self.stopped:
            return
        key = self.ticks % KEYFRAME_EVERY == 0
        kept = self._prev.get("routes") if self._prev is not None else None
        if self._prev is not None and not routes_due(self._routes_t, a.t,
                                                     had_routes=bool((kept or {}).get("every"))):
            # Between the console's redraws of the route table it shows the last one drawn:
            # so does the recording (the table is most of a tick's bytes, and not even made
            # here: the engine makes it when it is read).
            cur = codec.encode_assessment(a, with_routes=False)
            if kept is not None:
                cur["routes"] = kept
        else:
            cur = codec.encode_assessment(a)
            self._routes_t = a.t
        line: dict[str, Any] = {"w": a.wall, "t": a.t,
                                "a": cur if key else changes.delta(self._prev, cur)}
        if key:
            line["k"] = 1
        if canary is not None and (key or canary != self._canary):
            line["c"] = canary
            self._canary = canary
        if pages is not None and (key or pages != self._pages):
            line["p"] = pages
            self._pages = pages
        self._prev = cur
        self.ticks += 1
        self._write(line)

    def event(self, wall: float, kind: str, data: dict[str, Any]) -> None:
        """Something that happened between ticks: an action and its result, a marker."""
        if self.stopped:
            return
        self.events += 1
        self._write({"w": wall, "e": kind, "d": data})

    def _write(self, obj: dict[str, Any]) -> None:
        self._gz.write(encode_line(obj))
        now = time.monotonic()
        if now - self._last_flush >= FLUSH_EVERY_S:
            self.flush()
        if self._raw.tell() >= self.max_bytes:
            self.stopped = (f"stopped at {bounded.megabytes(self.max_bytes)} MB (the size limit; "
                            "--max-mb raises it)")
            self.close()

    def flush(self) -> None:
        if self._gz.closed:
            return
        self._gz.flush()
        self._raw.flush()
        self._last_flush = time.monotonic()

    def close(self) -> None:
        if not self._gz.closed:
            self._gz.close()
        if not self._raw.closed:
            self._size = self._raw.tell()
            self._raw.flush()
            os.fsync(self._raw.fileno())
            self._raw.close()
