"""What the sources hand the engine each tick: results with their times, or why they failed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sbtop.engine.exposition import Page
from sbtop.engine.statements import StatementsPoll


@dataclass(frozen=True, slots=True)
class MetricsScrape:
    """One scrape of /metrics. `t` is monotonic seconds (for rates), `wall` is epoch seconds."""

    t: float
    wall: float
    page: Page | None
    error: str | None = None
    elapsed_ms: float = 0.0
    size_bytes: int = 0
    instance: str = ""  # which instance, when a target lists several metrics URLs

    @property
    def ok(self) -> bool:
        return self.page is not None


@dataclass(frozen=True, slots=True)
class HealthProbe:
    """One GET of the health path."""

    t: float
    wall: float
    status: int | None  # HTTP status, None when no answer came
    body: Any = None  # parsed JSON, or the first part of a non-JSON body as text
    error: str | None = None
    # A timeout or an HTTP error status is the backend's fault (critical); a refused connection
    # or a DNS failure may be ours, so sbtop cannot say (unknown).
    answered_or_timed_out: bool = True
    elapsed_ms: float = 0.0


# Session states as PostgreSQL names them (CockroachDB's are mapped onto these).
DB_STATES = ("active", "idle", "idle in transaction", "idle in transaction (aborted)")


@dataclass(frozen=True, slots=True)
class DbSession:
    """One session or query for the longest-running table (and for cancelling)."""

    id: str  # PostgreSQL pid, or CockroachDB session id
    user: str | None = None
    application: str | None = None
    client: str | None = None
    state: str | None = None
    duration_s: float | None = None
    wait: str | None = None
    query: str | None = None
    # What a cancel names: the pid on PostgreSQL, the query id on CockroachDB.
    cancel_id: str | None = None
    # When the session and its query began (as the server wrote them): a cancel checks both
    # still hold, so it can only stop the query that was confirmed.
    backend_start: str | None = None
    query_start: str | None = None


@dataclass(frozen=True, slots=True)
class DbSnapshot:
    """One poll of the database's sessions. `error` set means the poll failed."""

    t: float
    wall: float
    error: str | None = None
    kind: str = "postgresql"  # or "cockroachdb"
    states: dict[str, int] = field(default_factory=dict)  # DB_STATES -> count
    total: int | None = None  # client sessions, sbtop's own left out
    waiting: int | None = None  # sessions waiting on a lock; None where it cannot be known
    capacity: int | None = None  # connections clients may open; None when unlimited/unknown
    capacity_note: str = ""
    # The count compared with the capacity: the total, or on CockroachDB the busiest node's.
    pressure: int | None = None
    pool_sessions: int | None = None  # sessions counted against db.pool_size
    hidden: int = 0  # sessions whose state this role may not see
    longest: tuple[DbSession, ...] = ()
    oldest_xact: DbSession | None = None
    blocked: tuple[tuple[str, str], ...] = ()  # (blocked, blocking) ids
    poll_ms: float = 0.0
    version: str = ""


@dataclass(frozen=True, slots=True)
class InstanceStatus:
    name: str
    up: bool
    error: str | None = None
    p95_ms: float | None = None


@dataclass(frozen=True, slots=True)
class ExternalAlert:
    """An alert as Prometheus reports it (shown beside sbtop's own)."""

    name: str
    state: str
    since: str | None = None  # RFC 3339, as Prometheus writes activeAt
    severity: str | None = None
    summary: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    # Whose it is, by the target's selector: "target"; "unlabelled" when it carries none of
    # the selector's labels, "unchosen" when no target could be chosen (both shown, not
    # counted: it may be another target's).
    scope: str = "target"

    @property
    def counted(self) -> bool:
        return self.scope == "target"


@dataclass(frozen=True, slots=True)
class PromSnapshot:
    """One round of PromQL queries: rate() vectors over the window, every query evaluated at
    the same instant (`at`). `error` is set when Prometheus could not be read at all;
    `refusal` when it was read but holds nothing sbtop may add up (no such metrics, or several
    jobs and no selector); `failures` names the queries that failed, with why."""

    t: float
    wall: float
    error: str | None = None
    window_s: float = 60.0
    at: float | None = None
    selector: str = ""  # the selector used: configured, or the job sbtop chose
    scope_note: str | None = None  # how it was chosen
    refusal: str | None = None
    present: frozenset[str] = frozenset()  # metric names that have series
    declared: frozenset[str] = frozenset()  # names the targets declare (TYPE), series or not
    vectors: Mapping[str, tuple[tuple[Mapping[str, str], float], ...]] = field(
        default_factory=dict)
    failures: Mapping[str, str] = field(default_factory=dict)
    instances: tuple[InstanceStatus, ...] = ()
    alerts: tuple[ExternalAlert, ...] = ()
    alerts_error: str | None = None  # why Prometheus's alerts could not be read
    # Why the round's parts were asked one by one, not as one query; None: one query.
    part_by_part: str | None = None
    elapsed_ms: float = 0.0
    queries: int = 0  # HTTP requests this round sent
    # What could not be read beside the figures (the targets, the alerts), in words.
    problems: tuple[str, ...] = ()
    # When the instances and the alerts were read (wall): they are read every few seconds,
    # not every round, so each says its own age. None: not read for this round.
    targets_read_at: float | None = None
    alerts_read_at: float | None = None
    # When the error-budget burn parts were evaluated (they are asked every few rounds, not
    # every round); None: not asked this round.
    burn_at: float | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    t: float
    wall: float
    metrics: MetricsScrape | None = None
    health: HealthProbe | None = None
    db: DbSnapshot | None = None
    prom: PromSnapshot | None = None
    # One scrape per instance, when the target lists several metrics URLs (then `metrics`
    # is None): summed into the target's figures, each instance also shown on its own.
    fleet: tuple[MetricsScrape, ...] = ()
    # The database's statement statistics, when read this tick (less often than sessions).
    statements: StatementsPoll | None = None
