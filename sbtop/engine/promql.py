"""Prometheus as a source of the same figures: the PromQL sbtop sends and how its answers
become a window's increases and rates (deltas.Deltas), so a direct scrape, several instances
and Prometheus go through one computation of quantiles, ratios and routes.

Each round asks for rate() vectors, not finished figures: the latency buckets summed over
everything but the status (so routes, instances and the bucket layouts stay visible), the
request counts by every label (so the status label is read wherever it is, and an empty 5xx
class is 0, not an empty answer), the message counter's rate and the gauges as they are. Which
metric names exist, and in which job, is asked every DETECT_EVERY_S.

`figure_expr` writes one figure as a PromQL expression (for `sbtop rules` and the sparklines'
history), from the detected shape.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace

from sbtop.engine.deltas import Deltas
from sbtop.engine.figures import Figure, figures_over, unknown
from sbtop.engine.keys import Fig
from sbtop.engine.levels import Level
from sbtop.engine.names import counter_names, status_class
from sbtop.engine.observations import ExternalAlert, HealthProbe, PromSnapshot
from sbtop.engine.quantile import INF, histogram_quantile
from sbtop.engine.rollup import BUCKET, COUNTER, HIST_COUNT, MESSAGES, Feed, Rollup, RouteKey, Sums
from sbtop.engine.routes import Routes
from sbtop.engine.settings import EngineSettings
from sbtop.engine.shape import Shape, configured

RATE = "5m"  # the rate window of generated alerting rules
RATE_S = 300.0
DETECT_EVERY_S = 30.0
# The figures Prometheus gives (the console prefills their history).
PROM_FIGURES = (Fig.LATENCY_P50_MS, Fig.LATENCY_P95_MS, Fig.LATENCY_P99_MS, Fig.REQUESTS_PER_S,
                Fig.ERROR_RATE_5XX_PCT, Fig.ERROR_RATE_4XX_PCT, Fig.SOCKET_CONNECTIONS,
                Fig.SOCKET_MESSAGES_PER_S, Fig.MEMORY_PCT, Fig.EVENT_LOOP_LAG_MS)
Vector = tuple[tuple[Mapping[str, str], float], ...]


def window_text(seconds: float) -> str:
    return f"{max(1, round(seconds))}s"


def _sel(*parts: str) -> str:
    joined = ",".join(p for p in parts if p)
    return f"{{{joined}}}" if joined else ""


def label_value(value: str) -> str:
    """A label value as a PromQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def candidate_names(settings: EngineSettings) -> tuple[str, ...]:
    """Every metric name sbtop might read, as Prometheus stores them."""
    n = settings.names
    out: list[str] = []
    if n.latency_histogram:
        out += [n.latency_histogram + "_bucket", n.latency_histogram + "_count"]
    out += counter_names(n.requests_counter)
    for c in n.message_counters:
        out += counter_names(c)
    out += n.socket_gauges
    out += [x for x in (n.memory_rss, n.event_loop_lag) if x]
    return tuple(dict.fromkeys(out))


def detect_query(settings: EngineSettings, selector: str) -> str:
    """Which of the candidate names exist, per job: one small vector."""
    alternatives = "|".join(re.escape(n) for n in candidate_names(settings))
    return f"count by (__name__, job) ({_sel(f'__name__=~{label_value(alternatives)}', selector)})"


def present_by_job(vector: Vector) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for labels, _v in vector:
        out.setdefault(labels.get("job", ""), set()).add(labels.get("__name__", ""))
    return out


@dataclass(frozen=True, slots=True)
class Scope:
    """Which series a round reads: the selector, how it was chosen, or why nothing is read."""

    selector: str
    note: str | None = None
    refusal: str | None = None
    jobs: tuple[str, ...] = ()  # the jobs exporting the app's metrics, when several
    job: str = ""  # the job sbtop chose, when no selector was given

    def covers(self, labels: Mapping[str, str]) -> bool:
        """Whether a target with these labels is one of this scope's instances."""
        if self.jobs:
            return labels.get("job", "") in self.jobs
        return all(m(labels) for m in selector_matchers(self.selector))


