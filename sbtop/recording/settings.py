"""What a recording's header says about the target it was taken from: plain frozen values
built by the composition root (no URL and no secret: a recording travels into incident
reviews)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sbtop.engine.gate import GateSettings
from sbtop.engine.levels import Threshold
from sbtop.engine.window import PlanSettings


@dataclass(frozen=True)
class RecordingSettings:
    target: str
    production: bool = False
    window_s: float = 60.0
    thresholds: Mapping[str, Threshold] = field(default_factory=dict)
    flag: str = "PERF_OPTIMIZATIONS_ENABLED"  # the canary's feature flag
    gate: GateSettings = field(default_factory=GateSettings)
    plan: PlanSettings | None = None  # the deploy window (replay judges it again)
