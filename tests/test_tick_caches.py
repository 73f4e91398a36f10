"""The tick's short cuts give exactly what the long way gives.

Three caches make a steady tick cheap: the parser splits each line head once (`_HEADS`), the
series tracker reads label texts by group (the labels before the last one, read once), and it
feeds only the rows whose value moved since a clean previous scrape. Each is compared here with
the long way on pages built to trip it: series appearing and disappearing, counters going back,
NaN and negative values, the same series twice, labels in another order, process restarts,
rebaselines, failed scrapes in between.
"""

from __future__ import annotations

import dataclasses
import gc
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sbtop.engine import exposition
from sbtop.engine.assessment import Assessment
from sbtop.engine.codec import encode
from sbtop.engine.deltas import deltas
from sbtop.engine.engine import Engine
from sbtop.engine.exposition import ParseError, labels_key, scan
from sbtop.engine.figures import figures_over
from sbtop.engine.rollup import BUCKET, COUNTER, HIST_COUNT, MESSAGES, Feed, Rollup
from sbtop.engine.routes import LazyRoutes, Routes, eager
from sbtop.engine.series import SeriesTracker
from sbtop.engine.settings import EngineSettings, MetricNames
from sbtop.recording.writer import Recorder
from tests.pagegen import obs

NAMES = MetricNames()
H = NAMES.latency_histogram
WANTED = {H + "_bucket", H + "_count", "http_requests_total", "process_start_time_seconds"}


def _long_way(tracker: SeriesTracker, name: str, kind: Feed, text: str) -> object:
    """What `_identify` must give: the whole text read by labels_key, the sums by `_slots`."""
    key = labels_key(text)
    labels = dict(key)
    status = next((s for s in NAMES.status_labels if s in labels), None)
    return key, tracker._slots(kind, labels, name), status


_label_names = st.sampled_from(["method", "route", "status_code", "code", "le", "path",
                                "handler", "instance", "x", "__name__"])
_label_values = st.sampled_from(["GET", "/a", "/a,b", "200", "404", "5xx", "0.5", "+Inf",
                                 "nope", "", "a b", 'q\\"uote', "back\\\\slash", "nl\\n"])


@st.composite
def label_texts(draw: st.DrawFn) -> str:
    pairs = draw(st.lists(st.tuples(_label_names, _label_values), max_size=5))
    seps = [draw(st.sampled_from([",", ",", ",", ", ", " ,"])) for _ in pairs]
    body = "".join(f'{sep if i else ""}{n}="{v}"' for i, ((n, v), sep)
                   in enumerate(zip(pairs, seps, strict=True)))
    if pairs and draw(st.booleans()):
        body += draw(st.sampled_from([",", " ", "x", '"']))
    return body


@settings(max_examples=400, deadline=None)
@given(texts=st.lists(label_texts(), min_size=1, max_size=12),
       kind=st.sampled_from([BUCKET, COUNTER, HIST_COUNT, MESSAGES]))
def test_label_texts_read_by_group_are_read_as_the_whole_text_would_be(
        texts: list[str], kind: Feed) -> None:
    tracker = SeriesTracker(NAMES)
    name = H + "_bucket" if kind is BUCKET else "http_requests_total"
    for text in texts:  # one tracker for all: groups cached by one text serve the next
        try:
            want = _long_way(tracker, name, kind, text)
        except ParseError:
            try:
                tracker._identify(name, kind, text)
            except ParseError:
                continue
            raise AssertionError(f"{text!r} was accepted by group but is malformed") from None
        assert tracker._identify(name, kind, text) == want, text


def test_a_route_label_last_is_not_taken_from_the_group() -> None:
    tracker = SeriesTracker(NAMES)
    name = "http_requests_total"
    first = tracker._identify(name, COUNTER, 'method="GET",status_code="200",route="/a"')
    second = tracker._identify(name, COUNTER, 'method="GET",status_code="200",route="/b"')
    assert first[1] != second[1]
    assert second == _long_way(tracker, name, COUNTER,
                               'method="GET",status_code="200",route="/b"')


# -- pages over time ---------------------------------------------------------------------

_ROUTES = ["/a", "/b", "/c"]
_LES = ["0.1", "1", "+Inf"]


