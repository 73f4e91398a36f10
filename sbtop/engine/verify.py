"""The post-deployment checklist, judged: each HTTP probe's answer against what it expects, and
the two metric criteria (no increase in the error rate, latency improved or stable) against the
baseline. Pure: the probes' answers come in, checks come out.

A check passes, fails, or is unknown (a figure that cannot be computed right now): unknown is
never counted as a pass. Nothing here ever holds a secret: a probe's headers and body stay in
the probe, and a check says only what was expected and what came back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sbtop import untrusted
from sbtop.engine.figures import Figure
from sbtop.engine.keys import Fig

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
# "*" as an expected JSON value: the field must be there and not null.
PRESENT = "*"
MAX_BODY = 1024 * 1024  # bytes of an answer read for its JSON checks


@dataclass(frozen=True)
class Probe:
    """One checklist item as an HTTP request, secrets already taken from the environment."""

    name: str
    method: str
    url: str
    path: str  # as configured, for showing (the URL's host is the target's)
    expect_status: int = 200
    expect_json: Mapping[str, Any] = field(default_factory=dict)
    timeout_s: float = 10.0
    body: bytes | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    # Environment variables the probe needs that are not set: it is not sent, and fails.
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProbeAnswer:
    status: int | None  # None when no answer came
    body: bytes = b""
    elapsed_ms: float = 0.0
    error: str | None = None  # why no answer came
    location: str | None = None  # where a redirect pointed
    truncated: bool = False  # the body was longer than MAX_BODY


@dataclass(frozen=True)
class Check:
    name: str
    kind: str  # "probe" or "metric"
    result: str  # PASS, FAIL, UNKNOWN
    detail: str  # what was expected and what came, in words
    elapsed_ms: float | None = None
    status: int | None = None
    method: str = ""
    path: str = ""


@dataclass(frozen=True)
class Tolerances:
    """How much worse than the baseline still counts as 'no increase' and 'stable'."""

    p95_pct: float = 10.0  # p95 may be this much above the baseline's
    error_rate_pts: float = 0.1  # the 5xx share may be this many points above the baseline's


def judge_probe(probe: Probe, answer: ProbeAnswer | None) -> Check:
    def check(result: str, detail: str) -> Check:
        return Check(probe.name, "probe", result, detail,
                     answer.elapsed_ms if answer else None,
                     answer.status if answer else None, probe.method, probe.path)

    if probe.missing:
        names = ", ".join(f"${v}" for v in probe.missing)
        return check(FAIL, f"not sent: needs {names} (not set)")
    if answer is None or answer.status is None:
        return check(FAIL, f"no answer: {answer.error if answer else 'not run'}")
    took = f" in {answer.elapsed_ms:.0f} ms"
    if answer.status != probe.expect_status:
        where = f" (to {answer.location})" if answer.location else ""
        return check(FAIL, f"expected {probe.expect_status}, got {answer.status}{where}{took}")
    if probe.expect_json:
        problem = _json_problem(probe.expect_json, answer)
        if problem:
            return check(FAIL, f"{answer.status}{took}, but {problem}")
    return check(PASS, f"{answer.status}{took}")


def _json_problem(expected: Mapping[str, Any], answer: ProbeAnswer) -> str | None:
    if answer.truncated:
        return f"the body is over {MAX_BODY // 1024} KB: its JSON was not read"
    try:
        doc = json.loads(answer.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "the body is not JSON"
    except RecursionError:
        return "the body's JSON is nested too deep to read"
    for path, want in expected.items():
        found, value = _at(doc, path)
        if not found or value is None:
            return f"{path} is missing"
        if want == PRESENT:
            continue
        if not _same(value, want):
            return f"{path} is {_short(value)}, expected {_short(want)}"
    return None


def _at(doc: Any, path: str) -> tuple[bool, Any]:
    """The value at a dotted path ('user.id', 'tasks.0.title'); (False, None) when absent."""
    node = doc
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def _same(value: Any, want: Any) -> bool:
    if isinstance(want, bool) or isinstance(value, bool):
        return value is want
    if isinstance(want, int | float) and isinstance(value, int | float):
        return float(value) == float(want)
    return bool(value == want)


def _short(value: Any) -> str:
    """A value from the answer's JSON, shown briefly and safely."""
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return untrusted.line(text if len(text) <= 40 else text[:39] + "…")


def metric_checks(figures: Mapping[str, Figure], baseline: Mapping[str, float | None] | None,
                  tol: Tolerances) -> list[Check]:
    """'No increase in error rate' and 'latency improved or stable', against the baseline (the
    canary's, captured before the first step). Without one, against the runbook's thresholds,
    and said so."""
    base = baseline or {}
    return [
        _not_worse(figures.get(Fig.ERROR_RATE_5XX_PCT), base.get(Fig.ERROR_RATE_5XX_PCT),
                   "no increase in error rate", "5xx", lambda b: b + tol.error_rate_pts,
                   f"+{tol.error_rate_pts:g} pts", "%"),
        _not_worse(figures.get(Fig.LATENCY_P95_MS), base.get(Fig.LATENCY_P95_MS),
                   "latency improved or stable", "p95", lambda b: b * (1 + tol.p95_pct / 100),
                   f"+{tol.p95_pct:g} %", " ms"),
    ]


def _not_worse(f: Figure | None, base: float | None, name: str, label: str,
               allowed: Any, margin: str, unit: str) -> Check:
    def fmt(x: float) -> str:
        return f"{x:.2f}%" if unit == "%" else f"{x:.0f}{unit}"

    if f is None or f.value is None or f.stale_s is not None:
        why = (f.reason if f is not None and f.reason else "not measured")
        return Check(name, "metric", UNKNOWN, f"{label} unknown: {why}")
    now = f.value
    if base is not None and math.isfinite(base):
        limit = allowed(base)
        ok = now <= limit
        detail = (f"{label} {fmt(now)} {'<=' if ok else '>'} baseline {fmt(base)} {margin} "
                  f"({fmt(limit)})")
        return Check(name, "metric", PASS if ok else FAIL, detail)
    t = f.threshold
    bound = t.warning if t is not None else None
    if bound is None:
        return Check(name, "metric", UNKNOWN, f"{label} {fmt(now)}: no baseline and no "
                     "threshold to judge it by")
    ok = now <= bound
    return Check(name, "metric", PASS if ok else FAIL,
                 f"{label} {fmt(now)} {'<=' if ok else '>'} {fmt(bound)} (no baseline: judged "
                 "by the warning threshold)")


def verdict(checks: Sequence[Check]) -> tuple[str, int]:
    """The overall result and the exit code: 0 all pass, 2 any fails, 3 none fails but some
    could not be judged."""
    if any(c.result == FAIL for c in checks):
        return FAIL, 2
    if any(c.result == UNKNOWN for c in checks) or not checks:
        return UNKNOWN, 3
    return PASS, 0
