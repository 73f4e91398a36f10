"""Counters that survive resets, rolled up into the sums the figures need.

Every counter series keeps its last raw value and adds its increase since the previous scrape,
with Prometheus's reset rule (a decrease means the counter restarted from zero, so the increase
is the new value), into a few running sums: buckets by `le`, buckets by route and `le`,
requests by status class, requests by route and status class, socket messages. The sums only
grow, so the increase of any sum over a window is the difference of two snapshots, whatever
resets happened in between. A snapshot (`Rollup`, in sbtop.engine.rollup) is small: it holds
sums, not series.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sbtop import untrusted
from sbtop.engine.exposition import Page, ParseError, RawSample, labels_key
from sbtop.engine.names import counter_names, status_class
from sbtop.engine.rollup import (
    BUCKET,
    COUNTER,
    HIST_COUNT,
    MESSAGES,
    ROUTED,
    SKEW_NOTED_S,
    Feed,
    Rollup,
    RouteKey,
    Sums,
)
from sbtop.engine.settings import MetricNames

NO_STATUS = "?"
# `seen` of a series registered but not yet fed: its first value is a baseline, or all new.
_NEW_BASELINE = -2
_NEW_COUNTED = -1


class _Series:
    __slots__ = ("cells", "last", "seen")

    def __init__(self, cells: tuple[list[float], ...], last: float, seen: int) -> None:
        # Each cell is a one-element list shared by every series feeding that sum: adding to
        # it costs no hashing, where a dict keyed by (route, le) would hash a tuple each time.
        self.cells = cells
        self.last = last
        self.seen = seen


class SeriesTracker:
    """Feeds each scrape's counters into running sums. Keeps no history of its own."""

    def __init__(self, names: MetricNames, forget_after_scrapes: int = 600) -> None:
        self.names = names
        self.forget_after = forget_after_scrapes
        self.scrapes = 0
        self._cells: dict[Feed, dict[Any, list[float]]] = {g: {} for g in Feed}
        self._route_cells: dict[Feed, dict[RouteKey, dict[Any, list[float]]]] = {
            g: {} for g in ROUTED}
        self._by_text: dict[str, dict[str, _Series]] = {}
        self._by_key: dict[tuple[str, object], _Series] = {}
        self._process_start: float | None = None
        # Sample names with at least one series carrying a status label, and which label:
        # learnt when series register, so a scrape costs nothing extra.
        self._with_status: dict[str, str] = {}
        h = names.latency_histogram
        self._bucket_name = h + "_bucket"
        self._count_name = h + "_count"
        self._counters = counter_names(names.requests_counter)
        self._messages = [counter_names(c) for c in names.message_counters]
        self._rebase = False

    def rebaseline(self) -> None:
        """Take the next scrape's values as a new baseline, counting none of them, as on the
        first scrape. For a source seen again after a long gap: what its counters gained
        meanwhile happened at unknown times, and counted at once it would pass for a burst."""
        self._rebase = True

    def sums(self) -> Sums:
        def flat(feed: Feed) -> dict[Any, float]:
            return {k: cell[0] for k, cell in self._cells[feed].items()}

        def routed(feed: Feed) -> dict[RouteKey, dict[Any, float]]:
            return {rk: {k: cell[0] for k, cell in cells.items()}
                    for rk, cells in self._route_cells[feed].items()}

        return Sums(flat(BUCKET), flat(COUNTER), flat(HIST_COUNT), flat(MESSAGES),
                    routed(BUCKET), routed(COUNTER), routed(HIST_COUNT))

    def observe(self, page: Page, t: float, wall: float) -> Rollup:
        """Account for one successful scrape and return the snapshot after it.

        Raises ParseError, having changed nothing, when a wanted series has malformed labels:
        a partly read histogram would give wrong quantiles, so the page is refused whole, as
        Prometheus refuses it.
        """
        counter_name = next((n for n in self._counters if n in page.samples), None)
        message_name = None
        for spellings in self._messages:
            # A labelled counter with no observation yet has only its TYPE line: it is there,
            # at zero (prom-client prints no sample until the first inc()).
            message_name = next((n for n in spellings
                                 if n in page.samples or page.types.get(n) == "counter"), None)
            if message_name:
                break
        feeds: list[tuple[str, Feed]] = [(self._bucket_name, BUCKET),
                                         (self._count_name, HIST_COUNT)]
        if counter_name:
            feeds.append((counter_name, COUNTER))
        if message_name:
            feeds.append((message_name, MESSAGES))
        # First every label text never seen before is checked; only then is anything counted.
        fresh: list[tuple[str, Feed, list[str]]] = []
        skew: float | None = None
        for name, kind in feeds:
            rows = page.samples.get(name)
            if rows and skew is None and rows[0][2] is not None:
                off = rows[0][2] - wall
                skew = off if abs(off) > SKEW_NOTED_S else None
            if rows:
                table = self._by_text.get(name, {})
                new = [text for text, _v, _ts in rows if text not in table]
                for text in new:
                    try:
                        labels_key(text)
                    except ParseError as e:
                        raise ParseError(f"{name}: {e}") from None
                fresh.append((name, kind, new))

        first = self.scrapes == 0 or self._rebase
        self.scrapes += 1
        problems: dict[str, str] = {}
        gauges = _gauges(page, self.names, problems)
        start = gauges.get("process_start")
        reset_all = (
            start is not None and self._process_start is not None and start != self._process_start
        )
        if self._rebase:
            self._rebase = reset_all = False
            for known in self._by_text.values():
                for old in known.values():
                    old.seen = _NEW_BASELINE
        if start is not None:
            self._process_start = start
        ignored = 0
        saw_reset = reset_all
        if reset_all:
            # The process restarted: every counter began again at zero, including those of
            # series missing from this page. Whatever value they show next is all new.
            for known in self._by_text.values():
                for old in known.values():
                    old.seen = _NEW_COUNTED
        for name, kind, new in fresh:
            table = self._by_text.setdefault(name, {})
            for text in new:
                if text not in table:  # the same new text may appear twice on a page
                    series = self._register(name, kind, text, first)
                    if series is None:
                        ignored += 1
                    else:
                        table[text] = series
            ignored_here, reset_here = self._feed(table, page.samples[name], reset_all,
                                                  name, kind, problems)
            ignored += ignored_here
            saw_reset = saw_reset or reset_here
        self._forget()
        return Rollup(
            t=t,
            wall=wall,
            sums=self.sums(),
            scrape=self.scrapes,
            reset=saw_reset and not first,
            histogram_present=bool(page.samples.get(self._bucket_name)),
            counter_present=counter_name is not None,
            counter_has_status=counter_name in self._with_status,
            hist_count_has_status=self._count_name in self._with_status,
            status_labels={tag: self._with_status[n] for tag, n in
                           ((COUNTER, counter_name), (HIST_COUNT, self._count_name))
                           if n in self._with_status},
            gauges=gauges,
            socket_gauge=next((g for g in self.names.socket_gauges if g in page.samples), None),
            message_counter=message_name,
            ignored=ignored,
            problems=problems,
            page_clock_skew_s=skew,
        )

    def _feed(self, table: Mapping[str, _Series], rows: list[RawSample], reset_all: bool,
              name: str, kind: Feed, problems: dict[str, str]) -> tuple[int, bool]:
        scrape = self.scrapes
        ignored = 0
        reset = False
        for text, value, _ts in rows:
            series = table.get(text)
            if series is None:  # its labels had no usable `le`
                continue
            if series.seen == scrape:
                # The same series twice on one page: harmless when the values agree, but
                # which one is true cannot be known when they differ.
                ignored += 1
                if value != series.last and kind not in problems:
                    problems[kind] = (f"{name}{_braces(text)} appears twice on the page "
                                      f"({_shown(series.last)} and {_shown(value)})")
                continue
            if value - value or value < 0:  # NaN, ±Inf (x - x is 0.0 for every finite
                ignored += 1  # x) or negative: no counter holds that, so it is unusable
                if kind not in problems:
                    problems[kind] = f"{name}{_braces(text)} is {_shown(value)} on the page"
                continue
            seen = series.seen
            last = series.last
            series.last = value
            series.seen = scrape
            if seen < 0:
                delta = 0.0 if seen == _NEW_BASELINE else value
            elif reset_all or value < last:
                reset = reset or value < last
                delta = value
            else:
                delta = value - last
            if delta:
                for cell in series.cells:
                    cell[0] += delta
        return ignored, reset

    def _register(self, name: str, kind: Feed, text: str, first: bool) -> _Series | None:
        key = labels_key(text)  # validated before anything was counted
        known = self._by_key.get((name, key))
        if known is not None:
            return known  # the same series, its labels written in another order
        labels = dict(key)
        slots = self._slots(kind, labels, name)
        if slots is None:
            return None
        status = next((s for s in self.names.status_labels if s in labels), None)
        if status is not None:
            self._with_status.setdefault(name, status)
        # Every sum exists from its series' first sight, even at zero: an empty bucket is still
        # a bucket bound, and histogram_quantile needs all the bounds.
        cells = tuple(self._cell(feed, k, rk) for feed, k, rk in slots)
        # On the first scrape the counts were made at unknown times before sbtop looked: they
        # are the baseline. A series that appears later was created since the previous scrape
        # (clients create labelled series on first use), so all of its count is new, exactly
        # as after a counter reset.
        series = _Series(cells, 0.0, _NEW_BASELINE if first else _NEW_COUNTED)
        self._by_key[(name, key)] = series
        return series

    def _cell(self, feed: Feed, key: Any, rk: RouteKey | None) -> list[float]:
        if rk is not None:
            return self._route_cells[feed].setdefault(rk, {}).setdefault(key, [0.0])
        return self._cells[feed].setdefault(key, [0.0])

    def _slots(self, kind: Feed, labels: dict[str, str], name: str
               ) -> tuple[tuple[Feed, Any, RouteKey | None], ...] | None:
        """The sums a series adds to: (feed, le / status class / name, route or None)."""
        names = self.names
        route = _first_label(labels, names.route_labels)
        method = _first_label(labels, names.method_labels) or ""
        rk: RouteKey | None = (method, route) if route is not None else None
        if kind is MESSAGES:
            return ((MESSAGES, name, None),)
        if kind is BUCKET:
            le_text = labels.get("le")
            if le_text is None:
                return None
            try:
                le = float(le_text)
            except ValueError:
                return None
            if rk is None:
                return ((BUCKET, le, None),)
            return ((BUCKET, le, None), (BUCKET, le, rk))
        status = _first_label(labels, names.status_labels)
        cls = status_class(status) if status is not None else NO_STATUS
        if rk is None:
            return ((kind, cls, None),)
        return ((kind, cls, None), (kind, cls, rk))

    def known_texts(self, name: str) -> Mapping[str, object]:
        """The label texts of `name` already registered."""
        return self._by_text.get(name, {})

    def _forget(self) -> None:
        """Drop series long gone from the page; their counts stay in the sums."""
        if self.scrapes % 64:
            return
        horizon = self.scrapes - self.forget_after
        for name, table in self._by_text.items():
            gone = [text for text, s in table.items() if s.seen < horizon]
            for text in gone:
                del table[text]
            if gone:
                self._by_key = {
                    k: s for k, s in self._by_key.items() if k[0] != name or s.seen >= horizon
                }