@st.composite
def page_plans(draw: st.DrawFn) -> list[object]:
    """A run of scrapes: each a page (series -> value) or an event."""
    steps: list[object] = []
    values: dict[tuple[str, str, str], float] = {}
    start = 1000.0
    for _ in range(draw(st.integers(2, 10))):
        event = draw(st.sampled_from(["page"] * 6 + ["restart", "rebaseline", "failed"]))
        if event == "restart":
            start += 1
            values = {k: 0.0 for k in values}
        if event in ("rebaseline", "failed"):
            steps.append(event)
            continue
        for route in _ROUTES:
            for status in ("200", "500"):
                if draw(st.integers(0, 5)) == 0:
                    continue  # this series is not on this page
                key = (route, status, "")
                values[key] = values.get(key, 0.0) + draw(st.sampled_from([0, 0, 1, 3]))
        oddity = draw(st.sampled_from([None] * 5 + ["nan", "negative", "back", "twice",
                                                    "reordered", "twice-same", "alias",
                                                    "twice-last", "twice-last-same"]))
        steps.append(("page", dict(values), start, oddity, draw(st.integers(0, 99))))
    return steps


def _page_text(values: dict[tuple[str, str, str], float], start: float, oddity: str | None,
               pick: int) -> str:
    lines = [f"# TYPE {H} histogram", "# TYPE http_requests_total counter"]
    keys = sorted(values)
    odd = keys[pick % len(keys)] if keys else None

    def shown(key: tuple[str, str, str], v: float) -> str:
        if key == odd and oddity == "nan":
            return "NaN"
        if key == odd and oddity == "negative":
            return "-1"
        if key == odd and oddity == "back":
            return str(max(0.0, v - 2))
        return repr(v)

    for key in keys:
        route, status, _ = key
        v = values[key]
        for i, le in enumerate(_LES):
            labels = f'method="GET",route="{route}",status_code="{status}",le="{le}"'
            if key == odd and oddity == "reordered":
                labels = f'le="{le}",status_code="{status}",route="{route}",method="GET"'
            lines.append(f"{H}_bucket{{{labels}}} {shown(key, v * (i + 1) / len(_LES))}")
            if key == odd and oddity in ("twice", "twice-same") and i == 0:
                twice = v + 1 if oddity == "twice" else v * (i + 1) / len(_LES)
                lines.append(f"{H}_bucket{{{labels}}} {twice!r}")
            if key == odd and oddity == "alias" and i == 0:
                # The same series again, its labels in another order, another value.
                lines.append(f'{H}_bucket{{le="{le}",status_code="{status}",route="{route}",'
                             f'method="GET"}} {v + 1!r}')
        lines.append(f'{H}_count{{method="GET",route="{route}",status_code="{status}"}} '
                     f"{shown(key, v)}")
        lines.append(f'http_requests_total{{method="GET",route="{route}",status_code='
                     f'"{status}"}} {shown(key, v)}')
    if odd is not None and oddity in ("twice-last", "twice-last-same"):
        # A row of the page written again after all the others, where a series new since the
        # previous page would be: the same series twice, not a new one.
        route, status, _ = odd
        v = values[odd] * (1 if oddity == "twice-last-same" else 2) + (oddity == "twice-last")
        lines.append(f'{H}_bucket{{method="GET",route="{route}",status_code="{status}",'
                     f'le="+Inf"}} {v!r}')
    lines.append(f"process_start_time_seconds {start}")
    return "\n".join(lines) + "\n"


def _same(a: Rollup, b: Rollup) -> None:
    def clean(d: object) -> object:
        if isinstance(d, dict):
            return {k: clean(v) for k, v in d.items()}
        if isinstance(d, float) and math.isnan(d):
            return "nan"
        return d

    assert clean(a.sums) == clean(b.sums)
    assert (a.reset, a.ignored, a.problems, a.status_labels, a.scrape) == (
        b.reset, b.ignored, b.problems, b.status_labels, b.scrape)


@settings(max_examples=300, deadline=None)
@given(plan=page_plans())
def test_feeding_only_the_moved_rows_sums_as_feeding_every_row(plan: list[object]) -> None:
    cut = SeriesTracker(NAMES)  # takes every short cut it may
    full = SeriesTracker(NAMES)  # forgets its short cuts before every scrape
    t = 0.0
    for step in plan:
        t += 1
        if step == "rebaseline":
            cut.rebaseline()
            full.rebaseline()
            continue
        if step == "failed":
            continue  # no page: the tracker is not called
        assert isinstance(step, tuple)
        _, values, start, oddity, pick = step
        text = _page_text(values, start, oddity, pick)
        full._fed.clear()
        full._groups.clear()
        _same(cut.observe(scan(text, WANTED), t, 1e9 + t),
              full.observe(scan(text, WANTED), t, 1e9 + t))


