"""A recording's text (the gzip file decompressed) as lines with their offsets, in bounded memory,
and read again from any offset without starting over.

gzip cannot seek: a byte of text depends on the 32 KiB before it. So the one reading from the
start copies zlib's state (its window and a little more, about 40 KiB) every `spacing` bytes of
text, zran.c's method; reading from an offset starts from the nearest earlier copy and
decompresses at most `spacing` bytes to get there. At most MAX_CHECKPOINTS copies are kept:
when there would be more, every other one is dropped and the spacing doubles, so a long file
costs a little more per seek, never more memory. (Decompressing once to a temporary file would
be simpler to seek, but writes gigabytes to a /tmp that is often RAM; re-reading from the start
makes a seek at the end of a day's recording cost a second.)

`parse_line` reads one line's JSON, strictly.

Nothing here holds more than one line (up to `max_line`) and one piece of text at a time: a
line longer than that is skipped unread, and what the file expands to is never all in memory.
"""

from __future__ import annotations

import json
import math
import os
import zlib
from dataclasses import dataclass
from typing import Any

import msgspec

from sbtop import untrusted

CHUNK = 64 * 1024  # compressed bytes read at a time
PIECE = 256 * 1024  # text made at most per zlib call: a gzip bomb expands in steps this size
SPACING = 512 * 1024  # text between two copies of zlib's state, to begin with
MAX_CHECKPOINTS = 256  # copies kept (about 10 MB); beyond, the spacing doubles
GZIP_MAGIC = b"\x1f\x8b"


class TooLong(Exception):
    """A line longer than the limit (skipped, its bytes never held)."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    out: int  # offset in the text
    raw: int  # offset in the file of the first compressed byte zlib has not been given
    state: zlib._Decompress  # never used itself: copied again to resume


class Inflater:
    """The text of a gzip file, piece by piece, from the start or from a checkpoint; read with
    pread, so several may read one descriptor at once."""

    def __init__(self, fd: int, at: Checkpoint | None = None) -> None:
        self._fd = fd
        self._d = zlib.decompressobj(31) if at is None else at.state.copy()
        self._raw = 0 if at is None else at.raw  # the next byte of the file to read
        self._pending = b""  # compressed bytes read, not yet consumed by zlib
        self.out = 0 if at is None else at.out  # text made so far
        self.ended = False  # the data ended (read() says b"")
        self.cut = False  # the file ends mid-stream: sbtop stopped while recording
        self.extra = False  # something that is not gzip follows the end

    def checkpoint(self) -> Checkpoint | None:
        """zlib's state here; None between two gzip members (rare: nothing to copy there)."""
        if self._d.eof:
            return None
        return Checkpoint(self.out, self._raw - len(self._pending), self._d.copy())

    def read(self) -> bytes:
        """The next piece of text (at most PIECE bytes); b"" at the end. A damaged stream
        raises zlib.error."""
        while not self.ended:
            if self._d.eof and not self._next_member():
                break
            if not self._pending:
                self._pending = os.pread(self._fd, CHUNK, self._raw)
                self._raw += len(self._pending)
                if not self._pending:
                    self.cut = True
                    break
            data = self._d.decompress(self._pending, PIECE)
            self._pending = self._d.unconsumed_tail
            if data:
                self.out += len(data)
                return data
        self.ended = True
        return b""

    def _next_member(self) -> bool:
        """After one gzip member, another may follow (gzip allows several); anything else
        after the end is not part of the recording."""
        rest = self._d.unused_data  # what zlib was given past the end (its tail says it too)
        if len(rest) < len(GZIP_MAGIC):
            more = os.pread(self._fd, CHUNK, self._raw)
            self._raw += len(more)
            rest += more
        if not rest.startswith(GZIP_MAGIC):
            self.extra = bool(rest)
            return False
        self._d = zlib.decompressobj(31)
        self._pending = rest
        return True


class Lines:
    """Lines of the text from `offset` on, each with its offset; the last one may lack its
    newline (a file cut short). A line over `max_line` raises TooLong, having been read past
    without being held: the next call goes on after it."""

    def __init__(self, inflater: Inflater, offset: int, max_line: int) -> None:
        self.inflater = inflater
        self.max_line = max_line
        self._buf = b""  # the current piece of text
        self._pos = 0  # where in it the next line begins
        self._at = inflater.out  # text offset of _buf[0]
        self.skip_to(offset)

    @property
    def offset(self) -> int:
        """Where the next line begins."""
        return self._at + self._pos

    def _refill(self) -> bool:
        self._at += len(self._buf)
        self._buf, self._pos = self.inflater.read(), 0
        return bool(self._buf)

    def skip_to(self, offset: int) -> None:
        """Go on to `offset` (not behind where the next line begins)."""
        while self._at + len(self._buf) < offset:
            if not self._refill():
                return
        self._pos = offset - self._at

    def next(self) -> bytes:
        """The next line, newline included; b"" at the end of the text."""
        end = self._buf.find(b"\n", self._pos)
        if 0 <= end < self._pos + self.max_line:
            line = self._buf[self._pos:end + 1]
            self._pos = end + 1
            return line
        if end >= 0:  # whole in this piece, and too long
            self._pos = end + 1
            raise TooLong
        parts = [self._buf[self._pos:]]
        size = len(parts[0])
        while end < 0:
            if not self._refill():
                if size > self.max_line:
                    raise TooLong
                return b"".join(parts)  # the last line, without its newline
            end = self._buf.find(b"\n")
            size += len(self._buf) if end < 0 else end + 1
            if size > self.max_line:
                self._pass_line(end)
                raise TooLong
            parts.append(self._buf if end < 0 else self._buf[:end + 1])
        self._pos = end + 1
        return b"".join(parts)

    def _pass_line(self, end: int) -> None:
        """Drop a line too long to keep, reading on to its newline without holding it."""
        while end < 0:
            if not self._refill():
                return
            end = self._buf.find(b"\n")
        self._pos = end + 1




# A line's JSON: msgspec first (four times the stdlib's speed, and strict by itself: NaN,
# Infinity and numbers beyond a float's range are not JSON to it); what it refuses is read
# again by the stdlib, so a refused line is refused, or read, in the same words as ever (and
# the stdlib reads what msgspec will not: a lone surrogate escaped, UTF-16 text).
_DECODER = msgspec.json.Decoder()


def parse_line(raw: bytes, *, again: bool = False) -> Any:
    """One line of a recording, every string in it made safe to show: a recording is a file
    anyone may have handed over, and its text reaches the console and the timeline. NaN,
    Infinity and numbers beyond a float's range are refused (ValueError): sbtop never writes
    them (read `again`, the line is the one indexed, its CRC says so: that was seen to then).
    A line nested too deep raises RecursionError."""
    try:
        value = _DECODER.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        if again:
            value = json.loads(raw)
        else:
            value = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    return untrusted.deep(value)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number sbtop writes")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is out of range")
    return value
