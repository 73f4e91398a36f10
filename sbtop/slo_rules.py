"""`sbtop rules`' error-budget part, one group: a recording rule per SLO and window (the
share of bad requests, Sloth's and Pyrra's shape:
`sbtop:slo_errors_ratio:rate5m{slo="availability"}`), the objective as a recording rule, and the
SRE workbook's multi-window alerts (two pages and a ticket) on the recorded ratios. The windows
and factors are sbtop.engine.slo's, so Prometheus pages when the console's pairs would."""

from __future__ import annotations

import json

from sbtop.engine.burn_promql import (
    OBJECTIVE_RECORD,
    RULE_WINDOWS,
    latency_bound,
    ratio_expr,
    record_name,
)
from sbtop.engine.settings import EngineSettings
from sbtop.engine.shape import Shape
from sbtop.engine.slo import PAIRS, alert_name, describe


def _labels(pairs: list[tuple[str, str]], indent: str) -> list[str]:
    return [f"{indent}{name}: {json.dumps(value)}" for name, value in pairs]


def _bound_note(settings: EngineSettings, shape: Shape) -> str:
    threshold_s = settings.slo.latency_threshold_ms / 1000
    bound = latency_bound(settings, shape)
    if shape.bounds is None or bound is None:
        return (f"# (read at the bucket le=\"{threshold_s:g}\": the latency SLO's threshold "
                "must be one of the histogram's bounds here)")
    if bound > threshold_s * (1 + 1e-9):
        # As the console reads it: a request between the two counts as fast.
        return (f"# (read at the bucket le=\"{bound:g}\", the app's nearest bound over "
                f"{settings.slo.latency_threshold_ms:g} ms: the budget's use is under-read)")
    return f"# (read at the bucket le=\"{bound:g}\")"


def slo_rules_lines(settings: EngineSettings, selector_labels: list[tuple[str, str]],
                    selector: str, shape: Shape) -> list[str]:
    """The rule groups' YAML lines (indented as list items under `groups:`), and comments
    for what is left out; [] without an SLO."""
    s = settings.slo
    slos = s.objectives()
    if not slos:
        return []
    lines: list[str] = []
    records: list[str] = []
    alerts: list[str] = []
    for slo, objective in slos.items():
        labels = [("slo", slo), *selector_labels]
        exprs = {w: ratio_expr(slo, w, settings, selector, shape) for w in RULE_WINDOWS}
        if any(e is None for e in exprs.values()):
            why = (f"no bucket bound at or over {s.latency_threshold_ms:g} ms"
                   if slo == "latency" and shape.histogram else
                   f"not exported by the app ({shape.describe()})")
            lines.append(f"# Left out: the {slo} SLO: {why}")
            continue
        lines.append(f"# SLO {slo}: {describe(slo, s)}")
        if slo == "latency":
            lines.append(_bound_note(settings, shape))
        for w, expr in exprs.items():
            records += [f"      - record: {record_name(w)}",
                        f"        expr: {json.dumps(expr)}",
                        "        labels:", *_labels(labels, "          ")]
        records += [f"      - record: {OBJECTIVE_RECORD}",
                    f"        expr: {json.dumps(f'vector({objective:.10g})')}",
                    "        labels:", *_labels(labels, "          ")]
        match = ", ".join(f"{k}={json.dumps(v)}" for k, v in labels)
        budget = f"{1 - objective:.10g}"
        for pair in PAIRS:
            factor = f"{pair.factor(s.period_s):.10g}"
            cond = " and ".join(
                f"{record_name(w)}{{{match}}} > ({factor} * {budget})"
                for w in (pair.long, pair.short))
            severity = "critical" if pair.severity.value == "critical" else "warning"
            alerts += [
                f"      - alert: {alert_name(slo, pair)}",
                f"        expr: {json.dumps(cond)}",
                "        labels:",
                f"          severity: {json.dumps(severity)}",
                *_labels([("sbtop_burn", "page" if severity == "critical" else "ticket"),
                          *labels], "          "),
                "        annotations:",
                f"          summary: {json.dumps(f'{slo} error budget burning over {factor}x over {pair.long} and {pair.short}')}",  # noqa: E501
            ]
    if not records:
        return lines
    # One group, the recordings first: a group's rules run in order at each evaluation, so
    # the alerts read the ratios of the same evaluation. In groups of their own (Sloth's)
    # the alerts may read the previous evaluation's: a page one interval late, or early.
    return [*lines, '  - name: "sbtop-slo"', "    rules:", *records, *alerts]
