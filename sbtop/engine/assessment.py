"""The engine's one output: an immutable, judged picture of the target at one tick."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sbtop.engine.alerts import Alert
from sbtop.engine.cohorts import Cohorts, cohorts_dict
from sbtop.engine.figures import Figure
from sbtop.engine.levels import Level
from sbtop.engine.observations import DbSnapshot, ExternalAlert, InstanceStatus
from sbtop.engine.routes import Routes, RouteStat
from sbtop.engine.statements import StatementsView, statements_dict


@dataclass(frozen=True, slots=True)
class SourceStatus:
    name: str
    up: bool
    error: str | None = None
    last_ok_wall: float | None = None
    checked_wall: float | None = None
    elapsed_ms: float | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Assessment:
    target: str
    tick: int
    t: float
    wall: float
    level: Level
    figures: Mapping[str, Figure]
    routes: Routes
    alerts: tuple[Alert, ...]
    sources: Mapping[str, SourceStatus]
    window_s: float | None = None  # the span the rate figures cover, when there is one
    health_body: Any = None
    notes: tuple[str, ...] = ()
    production: bool = False
    db: DbSnapshot | None = None  # the latest good poll, for the sessions table
    instances: tuple[InstanceStatus, ...] = ()  # per instance, when Prometheus is read
    external_alerts: tuple[ExternalAlert, ...] = ()  # Prometheus's own alerts
    # Why Prometheus's alerts could not be read (then the level cannot be ok: one may fire).
    external_alerts_error: str | None = None
    # The database's statement statistics over the window (None: not read, no database).
    statements: StatementsView | None = None
    # The canary cohort against the stable one; None: no cohort label configured.
    cohorts: Cohorts | None = None


def iso(wall: float | None) -> str | None:
    if wall is None:
        return None
    return dt.datetime.fromtimestamp(wall, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _num(x: float | None) -> float | int | None:
    if x is None or not math.isfinite(x):
        return None
    if float(x).is_integer() and abs(x) < 2**53:
        return int(x)
    return round(x, 3)


# The level of a figure that is known but has no threshold (p50, requests/s, 4xx, lag): it is
# shown, not judged, and does not count in the overall level. Saying "ok" of it would be a
# verdict nobody made.
SHOWN = "shown"


def figure_level(f: Figure) -> str:
    """A figure's level as check prints it: its judged level, "unknown" without a value (judged
    or not), else "shown"."""
    return f.level.value if f.judged or f.value is None else SHOWN


def figure_dict(f: Figure) -> dict[str, Any]:
    # "level" keeps the contract's four words (scripts map them); "judged" says whether a
    # threshold made it (false: shown, not judged, and not counted in the overall level).
    out: dict[str, Any] = {"value": _num(f.value), "level": f.level.value,
                           "judged": f.judged}
    if f.threshold is not None:
        if f.threshold.warning is not None:
            out["warning"] = _num(f.threshold.warning)
        if f.threshold.critical is not None:
            out["critical"] = _num(f.threshold.critical)
        if not f.threshold.above:
            out["below"] = True
    if f.unit:
        out["unit"] = f.unit
    if f.reason is not None:
        out["reason"] = f.reason
    if f.stale_s is not None:
        out["stale_s"] = round(f.stale_s, 1)
    for k, v in f.detail.items():
        if k not in out:
            out[k] = _detail_value(v)
    return out


def _detail_value(v: Any) -> Any:
    if isinstance(v, float):
        return _num(v)
    if isinstance(v, tuple | list):
        return [_num(x) if isinstance(x, float) else x for x in v]
    return v


def route_dict(r: RouteStat) -> dict[str, Any]:
    return {
        "method": r.method,
        "route": r.route,
        "requests": _num(r.requests),
        "requests_per_s": _num(r.requests_per_s),
        "p95_ms": _num(r.p95_ms),
        "error_rate_5xx_pct": _num(r.error_5xx_pct),
        "error_rate_4xx_pct": _num(r.error_4xx_pct),
    }


def _finite_json(obj: Any) -> Any:
    """JSON has no NaN or Infinity: a health body that holds them gets nulls instead."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite_json(v) for v in obj]
    return obj


def to_dict(a: Assessment) -> dict[str, Any]:
    """The `sbtop check --json` object (DESIGN.md's contract)."""
    return {
        "level": a.level.value,
        "target": a.target,
        "time": iso(a.wall),
        "window_s": None if a.window_s is None else round(a.window_s, 3),
        "figures": {k: figure_dict(f) for k, f in a.figures.items()},
        "alerts": [
            {
                "source": "sbtop",
                "name": al.name,
                "state": al.state.value,
                "since": iso(al.since_wall),
                "severity": al.rule.severity.value,
                "value": _num(al.value),
                "summary": al.rule.summary,
            }
            for al in a.alerts
        ] + [
            {"name": x.name, "state": x.state, "since": x.since, "severity": x.severity,
             "summary": x.summary, "source": "prometheus", "counted": x.counted}
            for x in a.external_alerts
        ],
        "routes": {
            "slowest": [route_dict(r) for r in a.routes.slowest],
            "failing": [route_dict(r) for r in a.routes.failing],
            **({"reason": a.routes.reason} if a.routes.reason else {}),
        },
        "sources": {
            name: {
                "up": s.up,
                "error": s.error,
                **({"elapsed_ms": round(s.elapsed_ms, 1)} if s.elapsed_ms is not None else {}),
                **{k: v for k, v in s.detail.items() if v is not None},
            }
            for name, s in a.sources.items()
        },
        "health": _finite_json(a.health_body),
        **({"instances": [{"instance": i.name, "up": i.up, "error": i.error,
                           "p95_ms": _num(i.p95_ms)} for i in a.instances]}
           if a.instances else {}),
        **({"alerts_error": a.external_alerts_error} if a.external_alerts_error else {}),
        **({"statements": statements_dict(a.statements)} if a.statements is not None else {}),
        **({"cohorts": cohorts_dict(a.cohorts)} if a.cohorts is not None else {}),
        "notes": list(a.notes),
    }
