"""What a session publishes: one Snapshot per tick (and between ticks when the data's freshness,
the canary or a replay's position changes), and Notices to show the user."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal, TypeAlias

from sbtop.actions.state import CanaryState
from sbtop.engine.assessment import Assessment
from sbtop.engine.gate import Gate
from sbtop.engine.history import History
from sbtop.engine.levels import Threshold
from sbtop.engine.page_changes import PageChange
from sbtop.engine.status_pages import PageStatus
from sbtop.engine.window import Window


class Cause(enum.Enum):
    """Why a snapshot was published: what changed since the one before."""

    TICK = "tick"  # a new assessment (live: a tick; replay: a tick passed or sought)
    FRESHNESS = "freshness"  # the data aged (STALE, DOWN) or is fresh again, between ticks
    CANARY = "canary"  # the flag was read, an action ended, a baseline was taken
    POSITION = "position"  # replay: playing, paused, the speed, the place in the recording
    STATUS_PAGES = "status_pages"  # a provider's status page was polled
    PLAN = "plan"  # the deploy window: a phase acted on, a pre-flight item checked


class Fresh(enum.Enum):
    NONE = "none"  # nothing to judge yet (no tick, or no metrics source)
    FRESH = "fresh"
    STALE = "stale"  # the last good data is older than one refresh and a margin
    DOWN = "down"  # the metrics source failed on its last try


@dataclass(frozen=True, slots=True)
class Freshness:
    state: Fresh = Fresh.NONE
    age_s: float | None = None  # since the metrics were last read fine
    waiting_s: float = 0.0  # how long the tick in flight has waited on its answer
    reason: str | None = None  # the metrics source's error, when it is down


@dataclass(frozen=True, slots=True)
class Position:
    """Where a replay is: the tick shown (its wall time) within the recording."""

    wall: float
    start: float
    end: float
    playing: bool
    speed: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    cause: Cause
    assessment: Assessment | None  # the latest (None before the first tick)
    history: History  # shared rings: subscribers only read them
    canary: CanaryState | None  # None: no canary (no provider, or none recorded)
    gate: Gate | None
    freshness: Freshness
    t: float  # when this was published (monotonic; a replay's: the recorded tick's)
    wall: float
    ticks: int  # assessments published so far (a tick that failed is a Notice instead)
    position: Position | None = None  # replay only
    status_pages: tuple[PageStatus, ...] = ()  # providers' pages as last polled (or recorded)
    # What the poll behind a STATUS_PAGES snapshot changed ("Render went degraded"): the
    # event a notifier acts on. Empty otherwise, and in a replay (nothing happens now).
    page_changes: tuple[PageChange, ...] = ()
    # The deploy window judged now (None: no [plan]); see sbtop.session.plan for the API.
    plan: Window | None = None


Severity: TypeAlias = Literal["information", "warning", "error"]


@dataclass(frozen=True, slots=True)
class Notice:
    """Something to tell the user once (a recording stopped, a tick not fully shown)."""

    text: str
    severity: Severity = "information"
    timeout: float | None = None


Update: TypeAlias = Snapshot | Notice


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What a face shows about the session before the first tick: the header, which panels."""

    name: str
    production: bool
    base_url: str  # what the header shows (a replay: which file)
    read_only: bool
    database: bool  # a database is polled (its panel has something to show)
    canary: bool  # the canary panel is shown
    thresholds: dict[str, Threshold]  # for the charts' lines


def stale_after(refresh_s: float) -> float:
    """Data older than this is stale: one refresh plus a margin for a slow answer."""
    return refresh_s + max(0.5, 0.5 * refresh_s)


def judge_freshness(a: Assessment | None, now_t: float, now_wall: float,
                    in_flight_since: float | None, refresh_s: float) -> Freshness:
    """How old the metrics on screen are, and whether their source is down."""
    metrics = a.sources.get("metrics") if a is not None else None
    if metrics is None:
        return Freshness()
    last_ok = metrics.last_ok_wall
    age = now_wall - last_ok if last_ok is not None else None
    waiting = now_t - in_flight_since if in_flight_since is not None else 0.0
    if not metrics.up:
        return Freshness(Fresh.DOWN, age, waiting, metrics.error)
    if age is not None and age > stale_after(refresh_s):
        return Freshness(Fresh.STALE, age, waiting)
    return Freshness(Fresh.FRESH, age, waiting)
