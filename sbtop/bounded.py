"""Every answer from outside sbtop, bounded in time and in size: the one mechanism the metrics
scrape, the health probe, the checklist's probes, Prometheus, Render's API and the webhook share.

httpx's timeout bounds each read, not the answer: a server that sends a byte every few seconds
holds a call for as long as it likes, and one that sends 150 MB makes sbtop hold it, then parse
it at many times its size. So every call runs under one overall deadline, from connecting to the
last byte, and its body is read in chunks, counted as decoded, and refused (or cut) at a cap
before anything parses it.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")


class Unanswered(Exception):
    """No complete answer within the deadline. `status` is the answer's status when its head
    came but its body did not finish: the request was received (and an action may be done)."""

    def __init__(self, deadline_s: float, status: int | None = None) -> None:
        super().__init__(f"no complete answer within {deadline_s:g} s")
        self.deadline_s = deadline_s
        self.status = status


class TooLarge(Exception):
    """An answer over its cap, refused before more of it was read."""

    def __init__(self, limit: int, status: int) -> None:
        super().__init__(f"over {megabytes(limit)} MB")
        self.limit = limit
        self.status = status


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: httpx.Headers
    body: bytes
    cut: bool = False  # the body was cut at the cap (asked for with cut=True), the rest unread

    def json(self) -> Any:
        return json.loads(self.body)  # bytes: UTF-8, -16 or -32, as httpx's json() reads them

    @property
    def is_redirect(self) -> bool:
        return self.status in (301, 302, 303, 307, 308) and "Location" in self.headers


def megabytes(limit: int) -> str:
    return f"{limit / 1024 / 1024:g}"


async def within(deadline_s: float, work: Awaitable[T]) -> T:
    """`work`, cut off at `deadline_s` (Unanswered): the deadline is the answer's, not a read's."""
    try:
        return await asyncio.wait_for(work, deadline_s)
    except TimeoutError:
        raise Unanswered(deadline_s) from None


async def read_body(r: httpx.Response, max_bytes: int, *, cut: bool = False
                    ) -> tuple[bytes, bool]:
    """The body of a streamed answer and whether it was cut. Past `max_bytes` it is refused
    (TooLarge), or with `cut` kept up to the cap; either way the rest is never read.

    The cap counts the body as decoded, and a gzip or deflate body is decoded here, never more
    than the room left under the cap at a time: httpx decodes each read whole, and a read of a
    compressed answer may inflate a thousandfold (a gzip of zeros) before any cap is looked at.
    """
    declared = r.headers.get("Content-Length")
    if not cut and declared and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(max_bytes, r.status_code)
    chunks: list[bytes] = []
    size = 0
    inflate = _inflater(r.headers.get("Content-Encoding", ""))
    raw = r.aiter_raw() if inflate is not None else r.aiter_bytes()
    async for chunk in raw:
        pieces = [chunk] if inflate is None else inflate(chunk, max_bytes - size + 1)
        for piece in pieces:
            if size + len(piece) > max_bytes:
                if not cut:
                    raise TooLarge(max_bytes, r.status_code)
                chunks.append(piece[:max_bytes - size])
                return b"".join(chunks), True
            chunks.append(piece)
            size += len(piece)
    return b"".join(chunks), False


_Inflate = Callable[[bytes, int], list[bytes]]


def _inflater(encoding: str) -> _Inflate | None:
    """For a gzip or deflate body: a decoder that gives at most `room` bytes a step (the rest
    of its input kept for the next); None for any other encoding, left to httpx (identity, and
    those httpx does not decode without optional packages sbtop does not install)."""
    name = encoding.strip().lower()
    d: _Decompressor
    if name in ("gzip", "x-gzip"):
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif name == "deflate":
        d = _Deflate()
    else:
        return None

    def inflate(data: bytes, room: int) -> list[bytes]:
        out = []
        while True:
            try:
                piece = d.decompress(data, max(room, 1))
            except zlib.error as e:
                import httpx  # as httpx says a body it cannot decode

                raise httpx.DecodingError(f"bad {name} body: {e}") from None
            out.append(piece)
            room -= len(piece)
            data = d.unconsumed_tail
            if not data or room < 0:
                return out

    return inflate


class _Decompressor(Protocol):
    def decompress(self, data: bytes, max_length: int = ..., /) -> bytes: ...

    @property
    def unconsumed_tail(self) -> bytes: ...


class _Deflate:
    """`deflate` as servers send it: zlib-wrapped as the standard says, or raw (as httpx reads
    it, a first attempt that fails at once on raw data falls back)."""

    def __init__(self) -> None:
        self._d = zlib.decompressobj()
        self._first = True

    def decompress(self, data: bytes, max_length: int = 0, /) -> bytes:
        if self._first:
            self._first = False
            try:
                return self._d.decompress(data, max_length)
            except zlib.error:
                self._d = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._d.decompress(data, max_length)

    @property
    def unconsumed_tail(self) -> bytes:
        return self._d.unconsumed_tail


async def request(client: httpx.AsyncClient, method: str, url: str, *, deadline_s: float,
                  max_bytes: int, cut: bool = False, **kwargs: Any) -> Answer:
    """One request, its whole answer within `deadline_s` and `max_bytes` (see read_body).
    Raises Unanswered, TooLarge, or httpx's errors for what failed otherwise (a connect
    timeout among them: the request was not sent)."""
    import httpx

    # The deadline bounds the reads: a per-read timeout would only say the same thing
    # differently (or cut a probe allowed longer than the client's reads). The client's
    # connect timeout stays: it tells "never sent" from "sent, no answer".
    kwargs.setdefault("timeout", httpx.Timeout(None, connect=client.timeout.connect))
    status: list[int] = []  # the status, once the answer's head has come

    async def send() -> Answer:
        async with client.stream(method, url, **kwargs) as r:
            status.append(r.status_code)
            body, was_cut = await read_body(r, max_bytes, cut=cut)
            return Answer(r.status_code, r.headers, body, was_cut)

    try:
        return await within(deadline_s, send())
    except Unanswered:
        raise Unanswered(deadline_s, status[0] if status else None) from None
