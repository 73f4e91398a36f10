"""The PromQL sbtop sends, so Prometheus serves as a source of the same figures as a direct
scrape: the detection of which names exist, the scope a round reads, each round's queries, and
one figure as an expression.

Each round asks for rate() vectors, not finished figures: the latency buckets summed over
everything but the status (so routes, instances and the bucket layouts stay visible), the
request counts by every label (so the status label is read wherever it is, and an empty 5xx
class is 0, not an empty answer), the message counter's rate and the gauges as they are, all
sent as one query (sbtop.engine.prom_batch). Which metric names exist, and in which job, is
asked every DETECT_EVERY_S. The answers become a window's figures in
sbtop.engine.prom_window.

`figure_expr` writes one figure as a PromQL expression (for `sbtop rules` and the sparklines'
history), from the detected shape.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sbtop.engine.keys import Fig
from sbtop.engine.names import counter_names
from sbtop.engine.selector import selector_matchers
from sbtop.engine.settings import EngineSettings
from sbtop.engine.shape import Shape, configured

RATE = "5m"  # the rate window of generated alerting rules
RATE_S = 300.0
DETECT_EVERY_S = 30.0
# The targets' health changes at a scrape and the alerts at a rule evaluation (15 s to 1 min
# on most servers): read every few seconds, not every round, each dated by its read.
TARGETS_EVERY_S = 5.0
ALERTS_EVERY_S = 5.0
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
