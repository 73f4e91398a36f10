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
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

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
    (TooLarge), or with `cut` kept up to the cap; either way the rest is never read."""
    declared = r.headers.get("Content-Length")
    if not cut and declared and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(max_bytes, r.status_code)
    chunks: list[bytes] = []
    size = 0
    # aiter_bytes decodes gzip: the cap applies to what sbtop would hold in memory.
    async for chunk in r.aiter_bytes():
        if size + len(chunk) > max_bytes:
            if not cut:
                raise TooLarge(max_bytes, r.status_code)
            chunks.append(chunk[:max_bytes - size])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


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
