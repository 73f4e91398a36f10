"""The metric names and label values as applications spell them: a counter with or without
`_total`, a status code or its class, and every sample name the engine reads."""

from __future__ import annotations

from sbtop.engine.settings import MetricNames


def status_class(value: str) -> str:
    """'503' -> '5xx'; a value already grouped ('5xx') stays; anything else is 'other'."""
    if len(value) == 3 and value[0] in "12345" and (value[1:].isdigit() or value[1:] == "xx"):
        return value[0] + "xx"
    return "other"


def counter_names(name: str) -> tuple[str, ...]:
    """prom-client writes counters without `_total`, OpenMetrics with: accept both spellings."""
    if not name:
        return ()
    if name.endswith("_total"):
        return (name, name[: -len("_total")])
    return (name, name + "_total")


def wanted_samples(names: MetricNames) -> frozenset[str]:
    """Every sample name the engine reads; the parser skips the rest of the page."""
    h = names.latency_histogram
    wanted = {h + "_bucket", h + "_count"}
    wanted.update(counter_names(names.requests_counter))
    for c in names.message_counters:
        wanted.update(counter_names(c))
    wanted.update(names.socket_gauges)
    wanted.update(n for n in (names.memory_rss, names.event_loop_lag, names.process_start) if n)
    # No empty name: the parser matches wanted names as prefixes, and "" would let every line
    # through, comments included.
    wanted.discard("")
    return frozenset(wanted)
