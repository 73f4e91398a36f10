"""What a recording says about itself (the header) and about the canary each tick: one place,
used by both `sbtop record` and the console's --record, read back by replay and timeline."""

from __future__ import annotations

from typing import Any

from sbtop.actions.factory import gate_settings
from sbtop.actions.state import CanaryState
from sbtop.config import Target
from sbtop.engine.gate import GateSettings
from sbtop.engine.levels import Threshold


def header(target: Target, refresh_s: float, started_wall: float) -> dict[str, Any]:
    """No URL and no secret: a recording travels into incident reviews."""
    g = gate_settings(target)
    return {
        "target": target.name,
        "production": target.production,
        "started": started_wall,
        "refresh_s": refresh_s,
        "window_s": target.engine.window_s,
        "thresholds": {k: [t.warning, t.critical, t.above]
                       for k, t in target.engine.thresholds.items()},
        "canary": {"flag": target.canary.flag, "steps": list(g.steps),
                   "soak_s": {str(k): v for k, v in g.soak_s.items()},
                   "max_5xx_pct": g.max_5xx_pct,
                   "max_p95_regression_pct": g.max_p95_regression_pct,
                   "max_db_connections_pct": g.max_db_connections_pct},
    }


def canary_record(c: CanaryState) -> dict[str, Any]:
    return {"percent": c.percent, "step_started_wall": c.step_started_wall,
            "baseline_p95_ms": c.baseline.get("latency_p95_ms"), "read_error": c.read_error}


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