def choose_scope(settings: EngineSettings, configured_selector: str,
                 by_job: Mapping[str, set[str]]) -> Scope:
    """The configured selector; without one, the only job that exports the app's metrics.
    Several such jobs are several applications (or one app and its copy): their buckets and
    counts must not be added up, so sbtop says which jobs it found and how to choose."""
    n = settings.names
    wanted = {n.latency_histogram + "_bucket", n.latency_histogram + "_count",
              *counter_names(n.requests_counter)}
    jobs = sorted(j for j, names in by_job.items() if names & wanted)
    what = " or ".join(x for x in (n.latency_histogram, n.requests_counter) if x)
    if configured_selector:
        if not jobs:
            return Scope(configured_selector, None,
                         f"Prometheus has no {what} for {{{configured_selector}}}")
        return Scope(configured_selector)
    if not jobs:
        return Scope("", None, f"Prometheus has no {what} in any job")
    if len(jobs) == 1:
        job = jobs[0]
        return Scope(f"job={label_value(job)}",
                     f"Prometheus: job {label_value(job)} chosen, the only job exporting {what}",
                     job=job)
    shown = ", ".join(jobs)
    return Scope("", None, (
        f"Prometheus has {what} from {len(jobs)} jobs ({shown}): sbtop adds up one "
        f"application, not several; choose with --selector 'job={label_value(jobs[0])}' "
        "or [targets.NAME.prometheus] selector"), tuple(jobs))


def round_queries(settings: EngineSettings, selector: str, present: Collection[str],
                  window_s: float) -> dict[str, str]:
    """The rate() vectors of one round, for the names that exist."""
    n = settings.names
    w = window_text(window_s)
    sel = _sel(selector)
    out: dict[str, str] = {}
    h = n.latency_histogram
    if h and h + "_bucket" in present:
        keep_status_out = ", ".join(n.status_labels)
        inner = f"rate({h}_bucket{sel}[{w}])"
        out["buckets"] = f"sum without ({keep_status_out}) ({inner})" if keep_status_out else (
            inner)
    if h and h + "_count" in present:
        out["hist_count"] = f"rate({h}_count{sel}[{w}])"
    counter = next((c for c in counter_names(n.requests_counter) if c in present), None)
    if counter:
        out["counter"] = f"rate({counter}{sel}[{w}])"
    # Every message counter spelling that has series, by instance: instances need not all
    # call it the same (a rolling deploy may rename it); each counts under its first one.
    for name in message_names(settings, present):
        out[f"messages:{name}"] = f"sum by (instance) (rate({name}{sel}[{w}]))"
    gauges = [g for g in (*n.socket_gauges, n.memory_rss, n.event_loop_lag) if g in present]
    if gauges:
        alternatives = "|".join(re.escape(g) for g in gauges)
        out["gauges"] = _sel(f"__name__=~{label_value(alternatives)}", selector)
    return out


def message_names(settings: EngineSettings, present: Collection[str]) -> list[str]:
    """The message counters' spellings that are present, in the configured order."""
    return [x for c in settings.names.message_counters for x in counter_names(c) if x in present]


# --- answers into a window --------------------------------------------------------------------

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


# --- alerts -----------------------------------------------------------------------------------

# A label matcher as PromQL writes it: the value in double or single quotes (with escapes) or
# in backquotes (raw).
_MATCHER = re.compile(
    r"""\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"""
    r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)\s*(,|$)""")


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label matcher of a selector, applied as PromQL applies it."""

    name: str
    op: str  # "=", "!=", "=~", "!~"
    value: str

    def __call__(self, labels: Mapping[str, str]) -> bool:
        got = str(labels.get(self.name, ""))
        if self.op == "=":
            return got == self.value
        if self.op == "!=":
            return got != self.value
        try:
            hit = re.fullmatch(self.value, got) is not None
        except re.error:
            return True  # Prometheus would have refused the query; hide nothing
        return hit if self.op == "=~" else not hit


def selector_matchers(selector: str) -> list[Matcher]:
    """The selector's label matchers (=, !=, =~, !~); SelectorError when it is not a list of
    them (a selector sbtop cannot read could not scope alerts and instances)."""
    text = selector.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    out: list[Matcher] = []
    pos = 0
    while pos < len(text) and text[pos:].strip():
        m = _MATCHER.match(text, pos)
        if m is None:
            raise SelectorError(f"not label matchers like job=\"studybuddy\": {selector!r}")
        name, op, quoted = m.group(1), m.group(2), m.group(3)
        value = quoted[1:-1]
        if quoted[0] != "`":
            value = re.sub(r"\\(.)", r"\1", value)
        out.append(Matcher(name, op, value))
        pos = m.end()
    return out


