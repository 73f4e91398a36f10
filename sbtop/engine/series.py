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

import contextlib
import gc
import itertools
import math
import operator
import re
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from sbtop import untrusted
from sbtop.engine.exposition import LabelsKey, Page, ParseError, RawSample, labels_key
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
_TEXT = operator.itemgetter(0)  # of a RawSample: its label text
_VALUE = operator.itemgetter(1)  # its value
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


# The sums a series feeds: (feed, le / status class / name, route or None) each.
_Slots = tuple[tuple[Feed, Any, RouteKey | None], ...]
# A new label text, read: (its labels as a key, its slots or None, its status label or None).
_Ident = tuple[LabelsKey, _Slots | None, str | None]
_GROUPS_MAX = 1 << 16


class _Fed(NamedTuple):
    """A family's rows at a scrape where every one of them was fed cleanly."""

    scrape: int
    texts: list[str]  # its label texts, in page order (none twice)
    values: list[float]  # their values
    registered: bool  # every text was registered (none was ignored as unusable)


class _Group:
    """The labels before the last one, shared by many label texts (see `_identify`)."""

    __slots__ = ("key", "names", "rk", "slots", "status")

    def __init__(self, key: LabelsKey, names: frozenset[str], rk: RouteKey | None,
                 slots: _Slots | None, status: str | None) -> None:
        self.key = key
        self.names = names  # the label names (and __name__): a last label may not repeat one
        self.rk = rk
        self.slots = slots  # when the last label changes nothing
        self.status = status


def _last_label(text: str) -> tuple[str, str, str] | None:
    """`a="1",b="2",le="0.5"` -> ('a="1",b="2"', "le", "0.5"), when the last label is plainly
    written (a valid name, `="`, a value with no quote, no backslash anywhere in the text:
    then every `",` ends a label). None for anything else: the text is read whole."""
    if "\\" in text or text[-1:] != '"':
        return None
    cut = text.rfind('",')
    if cut < 0:
        prefix, tail = "", text
    else:
        prefix, tail = text[: cut + 1], text[cut + 2 :]
    name, eq, value = tail.partition('="')
    if not eq or '"' in value[:-1]:
        return None
    if name not in _LABEL_NAMES:
        if not _LABEL_NAME.match(name):
            return None
        if len(_LABEL_NAMES) < 4096:
            _LABEL_NAMES.add(name)
    return prefix, name, value[:-1]


_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_LABEL_NAMES: set[str] = set()  # names found valid: a page uses a handful, again and again
_LE: dict[str, float | None] = {}


def _le(text: str) -> float | None:
    """A bucket bound's value; None when it is no number (cached: a page has few bounds)."""
    try:
        return _LE[text]
    except KeyError:
        pass
    try:
        le: float | None = float(text)
    except ValueError:
        le = None
    if len(_LE) < 4096:
        _LE[text] = le
    return le


_MANY_NEW = 1000


