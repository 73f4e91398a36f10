"""The simulated backend's metrics: the names, help texts, labels and buckets a prom-client
Node service (StudyBuddy's Express app with Socket.IO and Prisma) exports, in one registry.

The backend sets and observes them as its traffic is simulated; a restart replaces them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sbtop.demo.traffic import BUCKETS

# The label values prom-client's default metrics use for GC kinds and V8 heap spaces.
GC_KINDS = ("minor", "major", "incremental", "weakcb")
HEAP_SPACES = ("read_only", "new", "old", "code", "map", "large_object", "code_large_object",
               "new_large_object")


class Instruments:
    """One process's worth of metrics: replaced wholesale on a restart, as a Node restart does."""

    def __init__(self, started: float) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.duration = Histogram(
            "http_request_duration_seconds", "Duration of HTTP requests in seconds",
            ["method", "route", "status_code", "variant"], buckets=BUCKETS, registry=r,
        )
        # `variant`: the cohort the runbook's flag put the request in (optimized / baseline).
        self.requests = Counter(
            "http_requests", "Total number of HTTP requests",
            ["method", "route", "status", "variant"], registry=r,
        )
        self.sockets = Gauge("active_websocket_connections", "Connected Socket.IO clients",
                             registry=r)
        self.messages = Counter("websocket_messages", "Socket.IO messages received",
                                ["event"], registry=r)
        self.rss = Gauge("process_resident_memory_bytes", "Resident memory size in bytes",
                         registry=r)
        self.start = Gauge("process_start_time_seconds",
                           "Start time of the process since unix epoch in seconds", registry=r)
        self.start.set(int(started))
        self.cpu = Counter("process_cpu_seconds", "Total user and system CPU time spent in "
                           "seconds", registry=r)
        self.lag = Gauge("nodejs_eventloop_lag_seconds", "Lag of event loop in seconds",
                         registry=r)
        self.heap_used = Gauge("nodejs_heap_size_used_bytes", "Process heap size used from "
                               "Node.js in bytes", registry=r)
        self.heap_total = Gauge("nodejs_heap_size_total_bytes", "Process heap size from Node.js "
                                "in bytes", registry=r)
        self.handles = Gauge("nodejs_active_handles_total", "Number of active libuv handles",
                             registry=r)
        self.gc = Histogram("nodejs_gc_duration_seconds", "Garbage collection duration by kind",
                            ["kind"], buckets=(0.001, 0.01, 0.1, 1, 2, 5), registry=r)
        self.heap_space = Gauge("nodejs_heap_space_size_used_bytes",
                                "Process heap space size used from Node.js in bytes", ["space"],
                                registry=r)
        self.db_query = Histogram("prisma_query_duration_seconds", "Prisma query duration",
                                  ["model", "action"], buckets=(0.001, 0.005, 0.01, 0.05, 0.1,
                                                                0.5, 1), registry=r)
