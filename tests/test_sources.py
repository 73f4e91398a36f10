"""Scraping and health probes against real servers on loopback, misbehaving in every way."""

from __future__ import annotations

import asyncio
import gzip
import subprocess
import sys
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest

from sbtop.engine.names import wanted_samples
from sbtop.engine.observations import HealthProbe, MetricsScrape
from sbtop.engine.settings import MetricNames
from sbtop.sources import health, metrics
from sbtop.sources.http import HttpSettings, make_client
from tests.servers import Answer, LoopbackServer, closed_port

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow

PAGES = Path(__file__).parent / "pages"
WANTED = wanted_samples(MetricNames())
PAGE = (b'# TYPE http_requests_total counter\n'
        b'http_requests_total{status="200"} 10\nhttp_requests_total{status="500"} 1\n'
        b'unrelated_gauge 3\n')


def scrape(url: str, settings: HttpSettings | None = None) -> MetricsScrape:
    s = settings or HttpSettings(timeout_s=2.0, connect_timeout_s=1.0)

    async def go() -> MetricsScrape:
        async with make_client(s) as client:
            return await metrics.scrape(client, url, s, WANTED, (time.monotonic(), time.time()))

    return asyncio.run(go())


def probe(url: str, settings: HttpSettings | None = None) -> HealthProbe:
    s = settings or HttpSettings(timeout_s=2.0, connect_timeout_s=1.0)

    async def go() -> HealthProbe:
        async with make_client(s) as client:
            return await health.probe(client, url, s, (time.monotonic(), time.time()))

    return asyncio.run(go())


def test_a_page_is_scraped_and_only_wanted_families_kept() -> None:
    with LoopbackServer({"/metrics": Answer(body=PAGE)}) as srv:
        r = scrape(srv.url + "/metrics")
    assert r.ok and r.error is None
    assert r.page is not None
    assert set(r.page.samples) == {"http_requests_total"}
    assert r.size_bytes == len(PAGE)


def test_gzip_pages_are_decoded_and_gzip_is_asked_for() -> None:
    with LoopbackServer({"/metrics": Answer(body=PAGE, gzip=True)}) as srv:
        r = scrape(srv.url + "/metrics")
        sent = srv.requests[0]["headers"]
    assert r.ok and len(r.page.series("http_requests_total")) == 2  # type: ignore[union-attr]
    assert "gzip" in sent.get("Accept-Encoding", "")


def _zeros_gzipped(megabytes: int) -> bytes:
    """A gzip of that many MB of zeros (a thousandth of its size), made a MB at a time."""
    co = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    mb = bytes(1 << 20)
    return b"".join(co.compress(mb) for _ in range(megabytes)) + co.flush()


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compressed_bomb_is_refused_without_inflating_past_the_cap(encoding: str) -> None:
    # 400 MB of zeros in about 400 KB: each read of it would inflate to hundreds of MB if
    # decoded whole before the cap (2 MB here) was looked at.
    body = _zeros_gzipped(400)
    if encoding == "deflate":
        co = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS)
        body = b"".join(co.compress(bytes(1 << 20)) for _ in range(400)) + co.flush()
    answer = Answer(body=body, headers={"Content-Encoding": encoding})
    with LoopbackServer({"/metrics": answer}) as srv:
        tracemalloc.start()
        try:
            r = scrape(srv.url + "/metrics", HttpSettings(max_bytes=2 << 20))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert not r.ok and r.error is not None and r.error.startswith("page too large"), r.error
    assert peak < 16 << 20, f"{peak / 1e6:.0f} MB held to refuse a 2 MB page"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "deflate-raw"])
def test_compressed_pages_decode_to_the_same_page(encoding: str) -> None:
    wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS,
             "deflate-raw": -zlib.MAX_WBITS}[encoding]
    co = zlib.compressobj(6, zlib.DEFLATED, wbits)
    body = co.compress(PAGE * 2000) + co.flush()  # several reads' worth
    header = "deflate" if encoding == "deflate-raw" else encoding
    with LoopbackServer({"/metrics": Answer(body=body, headers={"Content-Encoding": header})}
                        ) as srv:
        r = scrape(srv.url + "/metrics")
    assert r.ok, r.error
    assert r.size_bytes == len(PAGE) * 2000


