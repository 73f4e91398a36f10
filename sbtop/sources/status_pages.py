"""Providers' public status pages, polled: each page its own loop, one request in flight at a
time, every answer bounded in time and size (sbtop.bounded), a failure kept as its reason
beside the last good answer. Never in the way of a tick: the polls run beside the tick loop,
and a page that hangs holds only its own loop, for at most its timeout.

The client carries no credential of the target's (status pages are public), so a redirect to
another host is followed (Vercel's page lives on another domain); never from https to http.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from sbtop import bounded
from sbtop.clock import SYSTEM, Clock
from sbtop.engine.status_pages import Malformed, PageStatus, read
from sbtop.sources.http import error_reason, status_reason, tls_context
from sbtop.sources.settings import HttpSettings
from sbtop.sources.status_settings import StatusPage, StatusPagesSettings
from sbtop.tasks import cancel_and_wait

if TYPE_CHECKING:
    import httpx

MAX_REDIRECTS = 5


class StatusPoller:
    """The configured pages' latest statuses (`statuses()`), kept up to date by `run()`."""

    def __init__(self, settings: StatusPagesSettings, clock: Clock = SYSTEM) -> None:
        self.settings = settings
        self.clock = clock
        self._status = {p.name: PageStatus(p.name, p.url,
                                           stale_after_s=settings.stale_after_s(p))
                        for p in settings.pages}
        self._client: httpx.AsyncClient | None = None

    def statuses(self) -> tuple[PageStatus, ...]:
        return tuple(self._status.values())

    async def __aenter__(self) -> StatusPoller:
        return self

    def _made_client(self) -> httpx.AsyncClient:
        """Made at the first poll: a session that never polls (check's, record's) pays
        nothing for it."""
        import httpx

        if self._client is None:
            pages = self.settings.pages
            self._client = httpx.AsyncClient(
                # The connect timeout tells "unreachable" quickly on a box with no way out.
                timeout=httpx.Timeout(None, connect=min(3.0, max(p.timeout_s for p in pages))),
                verify=tls_context(),
                headers={"User-Agent": "sbtop", "Accept": "application/json"},
                follow_redirects=False, trust_env=False,
                limits=httpx.Limits(max_connections=len(pages) + 1,
                                    max_keepalive_connections=len(pages)))
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def poll(self, page: StatusPage) -> PageStatus:
        """One poll of one page; its result kept and returned. Never raises for the page's
        sake: every failure is a reason."""
        before = self._status[page.name]
        try:
            doc = await _get_json(self._made_client(), page)
            reading = read(page.kind, doc)
        except _Failed as e:
            after = before.failed(str(e), self.clock.now()[1])
        except Malformed as e:
            after = before.failed(f"unexpected answer: {e}", self.clock.now()[1])
        except Exception as e:  # a bug of ours on an answer nobody foresaw: said, not fatal
            after = before.failed(f"sbtop internal error reading the answer: "
                                  f"{type(e).__name__}: {e}", self.clock.now()[1])
        else:
            after = before.answered(reading, self.clock.now()[1])
        self._status[page.name] = after
        return after

    async def poll_all(self) -> tuple[PageStatus, ...]:
        """Every page once, at the same time (for `sbtop check`)."""
        await asyncio.gather(*(self.poll(p) for p in self.settings.pages))
        return self.statuses()

    async def run(self, changed: Callable[[], None]) -> None:
        """Each page polled every its interval, until cancelled; `changed` called after each
        poll (the session publishes). A page's next poll waits for its last: never two in
        flight for one page."""
        if not self.settings.pages:
            return
        loops = [asyncio.create_task(self._loop(p, changed)) for p in self.settings.pages]
        try:
            await asyncio.gather(*loops)
        finally:
            await cancel_and_wait(loops)

    async def _loop(self, page: StatusPage, changed: Callable[[], None]) -> None:
        while True:
            await self.poll(page)
            changed()
            await asyncio.sleep(page.interval_s)


class _Failed(Exception):
    """A poll with no usable answer; the message says why, in words."""


async def _get_json(client: httpx.AsyncClient, page: StatusPage) -> object:
    import httpx

    url = page.json_url
    # One deadline for the whole answer, redirects included: a page that redirects slowly
    # five times must not hold its loop (or `sbtop check`) for six timeouts.
    loop = asyncio.get_running_loop()
    end = loop.time() + page.timeout_s
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            left = end - loop.time()
            if left <= 0:
                raise bounded.Unanswered(page.timeout_s)
            answer = await bounded.request(client, "GET", url, deadline_s=left,
                                           max_bytes=page.max_bytes)
            if answer.is_redirect:
                url = _next(url, answer.headers["Location"])
                continue
            if not 200 <= answer.status < 300:
                raise _Failed(status_reason(answer.status) if answer.status != 404 else
                              "HTTP 404: no status JSON at this URL (check url and kind)")
            break
        else:
            raise _Failed("too many redirects (a redirect loop?)")
    except bounded.Unanswered:
        raise _Failed(f"timeout: {bounded.Unanswered(page.timeout_s)}") from None
    except bounded.TooLarge:
        raise _Failed(f"answer too large: over {page.max_bytes // 1024} kB") from None
    except httpx.HTTPError as e:
        raise _Failed(error_reason(e, HttpSettings(timeout_s=page.timeout_s))) from None
    except (ValueError, OSError) as e:  # a bad URL or redirect target, a socket's error
        raise _Failed(f"cannot fetch: {type(e).__name__}") from None
    try:
        return json.loads(answer.body)
    except RecursionError:
        raise _Failed("unexpected answer: JSON nested too deep") from None
    except ValueError:
        raise _Failed("unexpected answer: not JSON") from None


def _next(url: str, location: str) -> str:
    import httpx

    here = httpx.URL(url)
    nxt = here.join(location)
    if nxt.scheme not in ("http", "https"):
        raise _Failed(f"redirected to a {nxt.scheme or 'relative'} URL: not followed")
    if here.scheme == "https" and nxt.scheme == "http":
        raise _Failed(f"redirected from https to http ({nxt.host}): not followed")
    return str(nxt)