@contextlib.contextmanager
def _collector_paused(pause: bool) -> Iterator[None]:
    """Python's cyclic garbage collector off for the block, when `pause` and it was on."""
    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


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
        self._groups: dict[str, dict[str, _Group]] = {}  # by sample name, by prefix
        # The cells of each set of sums: many series feed the same ones (every status of a
        # route feeds its buckets).
        self._cells_of: dict[_Slots, tuple[list[float], ...]] = {}
        # Labels that decide a series' sums: a last label among them needs a closer look.
        self._candidates = frozenset(names.route_labels) | frozenset(names.method_labels)
        self._statuses = frozenset(names.status_labels)
        self._slot_labels = self._candidates | self._statuses | {"le"}
        self._le_plain = "le" not in self._candidates | self._statuses
        # By sample name: the latest scrape's rows, when every one of them was fed cleanly (no
        # duplicate, no unusable value): the next scrape's short cut.
        self._fed: dict[str, _Fed] = {}
        # Sample names with a series known under two label texts: never cut short.
        self._aliased: set[str] = set()
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
        # Thousands of new series are tens of thousands of small objects that live on: the
        # garbage collector would walk them again and again while they are made, finding
        # nothing (a third of a cold start's time on a 20,000-series page).
        rows = sum(len(r) for r in page.samples.values())
        known = sum(len(table) for table in self._by_text.values())
        with _collector_paused(rows - known > _MANY_NEW):
            return self._observe(page, t, wall)

    def _observe(self, page: Page, t: float, wall: float) -> Rollup:
        """observe(): first every new label text is read (a malformed one refuses the page
        before anything changed), then `_count`."""
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
        fresh: list[tuple[str, Feed, list[tuple[str, _Ident]], list[str]]] = []
        skew: float | None = None
        for name, kind in feeds:
            rows = page.samples.get(name)
            if rows and skew is None and rows[0][2] is not None:
                off = rows[0][2] - wall
                skew = off if abs(off) > SKEW_NOTED_S else None
            if rows:
                texts = list(map(_TEXT, rows))
                fed = self._fed.get(name)
                n = len(fed.texts) if fed is not None else 0
                if (fed is not None and fed.scrape == self.scrapes and fed.registered
                        and _starts_with(texts, fed.texts)):
                    # The previous page's texts come first, every one registered then: only
                    # those after them (series new since, usually) may be new.
                    new = list(itertools.filterfalse(self._by_text[name].__contains__,
                                                     texts[n:]))
                else:
                    new = list(itertools.filterfalse(self._by_text.get(name, {}).__contains__,
                                                     texts))
                idents = []
                for text in new:
                    try:
                        idents.append(self._identify(name, kind, text))
                    except ParseError as e:
                        raise ParseError(f"{name}: {e}") from None
                fresh.append((name, kind, list(zip(new, idents, strict=True)), texts))

        return self._count(page, t, wall, fresh, counter_name, message_name, skew)

    def _count(self, page: Page, t: float, wall: float,
               fresh: list[tuple[str, Feed, list[tuple[str, _Ident]], list[str]]],
               counter_name: str | None, message_name: str | None, skew: float | None
               ) -> Rollup:
        """observe(), once every new label text was read: register, feed, snapshot."""
        first = self.scrapes == 0 or self._rebase
        self.scrapes += 1
        problems: dict[str, str] = {}
        gauges = _gauges(page, self.names, problems)
        start = gauges.get("process_start")
        reset_all = (
            start is not None and self._process_start is not None and start != self._process_start
        )
        if self._rebase or reset_all:
            # Every series' state is about to change at once: no short cut at this scrape.
            self._fed.clear()
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
        for name, kind, new, texts in fresh:
            table = self._by_text.setdefault(name, {})
            unregistered = 0
            for text, ident in new:
                if text not in table:  # the same new text may appear twice on a page
                    series = self._register(name, ident, first)
                    if series is None:
                        unregistered += 1
                    else:
                        table[text] = series
            ignored += unregistered
            rows = page.samples[name]
            values = list(map(_VALUE, rows))
            fed = self._fed.pop(name, None)
            if fed is not None and (fed.scrape != self.scrapes - 1 or name in self._aliased):
                fed = None
            if fed is not None and _starts_with(texts, fed.texts):
                # The previous page's texts (none twice) first, in the same order: its rows
                # compare by place; those after them (usually series new since) are fed whole.
                n = len(fed.texts)
                ignored_here, reset_here = self._feed_moved(
                    table, rows[:n], texts[:n], map(operator.ne, values, fed.values), name,
                    kind, problems)
                if n < len(rows):
                    tail_ignored, tail_reset = self._feed(table, rows[n:], False, name, kind,
                                                          problems)
                    ignored_here += tail_ignored
                    reset_here = reset_here or tail_reset
            elif fed is not None and len(set(texts)) == len(texts):
                before = dict(zip(fed.texts, fed.values, strict=True)).get
                ignored_here, reset_here = self._feed_moved(
                    table, rows, texts, map(operator.ne, values, map(before, texts)), name,
                    kind, problems)
            else:
                ignored_here, reset_here = self._feed(table, rows, reset_all, name, kind,
                                                      problems)
            if not ignored_here:  # every row fed as it stands: the next scrape may cut short
                self._fed[name] = _Fed(self.scrapes, texts, values, not unregistered)
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

    def _feed_moved(self, table: Mapping[str, _Series], rows: list[RawSample], texts: list[str],
                    changed: Iterator[bool], name: str, kind: Feed, problems: dict[str, str]
                    ) -> tuple[int, bool]:
        """`_feed`, cut short: the previous scrape fed every row of this family cleanly, this
        page has no row twice (no text twice, and no series known under two texts), and no
        process reset or rebaseline happened since (they clear the short cuts). `changed` says,
        row by row, whether its value differs from its text's at the previous scrape (a text
        new since is changed). A row whose value has not moved would add nothing (its series'
        last value is that value): it is only marked seen. The rest (moved values, new series,
        NaN, resets) take `_feed`'s full rule, in page order."""
        moved = list(itertools.compress(rows, changed))
        ignored, reset = self._feed(table, moved, False, name, kind, problems)
        scrape = self.scrapes
        for series in filter(None, map(table.get, texts)):
            series.seen = scrape
        return ignored, reset

    def _identify(self, name: str, kind: Feed, text: str) -> _Ident:
        """What a new label text is: (its labels as a key, the sums it feeds or None when it
        has no usable `le`, the status label it carries). Raises ParseError on malformed text.
        Changes nothing but caches, so that a page can be refused whole.

        A page's label texts mostly differ only in their last label (`le` of a bucket, the
        status of a count), so the text before the last label is read once for all of them
        (a "group"); a text whose last label is not plain, or that would change the route, the
        method or the status the group gave, is read whole."""
        split = _last_label(text)
        if split is not None:
            prefix, tail, value = split
            group = self._groups.setdefault(name, {}).get(prefix)
            if group is None:
                group = self._group(name, kind, prefix)
            if group is not None and tail not in group.names:
                key = tuple(sorted((*group.key, (tail, value))))
                if tail not in self._slot_labels:
                    return key, group.slots, group.status
                if tail == "le" and kind is BUCKET and self._le_plain:
                    le = _le(value)
                    if le is None:
                        return key, None, group.status
                    if group.rk is None:
                        return key, ((BUCKET, le, None),), group.status
                    return key, ((BUCKET, le, None), (BUCKET, le, group.rk)), group.status
                if ((kind is COUNTER or kind is HIST_COUNT) and group.status is None
                        and tail in self._statuses and tail not in self._candidates):
                    cls = status_class(untrusted.line(value, 200))
                    if group.rk is None:
                        return key, ((kind, cls, None),), tail
                    return key, ((kind, cls, None), (kind, cls, group.rk)), tail
        key = labels_key(text)
        labels = dict(key)
        status = next((s for s in self.names.status_labels if s in labels), None)
        return key, self._slots(kind, labels, name), status

    def _group(self, name: str, kind: Feed, prefix: str) -> _Group | None:
        """The labels before the last one, read once for every text that shares them; None
        when they are malformed (the whole text is then read, and refused with its reason)."""
        try:
            key = labels_key(prefix)
        except ParseError:
            return None
        labels = dict(key)
        if "__name__" in labels:
            return None
        route = _first_label(labels, self.names.route_labels)
        method = _first_label(labels, self.names.method_labels) or ""
        status = next((s for s in self.names.status_labels if s in labels), None)
        group = _Group(key, frozenset(labels) | {"__name__"},
                       (method, route) if route is not None else None,
                       self._slots(kind, labels, name), status)
        groups = self._groups[name]
        if len(groups) >= _GROUPS_MAX:
            groups.clear()
        groups[prefix] = group
        return group

    def _register(self, name: str, ident: _Ident, first: bool) -> _Series | None:
        key, slots, status = ident  # validated before anything was counted
        known = self._by_key.get((name, key))
        if known is not None:
            # The same series, its labels written in another order: two texts, one series,
            # so a page's texts being distinct no longer means its series are.
            self._aliased.add(name)
            return known
        if slots is None:
            return None
        if status is not None:
            self._with_status.setdefault(name, status)
        # Every sum exists from its series' first sight, even at zero: an empty bucket is still
        # a bucket bound, and histogram_quantile needs all the bounds.
        cells = self._cells_of.get(slots)
        if cells is None:
            cells = self._cells_of[slots] = tuple(self._cell(feed, k, rk)
                                                  for feed, k, rk in slots)
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

    def _slots(self, kind: Feed, labels: dict[str, str], name: str) -> _Slots | None:
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


def _starts_with(texts: list[str], first: list[str]) -> bool:
    """Whether `texts` begins with `first` (label texts of two pages: mostly the same
    objects, compared by identity before their characters)."""
    n = len(first)
    return len(texts) >= n and (texts == first if len(texts) == n else texts[:n] == first)


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