def test_a_corrupt_gzip_page_is_said_in_words() -> None:
    body = gzip.compress(PAGE)[:-12] + b"not gzip at all"
    with LoopbackServer({"/metrics": Answer(body=body, headers={"Content-Encoding": "gzip"})}
                        ) as srv:
        r = scrape(srv.url + "/metrics")
    assert not r.ok and r.error is not None and "Traceback" not in r.error


def test_openmetrics_is_parsed_as_openmetrics() -> None:
    body = (PAGES / "openmetrics_corpus.txt").read_bytes()
    ctype = "application/openmetrics-text; version=1.0.0; charset=utf-8"
    with LoopbackServer({"/metrics": Answer(body=body, content_type=ctype)}) as srv:
        r = scrape(srv.url + "/metrics")
    assert r.ok and r.page is not None and r.page.openmetrics
    assert len(r.page.series("http_request_duration_seconds_bucket")) == 3


def test_a_truncated_openmetrics_page_is_refused() -> None:
    body = (PAGES / "openmetrics_corpus.txt").read_bytes().replace(b"# EOF\n", b"")
    ctype = "application/openmetrics-text; version=1.0.0"
    with LoopbackServer({"/metrics": Answer(body=body, content_type=ctype)}) as srv:
        r = scrape(srv.url + "/metrics")
    assert not r.ok and "no '# EOF'" in (r.error or "")


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Answer(status=500, body=b"oops"), "HTTP 500"),
        (Answer(status=401), "HTTP 401: the endpoint needs credentials"),
        (Answer(body=b"<html><body>Login</body></html>", content_type="text/html"),
         "not a metrics page: got HTML"),
        (Answer(body=b'{"error": "nope"}', content_type="application/json"),
         "not a metrics page: got JSON"),
        (Answer(body=b"http_requests_total 1\n\xff\xfe\n"), "not UTF-8 (byte 22)"),
        (Answer(body=b'http_requests_total{status="200" 1\n'), "unparsable page: line 1"),
        (Answer(body=b"http_requests_total 1\nhttp_requests_total 2"),
         "truncated page: line 2 has no final newline"),
        (Answer(body=PAGE, declared_length=len(PAGE) + 100), "connection closed mid-answer"),
    ],
)
def test_bad_answers_mark_the_scrape_failed_with_a_reason(answer: Answer, reason: str) -> None:
    with LoopbackServer({"/metrics": answer}) as srv:
        r = scrape(srv.url + "/metrics")
    assert not r.ok
    assert reason in (r.error or "")


def test_a_refused_connection_says_so() -> None:
    r = scrape(f"http://127.0.0.1:{closed_port()}/metrics")
    assert r.error == "connection refused"


def test_a_server_that_never_answers_times_out_within_the_timeout() -> None:
    with LoopbackServer({"/metrics": Answer(hang=True)}) as srv:
        r = scrape(srv.url + "/metrics", HttpSettings(timeout_s=0.5, connect_timeout_s=0.5))
        srv.assert_cut_off(0.5)  # the server would have held it 60 s
    assert not r.ok and "timeout" in (r.error or "")


def test_a_server_trickling_a_byte_at_a_time_is_cut_off_by_the_overall_deadline() -> None:
    with LoopbackServer({"/metrics": Answer(body=PAGE * 10, trickle_s=0.05)}) as srv:
        r = scrape(srv.url + "/metrics", HttpSettings(timeout_s=0.6, connect_timeout_s=0.5))
        srv.assert_cut_off(0.6)  # each read is quick; the whole page would take minutes
    assert not r.ok and "timeout" in (r.error or "")


@pytest.mark.parametrize("declared", [True, False])
def test_a_page_over_the_size_limit_is_refused_without_reading_it_all(declared: bool) -> None:
    answer = Answer(body=b"x 1\n" * 100_000) if declared else Answer(endless=True)
    with LoopbackServer({"/metrics": answer}) as srv:
        r = scrape(srv.url + "/metrics", HttpSettings(timeout_s=3.0, max_bytes=64 * 1024))
    assert not r.ok and "page too large: over 0.0625 MB" in (r.error or "")


