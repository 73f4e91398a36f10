"""HTTP for the sources: one client per target, bounded in time and size, errors in words.

Every failure becomes a `FetchError` whose message a person understands ("connection refused",
"timeout: no complete answer within 5 s", "page too large: over 20 MB"), never an exception's
repr. The deadline and the size cap are sbtop.bounded's, shared with every other outside call.
"""

from __future__ import annotations

import importlib.util
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sbtop import bounded, untrusted
from sbtop.clock import SYSTEM, Clock

# The settings live apart (no httpx there, for the config); importers name them from here too.
from sbtop.sources.settings import DEFAULT_MAX_BYTES as DEFAULT_MAX_BYTES  # noqa: PLC0414
from sbtop.sources.settings import DEFAULT_MAX_SAMPLES as DEFAULT_MAX_SAMPLES  # noqa: PLC0414
from sbtop.sources.settings import HttpSettings as HttpSettings  # noqa: PLC0414

if TYPE_CHECKING:
    # httpx loads with the first client (a console's session starts after its first frame):
    # here and in every module a console imports before it, httpx is imported where used.
    import httpx

# httpcore runs `import sniffio` each time it sets up a lock: four times a request. When the
# package is missing, every attempt searches sys.path again and fails (85 us each here, a third
# of a millisecond a tick), and httpcore then assumes asyncio, which sbtop runs on. sniffio is
# a dependency for that reason; where it is absent all the same, its absence is recorded once
# (None in sys.modules makes an import fail at once) instead of being found again and again.
if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]  # None: known absent

# httpcore reads an answer 64 KiB at a time, and each read climbs its whole async stack (the
# pool, the connection, h11, anyio): a 2.6 MB page was 41 reads and 4.8 ms of CPU, where
# 256 KiB reads take it in 11 and 3.4 ms. The reads only ask for up to that much: a small
# answer still comes in one read, and the size cap (sbtop.bounded) still counts every chunk.
_READ_BYTES = 256 * 1024


def _larger_reads() -> None:
    """Set with the first client (httpcore loads with httpx). A class attribute of httpcore's,
    so checked before it is set: another httpcore keeps its own."""
    try:
        from httpcore._async.http11 import AsyncHTTP11Connection
    except ImportError:  # pragma: no cover - another httpcore: its own reads
        return
    if getattr(AsyncHTTP11Connection, "READ_NUM_BYTES", None) == 64 * 1024:
        AsyncHTTP11Connection.READ_NUM_BYTES = _READ_BYTES


class FetchError(Exception):
    """A fetch that gave no usable answer. `answered_or_timed_out` tells the backend's fault
    (an error status, a timeout) from a failure that may be ours (refused, DNS, TLS)."""

    def __init__(self, reason: str, *, answered_or_timed_out: bool = False,
                 status: int | None = None) -> None:
        # Reasons may quote the server (a protocol error's text, a TLS verify message).
        reason = untrusted.line(reason, 500)
        super().__init__(reason)
        self.reason = reason
        self.answered_or_timed_out = answered_or_timed_out
        self.status = status


@dataclass(frozen=True, slots=True)
class Fetched:
    status: int
    content_type: str
    body: bytes
    t: float  # monotonic time the answer's headers arrived
    wall: float
    elapsed_ms: float


class LazyTrustContext(ssl.SSLContext):
    """Verifies as httpx's default does (certificate and host name required, certifi's CAs),
    but loads the CAs at the first TLS handshake: a console on an http:// target never pays
    for them (1.7 MB and ~30 ms at start-up). Until then the store is empty, so an early
    handshake could only fail, never pass unverified; none happens before the load."""

    _lock = threading.Lock()
    _loaded = False

    def _load(self) -> None:
        with self._lock:
            if not self._loaded:
                import certifi

                self.load_verify_locations(cafile=certifi.where())
                self._loaded = True

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self._load()
        return super().wrap_bio(*args, **kwargs)

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self._load()
        return super().wrap_socket(*args, **kwargs)


def tls_context() -> LazyTrustContext:
    return LazyTrustContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, check_hostname on


def make_client(settings: HttpSettings, hosts: int = 1) -> httpx.AsyncClient:
    import httpx

    _larger_reads()
    verify: ssl.SSLContext | bool = settings.verify_tls
    if settings.verify_tls:
        verify = (ssl.create_default_context(cafile=settings.ca_bundle) if settings.ca_bundle
                  else tls_context())
    headers = {"User-Agent": "sbtop", **settings.headers}
    headers["Accept-Encoding"] = "gzip" if settings.gzip else "identity"
    if settings.cookies:
        # A header, not the client's cookie jar: the jar would also take cookies the server
        # sets, and redirects are followed by hand, within the target only.
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in settings.cookies.items())
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
        verify=verify,
        headers=headers,
        follow_redirects=False,
        # A console polls a host or a few: a warm connection to each (and one for health),
        # never a pool that grows.
        limits=httpx.Limits(max_connections=2 * hosts + 2, max_keepalive_connections=hosts + 1),
        trust_env=False,
    )


async def fetch(client: httpx.AsyncClient, url: str, settings: HttpSettings, *,
                accept: str = "*/*", any_status: bool = False, clock: Clock = SYSTEM) -> Fetched:
    """GET `url`; raise FetchError with a plain reason on any failure, including a non-2xx
    status unless `any_status` (then the caller judges the status and may show the body)."""
    try:
        return await bounded.within(settings.timeout_s, _fetch(client, url, settings, accept,
                                                               any_status, clock))
    except bounded.Unanswered as e:
        raise FetchError(f"timeout: {e}", answered_or_timed_out=True) from None


