"""What a recording says about itself (the header) and about the canary each tick: one place,
used by both `sbtop record` and the console's --record, read back by replay and timeline."""

from __future__ import annotations

import math
from typing import Any

from sbtop.actions.state import CanaryState
from sbtop.engine.gate import GateSettings
from sbtop.engine.keys import Fig
from sbtop.engine.levels import Threshold
from sbtop.engine.wellformed import MAX_TIME
from sbtop.recording import plan_events
from sbtop.recording.settings import RecordingSettings


def header(settings: RecordingSettings, refresh_s: float,
           started_wall: float) -> dict[str, Any]:
    """No URL and no secret: a recording travels into incident reviews."""
    g = settings.gate
    return {
        "target": settings.target,
        "production": settings.production,
        "started": started_wall,
        "refresh_s": refresh_s,
        "window_s": settings.window_s,
        "thresholds": {k: [t.warning, t.critical, t.above]
                       for k, t in settings.thresholds.items()},
        "canary": {"flag": settings.flag, "steps": list(g.steps),
                   "soak_s": {str(k): v for k, v in g.soak_s.items()},
                   "max_5xx_pct": g.max_5xx_pct,
                   "max_p95_regression_pct": g.max_p95_regression_pct,
                   "max_db_connections_pct": g.max_db_connections_pct},
        **({"plan": plan_events.settings_record(settings.plan)} if settings.plan else {}),
    }


def canary_record(c: CanaryState) -> dict[str, Any]:
    return {"percent": c.percent, "step_started_wall": c.step_started_wall,
            "baseline_p95_ms": c.baseline.get(Fig.LATENCY_P95_MS), "read_error": c.read_error}


def thresholds(head: dict[str, Any]) -> dict[str, Threshold]:
    out = {}
    for k, v in (head.get("thresholds") or {}).items():
        if isinstance(v, list) and len(v) == 3:
            out[str(k)] = Threshold(v[0], v[1], bool(v[2]))
    return out


def gate(head: dict[str, Any]) -> GateSettings:
    c = head.get("canary") or {}
    d = GateSettings()
    try:
        return GateSettings(
            steps=tuple(int(s) for s in c.get("steps", d.steps)),
            soak_s={int(k): float(v) for k, v in (c.get("soak_s") or {}).items()},
            max_5xx_pct=float(c.get("max_5xx_pct", d.max_5xx_pct)),
            max_p95_regression_pct=float(c.get("max_p95_regression_pct",
                                               d.max_p95_regression_pct)),
            max_db_connections_pct=float(c.get("max_db_connections_pct",
                                               d.max_db_connections_pct)))
    except (TypeError, ValueError, AttributeError):
        return d  # a hand-edited header: the runbook's plan rather than nothing


def check_header(head: dict[str, Any]) -> None:
    """Raise ValueError, saying which field and why, unless the header is one sbtop could have
    written: replay and timeline take its figures as they are. A field missing is left to
    the defaults; one of the wrong type or out of range is not guessed at."""
    for key, check in _HEADER.items():
        if key in head:
            try:
                check(head[key])
            except ValueError as e:
                raise ValueError(f"the header's {key} {e}") from None


def _text(v: Any) -> None:
    if not isinstance(v, str):
        raise ValueError(f"is {_shown(v)}, not text")


def _flag(v: Any) -> None:
    if not isinstance(v, bool):
        raise ValueError(f"is {_shown(v)}, not true or false")


def _number(v: Any, lo: float = -math.inf, hi: float = math.inf) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ValueError(f"is {_shown(v)}, not a finite number")
    if not lo <= v <= hi:
        raise ValueError(f"is {_shown(v)}, out of range ({lo:g} to {hi:g})")
    return float(v)


def _seconds(hi: float) -> Any:
    def check(v: Any) -> None:
        if _number(v, 0, hi) == 0:
            raise ValueError("is 0")
    return check


def _thresholds(v: Any) -> None:
    if not isinstance(v, dict):
        raise ValueError(f"is {_shown(v)}, not an object")
    for name, t in v.items():
        if not (isinstance(t, list) and len(t) == 3 and isinstance(t[2], bool)):
            raise ValueError(f"{name} is {_shown(t)}, not [warning, critical, above]")
        try:
            for bound in t[:2]:
                if bound is not None:
                    _number(bound)
        except ValueError as e:
            raise ValueError(f"{name}: a bound {e}") from None


def _canary(v: Any) -> None:
    if not isinstance(v, dict):
        raise ValueError(f"is {_shown(v)}, not an object")
    if v.get("flag") is not None:
        _text(v["flag"])
    steps = v.get("steps", [])
    if not isinstance(steps, list):
        raise ValueError(f"steps is {_shown(steps)}, not a list")
    for step in steps:
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= 100:
            raise ValueError(f"step {_shown(step)} is not a percentage")
    soak = v.get("soak_s", {})
    if not isinstance(soak, dict):
        raise ValueError(f"soak_s is {_shown(soak)}, not an object")
    for step, seconds in soak.items():
        if not str(step).isdigit():
            raise ValueError(f"soak_s has step {_shown(step)}, not a percentage")
        _number(seconds, 0)
    for key in ("max_5xx_pct", "max_p95_regression_pct", "max_db_connections_pct"):
        if key in v:
            _number(v[key])


def _shown(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:40] + "…"


_HEADER = {
    "sbtop": _text,
    "target": _text,
    "production": _flag,
    "started": lambda v: _number(v, 0, MAX_TIME),
    "refresh_s": _seconds(3600),
    "window_s": _seconds(7 * 86400),
    "thresholds": _thresholds,
    "canary": _canary,
}