def _first_label(labels: dict[str, str], candidates: tuple[str, ...]) -> str | None:
    """The first candidate label's value, made safe to show: route labels are often raw URL
    paths, which anyone on the internet can fill (read once, when a series registers)."""
    for c in candidates:
        v = labels.get(c)
        if v is not None:
            return untrusted.line(v, 200)
    return None


def _gauges(page: Page, names: MetricNames, problems: dict[str, str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for gauge in names.socket_gauges:
        values = _finite(page.samples.get(gauge), gauge, "sockets", problems)
        if values is not None:
            out["sockets"] = sum(values)
            break
    for key, name in (("rss", names.memory_rss), ("event_loop_lag", names.event_loop_lag),
                      ("process_start", names.process_start)):
        values = _finite(page.samples.get(name), name, key, problems) if name else None
        if values is not None:
            out[key] = max(values)  # the worst instance when several report
    return out


def _finite(rows: list[RawSample] | None, name: str, key: str, problems: dict[str, str]
            ) -> list[float] | None:
    """The gauge's values; None when it is absent or any of them is NaN, infinite or negative
    (sbtop's gauges count sockets, bytes, seconds: less than nothing is a bug upstream, and a
    sum or a maximum over the rest would pass a partial figure off as whole)."""
    if not rows:
        return None
    for text, v, _ts in rows:
        if not math.isfinite(v) or v < 0:
            problems.setdefault(key, f"{name}{_braces(text)} is {_shown(v)} on the page")
            return None
    return [v for _t, v, _ts in rows]


def _braces(text: str) -> str:
    return "{" + untrusted.line(text, 200) + "}" if text else ""


def _shown(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:g}"