MAX_REDIRECTS = 5


async def _fetch(client: httpx.AsyncClient, url: str, settings: HttpSettings,
                 accept: str, any_status: bool, clock: Clock) -> Fetched:
    import httpx

    started = time.monotonic()
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            async with client.stream("GET", url, headers={"Accept": accept}) as r:
                if r.is_redirect:
                    url = _same_origin_redirect(r)
                    continue
                return await _read(r, settings, any_status, clock, started)
        raise FetchError("too many redirects (a redirect loop?)", answered_or_timed_out=True)
    except FetchError:
        raise
    except httpx.HTTPError as e:
        raise _translate(e, settings) from None
    except (httpx.InvalidURL, ValueError, OverflowError, UnicodeError):
        raise FetchError("bad URL: check base_url and the paths") from None
    except ssl.SSLError as e:
        raise FetchError(f"TLS error: {e.reason or e}") from None
    except OSError as e:
        raise FetchError(f"network error: {e.strerror or e}") from None


def _same_origin_redirect(r: httpx.Response) -> str:
    """Follow a redirect only within the target (http -> https allowed): the auth header and
    the session cookie must never be sent to another host."""
    location = r.headers.get("Location", "")
    nxt = r.request.url.join(location)
    here = r.request.url
    if nxt.host != here.host or (nxt.port != here.port and nxt.scheme == here.scheme) or (
            nxt.scheme == "http" and here.scheme == "https"):
        raise FetchError(f"redirected to another origin ({nxt.scheme}://{nxt.host}); sbtop "
                         "does not follow it with the target's credentials: fix base_url",
                         answered_or_timed_out=True)
    return str(nxt)


async def _read(r: httpx.Response, settings: HttpSettings, any_status: bool, clock: Clock,
                started: float) -> Fetched:
    # The page is made when the request arrives: the answer's headers date it.
    t, wall = clock.now()
    if not any_status and not 200 <= r.status_code < 300:
        raise FetchError(status_reason(r.status_code), answered_or_timed_out=True,
                         status=r.status_code)
    try:
        body, _cut = await bounded.read_body(r, settings.max_bytes)
    except bounded.TooLarge:
        raise FetchError(_too_large(settings.max_bytes), answered_or_timed_out=True) from None
    return Fetched(r.status_code, r.headers.get("Content-Type", ""), body,
                   t, wall, (time.monotonic() - started) * 1000.0)


def _root_cause(e: BaseException) -> BaseException:
    """httpx wraps httpcore wraps anyio wraps the OSError that says what happened."""
    seen = 0
    while seen < 10:
        nxt = e.__cause__ or e.__context__
        if nxt is None:
            return e
        e = nxt
        seen += 1
    return e


def _too_large(limit: int) -> str:
    return f"page too large: over {bounded.megabytes(limit)} MB (raise max_page_mb to allow it)"


def status_reason(status: int) -> str:
    if status in (401, 403):
        return (f"HTTP {status}: the endpoint needs credentials (set the auth header or cookie "
                "environment variable the target names)")
    if status == 404:
        return "HTTP 404: nothing at this path (check metrics_path / health_path)"
    return f"HTTP {status}"


def _translate(e: httpx.HTTPError, settings: HttpSettings) -> FetchError:
    import httpx

    text = str(e) or type(e).__name__
    if isinstance(e, httpx.ConnectTimeout):
        return FetchError(f"connect timeout: no connection within {settings.connect_timeout_s:g} s",
                          answered_or_timed_out=True)
    if isinstance(e, httpx.TimeoutException):
        return FetchError(f"timeout: no complete answer within {settings.timeout_s:g} s",
                          answered_or_timed_out=True)
    if isinstance(e, httpx.LocalProtocolError):
        # Its text may quote a header value, and header values hold secrets.
        return FetchError("the request could not be sent (an invalid header value?)")
    if isinstance(e, httpx.DecodingError):
        return FetchError(f"undecodable body: {text}", answered_or_timed_out=True)
    if isinstance(e, httpx.RemoteProtocolError):
        return FetchError(f"connection closed mid-answer: {text}", answered_or_timed_out=True)
    if isinstance(e, httpx.ConnectError):
        cause = _root_cause(e)
        lowered = text.lower()
        if isinstance(cause, ssl.SSLCertVerificationError) or "certificate" in lowered:
            detail = getattr(cause, "verify_message", None) or text
            return FetchError(f"TLS certificate does not verify: {detail}")
        if isinstance(cause, ssl.SSLError):
            return FetchError(f"TLS error: {cause.reason or text}")
        if isinstance(cause, ConnectionRefusedError) or "refused" in lowered:
            return FetchError("connection refused")
        if isinstance(cause, socket.gaierror):
            return FetchError(f"cannot resolve host: {cause.strerror}")
        if isinstance(cause, OSError) and cause.strerror:
            return FetchError(f"cannot connect: {cause.strerror}")
        return FetchError(f"cannot connect: {text}")
    if isinstance(e, httpx.UnsupportedProtocol):
        return FetchError("bad URL: check base_url and the paths")
    return FetchError(f"{type(e).__name__}: {text}", answered_or_timed_out=True)


def error_reason(e: httpx.HTTPError, settings: HttpSettings) -> str:
    """An httpx failure in words a person can act on (never quoting a header value)."""
    return _translate(e, settings).reason
