"""What the sources are told: plain frozen settings and their defaults, no I/O.

`CollectorSettings` is all a Collector is told: where each source is and how to read it. The
composition root (sbtop.config) builds it once from the config, the command line and the
environment.

Apart from the sources themselves so that whoever builds them (the config) loads no HTTP or
database client: `sbtop rules --no-detect` reads the config and must not import httpx. The
sources re-export these names, so `from sbtop.sources.http import HttpSettings` and
`from sbtop.sources.database import DbSettings` keep working.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sbtop.engine.settings import EngineSettings

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


@dataclass(frozen=True, slots=True)
class DbSettings:
    connect_timeout_s: float = 3.0
    statement_timeout_s: float = 2.0
    # Count only the sessions of the DSN's database (a cluster shared by several apps); the
    # capacity stays the server's.
    only_database: bool = False
    pool_user: str = ""  # count only this role's sessions against the pool; "" = all
    max_backoff_s: float = 30.0
    # Statement statistics (pg_stat_statements, CockroachDB's): read at most this often,
    # sessions every tick; off: never read.
    statements: bool = True
    statements_every_s: float = 10.0


@dataclass(frozen=True)
class CollectorSettings:
    """One target's sources. The engine's settings come along because the sources read by
    them: the metric names decide which samples a scrape keeps, and with Prometheus the names
    and the window are the queries."""

    engine: EngineSettings
    http: HttpSettings = field(default_factory=HttpSettings)
    metrics_url: str | None = None  # one instance's metrics (None when several are listed)
    # Several instances scraped directly: instance name -> metrics URL.
    instances: dict[str, str] = field(default_factory=dict)
    health_url: str | None = None
    health_interval_s: float = 5.0
    prometheus: PromSettings | None = None  # set: the figures come from Prometheus
    db: DbSettings = field(default_factory=DbSettings)
    dsn: str | None = field(default=None, repr=False)  # the database is polled when set
