"""`sbtop verify`: the runbook's post-deployment checklist. The HTTP probes go out all at once
while the metric window runs, so the whole takes about the window. No Textual."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from sbtop.engine.assessment import Assessment, iso
from sbtop.engine.figures import Figure
from sbtop.engine.levels import Level
from sbtop.engine.verify import (
    FAIL,
    PASS,
    UNKNOWN,
    Check,
    judge_probe,
    metric_checks,
    verdict,
)
from sbtop.sources.probes import run_all
from sbtop.wiring import VerifySettings

# An item that could not be judged says UNKN, the word check and the console use for unknown.
MARK = {PASS: "PASS", FAIL: "FAIL", UNKNOWN: Level.UNKNOWN.mark}


@dataclass(frozen=True)
class Baseline:
    values: Mapping[str, float | None]
    source: str  # where it came from, in words


@dataclass(frozen=True)
class Report:
    target: str
    wall: float
    checks: tuple[Check, ...]
    result: str
    exit_code: int
    baseline: Baseline | None


async def probe_checks(settings: VerifySettings) -> list[Check]:
    """Every checklist probe, sent at once and judged."""
    probes = settings.probes()
    if not probes:
        return []
    if not settings.base_url:
        return [Check(p.name, "probe", FAIL, "not sent: the target has no base_url",
                      method=p.method, path=p.path) for p in probes]
    answers = await run_all(probes, settings.http)
    return [judge_probe(p, a) for p, a in zip(probes, answers, strict=True)]


def judge(settings: VerifySettings, probes: list[Check],
          figures: Mapping[str, Figure], baseline: Baseline | None, wall: float) -> Report:
    checks = (*probes, *metric_checks(figures, baseline.values if baseline else None,
                                      settings.tolerances))
    result, code = verdict(checks)
    return Report(settings.target, wall, checks, result, code, baseline)


async def run(settings: VerifySettings, figures: Coroutine[Any, Any, Assessment],
              baseline: Baseline | None) -> Report:
    """The probes, while `figures` (the metric window: check's) runs beside them."""
    window: asyncio.Task[Assessment] = asyncio.create_task(figures)
    probes = await probe_checks(settings)
    assessment = await window
    return judge(settings, probes, assessment.figures, baseline, assessment.wall)


def as_json(r: Report) -> str:
    counts = {k: sum(c.result == k for c in r.checks) for k in (PASS, FAIL, UNKNOWN)}
    out: dict[str, Any] = {
        "result": r.result,
        "target": r.target,
        "time": iso(r.wall),
        "passed": counts[PASS], "failed": counts[FAIL], "unknown": counts[UNKNOWN],
        "baseline": ({**{k: v for k, v in r.baseline.values.items()}, "from": r.baseline.source}
                     if r.baseline else None),
        "checks": [{
            "name": c.name, "kind": c.kind, "result": c.result, "detail": c.detail,
            **({"method": c.method, "path": c.path} if c.kind == "probe" else {}),
            **({"status": c.status} if c.status is not None else {}),
            **({"elapsed_ms": round(c.elapsed_ms, 1)} if c.elapsed_ms is not None else {}),
        } for c in r.checks],
    }
    return json.dumps(out, indent=2, allow_nan=False)


def as_text(r: Report, base_url: str = "") -> str:
    failed = sum(c.result == FAIL for c in r.checks)
    unknown = sum(c.result == UNKNOWN for c in r.checks)
    passed = len(r.checks) - failed - unknown
    tally = ", ".join(f"{n} {w}" for n, w in ((failed, "failed"), (unknown, "unknown"),
                                              (passed, "passed")) if n)
    lines = [f"sbtop verify: {r.target} {base_url}  -> {MARK[r.result]} ({tally})"
             .replace("  ", " ", 1)]
    name_w = max((len(c.name) for c in r.checks), default=10)
    req_w = max((len(f"{c.method} {c.path}") for c in r.checks if c.kind == "probe"),
                default=0)
    for c in r.checks:
        req = f"{c.method} {c.path}" if c.kind == "probe" else ""
        lines.append(f"  {MARK[c.result]}  {c.name:<{name_w}}  {req:<{req_w}}  {c.detail}"
                     .rstrip())
    if r.baseline is None:
        lines.append("  baseline: none (take one with B in the console, or give "
                     "--baseline-p95/--baseline-5xx): judged by the thresholds")
    else:
        lines.append(f"  baseline: {r.baseline.source}")
    if not any(c.kind == "probe" for c in r.checks):
        lines.append("  no checklist items: add [[verify]] entries to the config "
                     "(config.example.toml has StudyBuddy's)")
    return "\n".join(lines)