def test_a_series_unchanged_across_a_short_cut_is_not_forgotten() -> None:
    tracker = SeriesTracker(NAMES, forget_after_scrapes=64)
    quiet = f'{H}_count{{route="/quiet",status_code="200"}} 5\n'
    busy = 0
    for i in range(200):  # the quiet series never moves: fed by the short cut throughout
        busy += 1
        text = quiet + f'{H}_count{{route="/busy",status_code="200"}} {busy}\n'
        tracker.observe(scan(text, WANTED), float(i), 1e9 + i)
    # Had it been forgotten, its 5 would now count again as new traffic.
    text = quiet.replace(" 5", " 6") + f'{H}_count{{route="/busy",status_code="200"}} {busy}\n'
    before = tracker.sums().hist_count["2xx"]
    tracker.observe(scan(text, WANTED), 200.0, 1e9 + 200)
    assert tracker.sums().hist_count["2xx"] - before == 1.0


# -- the parser's head cache ---------------------------------------------------------------

def test_a_page_scanned_again_from_the_head_cache_gives_the_same_samples() -> None:
    text = (f'{H}_bucket{{le="0.1",route="/a"}} 1\n'
            f'{H}_bucket{{le="0.1",route="/a"}} 2 1700000000000\n'
            f'{H}_count{{route="/a"}} 3\n'
            f'{H}_count 4\n'
            "other_metric 5\n")
    exposition._HEADS.clear()
    cold = scan(text, None)
    warm = scan(text, None)
    assert cold == warm
    assert scan(text, {H + "_count"}).samples == {H + "_count": [('route="/a"', 3.0, None),
                                                                ("", 4.0, None)]}


def test_the_head_cache_never_outgrows_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exposition, "_HEADS_MAX", 8)
    exposition._HEADS.clear()
    try:
        text = "".join(f'm{{i="{i}"}} {i}\n' for i in range(50))
        page = scan(text, None)
        assert len(exposition._HEADS) <= 8
        assert [v for _t, v, _ts in page.samples["m"]] == [float(i) for i in range(50)]
    finally:
        exposition._HEADS.clear()


# -- the garbage collector's pause ---------------------------------------------------------

def _many_series(count: int, bad: bool = False) -> str:
    lines = [f'{H}_count{{route="/r{i}",status_code="200"}} {i}' for i in range(count)]
    if bad:
        lines.append(f'{H}_count{{route="/r",status_code="200",}} 1')
        lines.append(f'{H}_count{{route="/r" status_code="200"}} 1')
    return "\n".join(lines) + "\n"


def test_the_garbage_collector_is_back_on_after_many_series_register_even_on_a_bad_page(
) -> None:
    assert gc.isenabled()
    SeriesTracker(NAMES).observe(scan(_many_series(3000), WANTED), 0.0, 1e9)
    assert gc.isenabled()
    with pytest.raises(ParseError):
        SeriesTracker(NAMES).observe(scan(_many_series(3000, bad=True), WANTED), 0.0, 1e9)
    assert gc.isenabled()
    gc.disable()
    try:  # an application that runs without it keeps it off
        SeriesTracker(NAMES).observe(scan(_many_series(3000), WANTED), 0.0, 1e9)
        assert not gc.isenabled()
    finally:
        gc.enable()


# -- the route table, made when it is read ----------------------------------------------------

def test_a_route_table_made_when_read_is_the_one_made_at_once_even_read_ticks_later(
) -> None:
    """The engine hands out each tick's route table unmade (LazyRoutes); reading it any time
    later, after more scrapes, restarts and failures, gives what making it at once gave."""
    check_lazy_routes()


@settings(max_examples=150, deadline=None)
@given(plan=page_plans(), read_now=st.lists(st.booleans(), min_size=10, max_size=10))
def test_route_tables_made_when_read_equal_those_made_at_once_on_random_pages(
        plan: list[object], read_now: list[bool]) -> None:
    check_lazy_routes(plan, read_now)