def test_a_redirect_loop_is_reported() -> None:
    with LoopbackServer() as srv:
        srv.routes["/metrics"] = Answer(redirect_to=srv.url + "/metrics")
        r = scrape(srv.url + "/metrics")
    assert "too many redirects" in (r.error or "")


def test_the_session_cookie_from_the_environment_is_sent() -> None:
    with LoopbackServer({"/metrics": Answer(body=PAGE, require_cookie="connect.sid=s3cr3t")}) as s:
        without = scrape(s.url + "/metrics")
        with_cookie = scrape(s.url + "/metrics",
                             HttpSettings(cookies={"connect.sid": "s3cr3t"}))
    assert not without.ok and "401" in (without.error or "")
    assert with_cookie.ok


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_tls_is_verified_and_a_ca_bundle_makes_a_private_ca_trusted(
        self_signed: tuple[Path, Path]) -> None:
    import ssl

    cert, key = self_signed
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    with LoopbackServer({"/metrics": Answer(body=PAGE)}, tls=ctx) as srv:
        refused = scrape(srv.url + "/metrics")
        trusted = scrape(srv.url + "/metrics", HttpSettings(ca_bundle=str(cert)))
    assert not refused.ok and "TLS certificate does not verify" in (refused.error or "")
    assert trusted.ok


def test_health_keeps_the_json_and_its_status() -> None:
    with LoopbackServer({"/api/health": Answer(body=b'{"status":"ok","memory":{"rss":1}}',
                                               content_type="application/json")}) as srv:
        p = probe(srv.url + "/api/health")
    assert p.status == 200 and p.body == {"status": "ok", "memory": {"rss": 1}}
    assert p.error is None


def test_an_unhealthy_answer_keeps_its_body_for_the_engineer_to_read() -> None:
    body = b'{"status":"error","database":"disconnected"}'
    with LoopbackServer({"/api/health": Answer(503, body, "application/json")}) as srv:
        p = probe(srv.url + "/api/health")
    assert p.status == 503 and p.body["database"] == "disconnected"
    assert p.error == "HTTP 503" and p.answered_or_timed_out


def test_a_health_timeout_is_the_backends_fault_and_refused_is_not() -> None:
    with LoopbackServer({"/api/health": Answer(hang=True)}) as srv:
        hung = probe(srv.url + "/api/health", HttpSettings(timeout_s=0.4))
    refused = probe(f"http://127.0.0.1:{closed_port()}/api/health")
    assert hung.status is None and hung.answered_or_timed_out and "timeout" in (hung.error or "")
    assert refused.status is None and not refused.answered_or_timed_out


def test_a_redirect_to_another_host_is_not_followed_with_the_credentials() -> None:
    with LoopbackServer({"/metrics": Answer(body=PAGE)}) as other, LoopbackServer() as srv:
        srv.routes["/metrics"] = Answer(redirect_to=other.url.replace("127.0.0.1", "localhost")
                                        + "/metrics")
        r = scrape(srv.url + "/metrics", HttpSettings(headers={"X-Token": "s3cr3t"},
                                                      cookies={"sid": "c00kie"}))
        assert other.requests == []
    assert not r.ok and "redirected to another origin" in (r.error or "")
    assert "s3cr3t" not in (r.error or "") and "c00kie" not in (r.error or "")


def test_a_redirect_within_the_target_is_followed() -> None:
    with LoopbackServer({"/metrics": Answer(redirect_to="/real"), "/real": Answer(body=PAGE)}) as s:
        r = scrape(s.url + "/metrics", HttpSettings(cookies={"sid": "c00kie"}))
        assert s.requests[1]["headers"].get("Cookie") == "sid=c00kie"
    assert r.ok


class _Lookups:
    """A finder that only counts the searches for one module name (and finds nothing)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname == self.name:
            self.count += 1


def test_a_missing_sniffio_is_looked_for_once_not_on_every_request() -> None:
    # httpcore runs `import sniffio` as it sets up each request's locks; a module found
    # missing must not be searched for on sys.path again at every scrape.
    lookups = _Lookups("sniffio")
    sys.meta_path.insert(0, lookups)
    try:
        with LoopbackServer({"/metrics": Answer(body=PAGE)}) as srv:
            for _ in range(3):
                assert scrape(srv.url + "/metrics").ok
    finally:
        sys.meta_path.remove(lookups)
    assert lookups.count == 0
