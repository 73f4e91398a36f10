"""The PromQL of the error-budget burn rates: the parts a round asks (increases over each
window, and how far back Prometheus holds the app's series) and the recording and alerting
rules `sbtop rules` writes, so the console and the pager compute one ratio the same way."""

from __future__ import annotations

from sbtop.engine.burn import slow_bound
from sbtop.engine.promql import label_value
from sbtop.engine.settings import EngineSettings
from sbtop.engine.shape import Shape
from sbtop.engine.slo import AVAILABILITY, FIGURE_WINDOWS, LATENCY, WINDOW_S

# How far back the oldest sample is looked for: the longest window the engine figures and a
# step more, on a 1-minute grid (a subquery of a few hundred steps, asked every BURN_EVERY_S).
# At each step timestamp() gives the sample's own time, so the first step after the first
# sample finds that sample's time exactly; younger than the last step, only the newest
# sample's time is found, which understates the history (never overstates it).
SINCE = "6h1m:1m"


def _sel(*parts: str) -> str:
    joined = ",".join(p for p in parts if p)
    return f"{{{joined}}}" if joined else ""


def le_text(seconds: float) -> str:
    """A bucket bound as prom-client and most clients write it: 0.5, 1, 2.5."""
    return f"{seconds:g}"


def le_matcher(seconds: float) -> str:
    """The matcher of one bucket bound, whichever way it is written. A whole number of
    seconds is le="1" from prom-client and Go's client but le="1.0" from Python's (and in
    Prometheus 3, which stores every classic bucket's bound that way): an exact match on one
    spelling finds nothing on the other, and the latency rule would never page."""
    text = le_text(seconds)
    if text.lstrip("-").isdigit():
        return "le=~" + label_value(text + "|" + text + r"\.0")  # a regex: the dot escaped
    return f"le={label_value(text)}"


def burn_parts(settings: EngineSettings, selector: str, shape: Shape) -> dict[str, str]:
    """A round's burn parts, keyed as sbtop.engine.burn reads them: the requests by status and
    the latency buckets, each increase()d over every window, and the oldest sample's time."""
    slos = settings.slo.objectives()
    sel = _sel(selector)
    out: dict[str, str] = {}
    h = settings.names.latency_histogram
    for w in FIGURE_WINDOWS:
        if AVAILABILITY in slos and shape.requests and shape.status_label:
            out[f"burn_counts:{w}"] = (f"sum by ({shape.status_label}) "
                                       f"(increase({shape.requests}{sel}[{w}]))")
        if LATENCY in slos and shape.histogram:
            out[f"burn_buckets:{w}"] = f"sum by (le) (increase({h}_bucket{sel}[{w}]))"
    probe = shape.requests or (f"{h}_bucket" if shape.histogram else None)
    if out and probe:
        out["burn_since"] = (f"min(min_over_time(timestamp({probe}{sel})[{SINCE}])) or "
                             f"min(timestamp({probe}{sel}))")
    return out


def latency_bound(settings: EngineSettings, shape: Shape) -> float | None:
    """The bucket bound the latency SLO reads: as the engine reads it (sbtop.engine.burn), the
    threshold or the nearest bound above it, when the app's bounds were seen; else the
    threshold itself (it must then be one of them). None: no bound that high."""
    threshold_s = settings.slo.latency_threshold_ms / 1000
    if shape.bounds is None:
        return threshold_s
    return slow_bound(shape.bounds, threshold_s)


def ratio_expr(slo: str, window: str, settings: EngineSettings, selector: str, shape: Shape
               ) -> str | None:
    """The share of bad requests over `window` as PromQL; None when the app does not export
    what it needs."""
    sel = _sel(selector)
    if slo == AVAILABILITY:
        r, status = shape.requests, shape.status_label
        if r is None or status is None:
            return None
        bad = _sel(selector, f'{status}=~"5.."')
        # No 5xx series yet is an empty vector: `or vector(0)` makes it 0, while no traffic
        # at all (an empty denominator) still gives nothing.
        return (f"(sum(rate({r}{bad}[{window}])) or vector(0)) / "
                f"sum(rate({r}{sel}[{window}]))")
    if not shape.histogram:
        return None
    bound = latency_bound(settings, shape)
    if bound is None:
        return None
    h = settings.names.latency_histogram + "_bucket"
    fast = _sel(selector, le_matcher(bound))
    every = _sel(selector, 'le="+Inf"')
    return f"1 - sum(rate({h}{fast}[{window}])) / sum(rate({h}{every}[{window}]))"


RULE_WINDOWS = tuple(WINDOW_S)  # 5m, 30m, 1h, 6h, 3d


def record_name(window: str) -> str:
    return f"sbtop:slo_errors_ratio:rate{window}"


OBJECTIVE_RECORD = "sbtop:slo_objective:ratio"