def check_lazy_routes(plan: list[object] | None = None, read_now: list[bool] | None = None
                      ) -> None:
    engine = Engine(dataclasses.replace(EngineSettings(), min_route_requests=1))
    if plan is None:  # a plain run: every route busy, one restart, one failed scrape
        values = {(r, s, ""): 0.0 for r in _ROUTES for s in ("200", "500")}
        plan = []
        for i in range(8):
            values = {k: v + 1 + i % 3 + (k[1] == "500") for k, v in values.items()}
            plan.append(("page", dict(values), 1000.0 + (i >= 5), None, 0))
            if i == 3:
                plan.append("failed")
    read_now = read_now or [False]
    made: list[tuple[Assessment, object]] = []
    reference: object = encode(Routes(reason="no successful scrape yet"))
    lazy = 0
    for i, step in enumerate(plan):
        t = float(i + 1)
        if step == "rebaseline":
            engine.tracker.rebaseline()
            continue
        if step == "failed":
            a = engine.observe(obs(t, None, error="connection refused"))
        else:
            assert isinstance(step, tuple)
            _, values, start, oddity, pick = step
            a = engine.observe(obs(t, scan(_page_text(values, start, oddity, pick), WANTED)))
            w = engine.window
            if len(w) >= 2 and w[-1].t > w[0].t:
                # What the engine made every tick before: every figure and the table at once.
                figures, routes = figures_over(deltas(w[0], w[-1]), w[-1], None,
                                               engine.settings)
                reference = encode(routes)
                lazy += isinstance(a.routes, LazyRoutes)
                assert {k: encode(a.figures[k]) for k in figures} == {
                    k: encode(f) for k, f in figures.items()}
            else:
                reference = encode(eager(a.routes))
        if read_now[i % len(read_now)]:
            assert encode(a.routes) == reference
        made.append((a, reference))
    for a, want in made:  # read after every later scrape
        assert encode(a.routes) == want
        assert encode(eager(a.routes)) == want
        assert a.routes == eager(a.routes) and eager(a.routes) == a.routes
    if plan and read_now == [False]:
        assert lazy >= 5  # the plain run did make its tables lazily


def test_a_route_table_not_read_is_not_made() -> None:
    engine = Engine(EngineSettings())
    for i in range(3):
        v = 10.0 * (i + 1)
        page = _page_text({("/a", "200", ""): v}, 1000.0, None, 0)
        a = engine.observe(obs(float(i + 1), scan(page, WANTED)))
    assert isinstance(a.routes, LazyRoutes) and a.routes._made is None
    assert [r.route for r in a.routes.every] == ["/a"]
    assert a.routes._made is not None and a.routes._make is None  # made once, kept


def test_a_recording_makes_the_route_table_only_when_it_keeps_it(tmp_path: Path) -> None:
    """Between the route table's redraws (every 5 s) the recording writes the table it kept
    last: the tick's own table is not made for it."""
    engine = Engine(EngineSettings())
    recorder = Recorder(tmp_path / "r.jsonl.gz", {"target": "x"})
    tables = []
    for i in range(8):
        page = _page_text({("/a", "200", ""): 10.0 * (i + 1)}, 1000.0, None, 0)
        a = engine.observe(obs(float(i + 1), scan(page, WANTED)))
        recorder.tick(a)
        tables.append(a.routes)
    recorder.close()
    made = [isinstance(r, LazyRoutes) and r._made is not None for r in tables]
    # Kept at 1 s (the first tick's table, waiting for a second scrape, is no lazy one), and
    # as it had no route, at 2 s, then at 7 s: only those lazy tables were made.
    assert made == [False, True, False, False, False, False, True, False]


def test_an_empty_metric_name_lets_no_comment_through_the_parser() -> None:
    # "" among the wanted names matched every line as a prefix: '# HELP' was read as a sample
    # and every page refused. The names exclude it, and the config refuses it in a list.
    from sbtop import config
    from sbtop.engine.names import wanted_samples

    page = ("# HELP socket_io_connected Connected sockets\n# TYPE socket_io_connected gauge\n"
            "socket_io_connected 152\n")
    wanted = wanted_samples(MetricNames(socket_gauges=("", "socket_io_connected")))
    assert "" not in wanted
    parsed = scan(page, wanted)
    assert parsed.count() == 1 and parsed.types == {"socket_io_connected": "gauge"}
    with pytest.raises(config.ConfigError, match="socket_gauges: '' is not a metric name"):
        config.parse({"metrics": {"socket_gauges": [""]}})
