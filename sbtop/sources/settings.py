"""What the HTTP sources are told: plain frozen settings and their defaults, no I/O.

Apart from sbtop.sources.http and .prometheus so that whoever builds them (the config) loads
no HTTP client: `sbtop rules --no-detect` reads the config and must not import httpx. Those
modules re-export these names, so `from sbtop.sources.http import HttpSettings` keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_MAX_SAMPLES = 50_000
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_ANSWER_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class HttpSettings:
    connect_timeout_s: float = 3.0
    # The whole request, from connecting to the last byte: a server that trickles a byte at a
    # time must not hold a tick forever.
    timeout_s: float = 5.0
    verify_tls: bool = True
    ca_bundle: str | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    # Samples kept from the families sbtop reads (Prometheus's sample_limit, counted after the
    # unwanted families are dropped): a label explosion past it fails the scrape instead of
    # making sbtop hold hundreds of thousands of series.
    max_samples: int = DEFAULT_MAX_SAMPLES
    gzip: bool = True
    # Resolved from the environment by sbtop.config; never written to a file or shown.
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    cookies: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class PromSettings:
    url: str
    selector: str = ""  # label matchers for every metric, e.g. job="studybuddy"
    timeout_s: float = 5.0  # each call's whole answer, connect to last byte
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    # An answer larger is refused before it is parsed: JSON takes many times its size in
    # memory. A round's vectors for a big app are well under a megabyte; the targets list of
    # a Prometheus shared by thousands of targets is the largest answer sbtop asks for.
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES
