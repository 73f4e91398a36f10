"""Prometheus's answers as a window: one round's rate() vectors become a window's increases
and rates (deltas.Deltas), so a direct scrape, several instances and Prometheus go through one
computation of quantiles, ratios and routes; `prom_figures` judges them. The queries asked are
sbtop.engine.promql's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from sbtop.engine.deltas import Deltas
from sbtop.engine.figures import Figure, figures_over, unknown
from sbtop.engine.keys import Fig
from sbtop.engine.names import counter_names, status_class
from sbtop.engine.observations import HealthProbe, PromSnapshot
from sbtop.engine.promql import Vector, message_names, window_text
from sbtop.engine.quantile import INF, histogram_quantile
from sbtop.engine.rollup import BUCKET, COUNTER, HIST_COUNT, MESSAGES, Feed, Rollup, RouteKey, Sums
from sbtop.engine.routes import Routes
from sbtop.engine.settings import EngineSettings

# The figures Prometheus gives (the console prefills their history).
PROM_FIGURES = (Fig.LATENCY_P50_MS, Fig.LATENCY_P95_MS, Fig.LATENCY_P99_MS, Fig.REQUESTS_PER_S,
                Fig.ERROR_RATE_5XX_PCT, Fig.ERROR_RATE_4XX_PCT, Fig.SOCKET_CONNECTIONS,
                Fig.SOCKET_MESSAGES_PER_S, Fig.MEMORY_PCT, Fig.EVENT_LOOP_LAG_MS)

Rows = Iterable[tuple[Mapping[str, str], float]]


@dataclass(frozen=True, slots=True)
class PromWindow:
    deltas: Deltas
    end: Rollup
    p95_by_instance: dict[str, float] = field(default_factory=dict)


def prom_window(snap: PromSnapshot, settings: EngineSettings) -> PromWindow:
    """One round's vectors as a window: increases are rate x window, as increase() gives them.

    As for several instances scraped directly, a figure counts an instance only when every
    instance gives it: the request counter serves when every instance with the histogram has
    it (with a status label, for the ratios), else the histogram's _count; each instance's
    sockets and messages are read under whichever of the candidate names it has."""
    n = settings.names
    w = snap.window_s
    v = snap.vectors
    present = snap.present
    problems: dict[str, str] = {}
    for key, why in snap.failures.items():
        for fed in _FEEDS.get(key.split(":", 1)[0], ()):
            problems.setdefault(fed, f"Prometheus: {why}")
    d = Deltas(w)
    h = n.latency_histogram
    latency_problem, by_instance = _buckets(v.get("buckets", ()), d, settings, problems)
    if latency_problem is None and h + "_bucket" in present and not v.get("buckets") and (
            "buckets" not in snap.failures):
        latency_problem = _thin(h + "_bucket", w)
    counter = next((c for c in counter_names(n.requests_counter) if c in present), None)
    status_on: dict[Feed, dict[str, str]] = {}  # count -> instance -> its status label
    seen: dict[Feed, set[str]] = {}  # count -> instances with any series of it
    for key, tag, name in (("hist_count", HIST_COUNT, h + "_count"),
                           ("counter", COUNTER, counter or "")):
        if key in v and not v[key] and key not in snap.failures:
            problems.setdefault(tag, _thin(name, w))
        status_on[tag], seen[tag] = _counts(v.get(key, ()), tag, d, settings, problems)
    everyone = seen[HIST_COUNT] or seen[COUNTER]
    counter_everywhere = counter is not None and seen[COUNTER] >= everyone
    names_msgs = message_names(settings, present)
    message = names_msgs[0] if names_msgs else next(
        (x for c in n.message_counters for x in counter_names(c) if x in snap.declared), None)
    if names_msgs:
        d.per_s[MESSAGES] = _messages(v, names_msgs, problems)
        sent = [f"messages:{x}" for x in names_msgs]
        if not any(v.get(k) for k in sent) and not any(k in snap.failures for k in sent):
            problems.setdefault(MESSAGES, _thin(names_msgs[0], w))
    gauges, socket_gauge = _gauges(v.get("gauges", ()), settings, problems)
    end = Rollup(
        t=snap.t, wall=snap.wall, sums=Sums(), scrape=0,
        histogram_present=h + "_bucket" in present or h + "_count" in present,
        counter_present=counter_everywhere or COUNTER in problems,
        counter_has_status=((counter_everywhere and set(status_on[COUNTER]) >= everyone)
                            or COUNTER in problems),
        hist_count_has_status=((bool(seen[HIST_COUNT])
                               and set(status_on[HIST_COUNT]) >= seen[HIST_COUNT])
                               or HIST_COUNT in problems),
        status_labels={tag: next(iter(on.values())) for tag, on in status_on.items() if on},
        gauges=gauges, socket_gauge=socket_gauge, message_counter=message,
        latency_problem=latency_problem, problems=problems, found_in="in Prometheus")
    p95 = {}
    for instance, b in by_instance.items():
        requests = b.get(INF)
        if requests is not None and requests >= settings.min_requests:
            q = histogram_quantile(0.95, b.items())
            if math.isfinite(q):
                p95[instance] = q * 1000.0
    return PromWindow(d, end, p95)


def _thin(name: str, w: float) -> str:
    return (f"Prometheus holds fewer than two samples of {name} in the last {window_text(w)}: "
            "the window is shorter than two scrapes, or the target stopped answering")


def _buckets(vector: Rows, d: Deltas, settings: EngineSettings, problems: dict[str, str]
             ) -> tuple[str | None, dict[str, dict[float, float]]]:
    """The buckets' increases into `d` (in total and by route); each instance's own; and why
    no quantile may come from them (the instances' bucket bounds differ)."""
    w = d.span
    by_instance: dict[str, dict[float, float]] = {}
    for labels, rate in vector:
        try:
            le = float(labels.get("le", "x"))
        except ValueError:
            continue
        if not math.isfinite(rate) or rate < 0:
            problems.setdefault(BUCKET, f"Prometheus: a bucket's rate is {rate:g}")
            continue
        inc = rate * w
        d.buckets[le] = d.buckets.get(le, 0.0) + inc
        mine = by_instance.setdefault(labels.get("instance", ""), {})
        mine[le] = mine.get(le, 0.0) + inc
        rk = _route(labels, settings)
        if rk is not None:
            route = d.route_buckets.setdefault(rk, {})
            route[le] = route.get(le, 0.0) + inc
            if le == INF:
                d.route_per_s[rk] = d.route_per_s.get(rk, 0.0) + rate
    layouts: dict[frozenset[float], set[str]] = {}
    for instance, b in by_instance.items():
        layouts.setdefault(frozenset(b), set()).add(instance)
    if len(layouts) < 2:
        return None, by_instance
    shown = "; ".join(f"{', '.join(sorted(names))}: "
                      + " ".join(f"{x:g}" for x in sorted(b) if x != INF)
                      for b, names in sorted(layouts.items(), key=lambda x: sorted(x[1])))
    return f"the instances' histogram buckets differ ({shown})", by_instance


def _counts(vector: Rows, tag: Feed, d: Deltas, settings: EngineSettings,
            problems: dict[str, str]) -> tuple[dict[str, str], set[str]]:
    """Request counts by status class (and by route) into `d`. Returns each instance's status
    label (for those with one) and every instance seen."""
    n = settings.names
    w = d.span
    classes = d.counts.setdefault(tag, {})
    routes = d.route_counts.setdefault(tag, {})
    total = 0.0
    status_on: dict[str, str] = {}
    seen: set[str] = set()
    for labels, rate in vector:
        instance = labels.get("instance", "")
        seen.add(instance)
        if not math.isfinite(rate) or rate < 0:
            problems.setdefault(tag, f"Prometheus: a request rate is {rate:g}")
            continue
        label = next((x for x in n.status_labels if x in labels), None)
        if label is not None:
            status_on.setdefault(instance, label)
        cls = status_class(labels[label]) if label is not None else "?"
        classes[cls] = classes.get(cls, 0.0) + rate * w
        total += rate
        rk = _route(labels, settings)
        if rk is not None:
            per = routes.setdefault(rk, {})
            per[cls] = per.get(cls, 0.0) + rate * w
    d.per_s[tag] = total
    return status_on, seen


def _messages(v: Mapping[str, Vector], names: list[str], problems: dict[str, str]) -> float:
    """Messages a second, each instance under the first of the names it has."""
    per_instance: dict[str, float] = {}
    for name in names:
        for labels, rate in v.get(f"messages:{name}", ()):
            instance = labels.get("instance", "")
            if instance in per_instance:
                continue
            if not math.isfinite(rate) or rate < 0:
                problems.setdefault(MESSAGES, f"Prometheus: {name}'s rate is {rate:g}")
                continue
            per_instance[instance] = rate
    return sum(per_instance.values())


def _gauges(rows: Rows, settings: EngineSettings, problems: dict[str, str]
            ) -> tuple[dict[str, float], str | None]:
    """Sockets added up over instances (each under the first candidate name it has), memory and
    event-loop lag the worst instance's."""
    n = settings.names
    by_name: dict[str, dict[str, float]] = {}
    for labels, x in rows:
        mine = by_name.setdefault(labels.get("__name__", ""), {})
        instance = labels.get("instance", "")
        mine[instance] = mine.get(instance, 0.0) + x
    gauges: dict[str, float] = {}
    sockets: dict[str, float] = {}
    first = None
    for g in n.socket_gauges:
        for instance, x in by_name.get(g, {}).items():
            if instance not in sockets:
                sockets[instance] = x
                first = first or g
    if sockets:
        gauges["sockets"] = sum(sockets.values())
    for key, name in (("rss", n.memory_rss), ("event_loop_lag", n.event_loop_lag)):
        values = by_name.get(name, {}).values()
        if values:
            gauges[key] = max(values)  # the worst instance
    for key in [k for k, x in gauges.items() if not math.isfinite(x) or x < 0]:
        problems.setdefault(key, f"Prometheus: {key} is {gauges.pop(key):g}")
    return gauges, first


# Which figures each query feeds, for the reason when it fails.
_FEEDS: dict[str, tuple[str, ...]] = {
    "buckets": (BUCKET,), "hist_count": (HIST_COUNT,), "counter": (COUNTER,),
    "messages": (MESSAGES,), "gauges": ("sockets", "rss", "event_loop_lag"),
}


def _route(labels: Mapping[str, str], settings: EngineSettings) -> RouteKey | None:
    n = settings.names
    route = next((labels[x] for x in n.route_labels if x in labels), None)
    if route is None:
        return None
    return (next((labels[x] for x in n.method_labels if x in labels), ""), route)


def prom_figures(snap: PromSnapshot, health: HealthProbe | None, settings: EngineSettings
                 ) -> tuple[dict[str, Figure], Routes, dict[str, float]]:
    """Judged figures, the route table and each instance's p95 from one round."""
    reason = None
    if snap.error is not None:
        reason = f"Prometheus unavailable: {snap.error}"
    elif snap.refusal is not None:
        reason = snap.refusal
    if reason is not None:
        figures: dict[str, Figure] = {k: unknown(k, reason, settings) for k in PROM_FIGURES}
        return figures, Routes(reason=reason), {}
    win = prom_window(snap, settings)
    figures, routes = figures_over(win.deltas, win.end, health, settings)
    for k, f in figures.items():
        figures[k] = Figure(f.key, f.value, f.level, f.unit, f.threshold, f.reason,
                            replace(f.detail, source="prometheus"), f.judged,
                            f.stale_s)
    return figures, routes, win.p95_by_instance