class SelectorError(ValueError):
    pass


def alert_scope(alert: ExternalAlert, selector: str) -> str:
    """'target' when the selector's labels the alert carries all match, 'other' when one of
    them does not (another job's alert), 'unlabelled' when it carries none of them (an
    aggregate rule that dropped them: it may be anyone's). A label the alert lacks decides
    nothing: `job="sb",instance=~".+"` still owns an alert labelled job="sb" alone."""
    labels = alert.labels
    carried = [m for m in selector_matchers(selector) if m.name in labels]
    if not selector_matchers(selector):
        return "target"
    if not carried:
        return "unlabelled"
    return "target" if all(m(labels) for m in carried) else "other"


_SEVERITY = {"critical": Level.CRITICAL, "page": Level.CRITICAL, "error": Level.CRITICAL,
             "high": Level.CRITICAL, "warning": Level.WARNING, "warn": Level.WARNING,
             "ticket": Level.WARNING, "medium": Level.WARNING, "info": Level.OK,
             "none": Level.OK, "low": Level.OK}


def alert_level(alert: ExternalAlert) -> Level:
    """What a Prometheus alert adds to the overall level, like sbtop's own: a firing alert by
    its severity label (none, or one not known: warning); pending adds nothing yet."""
    if alert.state != "firing":
        return Level.OK
    return _SEVERITY.get((alert.severity or "").lower(), Level.WARNING)


# --- one figure as PromQL ---------------------------------------------------------------------

def figure_expr(figure: str, settings: EngineSettings, selector: str = "",
                shape: Shape | None = None, window: str = RATE) -> str | None:
    """PromQL for one figure, in the figure's own unit (ms, %, count); None when the app does
    not export what it needs."""
    n = settings.names
    shape = shape or configured(n)
    sel = _sel(selector)
    h = n.latency_histogram
    quantiles: dict[str, float] = {Fig.LATENCY_P50_MS: 0.5, Fig.LATENCY_P95_MS: 0.95,
                                   Fig.LATENCY_P99_MS: 0.99}
    if figure in quantiles:
        if not shape.histogram:
            return None
        return (f"histogram_quantile({quantiles[figure]}, sum by (le) "
                f"(rate({h}_bucket{sel}[{window}]))) * 1000")
    r = shape.requests
    if figure == Fig.REQUESTS_PER_S:
        return f"sum(rate({r}{sel}[{window}]))" if r else None
    if figure in (Fig.ERROR_RATE_5XX_PCT, Fig.ERROR_RATE_4XX_PCT):
        if r is None or shape.status_label is None:
            return None
        cls = "5" if figure == Fig.ERROR_RATE_5XX_PCT else "4"
        errors = _sel(selector, f'{shape.status_label}=~"{cls}.."')
        # No 5xx yet is an empty vector, not 0: `or vector(0)` makes it 0, while no traffic
        # at all (an empty or zero denominator) still gives nothing.
        return (f"(sum(rate({r}{errors}[{window}])) or vector(0)) / "
                f"sum(rate({r}{sel}[{window}])) * 100")
    if figure == Fig.SOCKET_CONNECTIONS:
        return f"sum({shape.socket_gauge}{sel})" if shape.socket_gauge else None
    if figure == Fig.SOCKET_MESSAGES_PER_S:
        m = shape.message_counter
        return f"sum(rate({m}{sel}[{window}]))" if m else None
    if figure == Fig.MEMORY_PCT and n.memory_rss and shape.memory_rss and (
            settings.memory_limit_bytes):
        return f"max({n.memory_rss}{sel}) / {settings.memory_limit_bytes:.0f} * 100"
    if figure == Fig.EVENT_LOOP_LAG_MS and n.event_loop_lag and shape.event_loop_lag:
        return f"max({n.event_loop_lag}{sel}) * 1000"
    if figure == Fig.DB_CONNECTIONS_PCT:
        # postgres_exporter's names: client sessions over the server's limit.
        return ("sum(pg_stat_activity_count) / scalar(max(pg_settings_max_connections) - "
                "max(pg_settings_superuser_reserved_connections)) * 100")
    return None
