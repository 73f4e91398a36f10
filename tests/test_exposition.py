"""The fast parser agrees with prometheus_client's parser, sample for sample."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as reference_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as reference_classic

from sbtop.engine.exposition import ParseError, labels_key, samples, scan

PAGES = Path(__file__).parent / "pages"

Row = tuple[str, tuple[tuple[str, str], ...], object, object]


def _norm_value(v: float) -> object:
    v = float(v)
    return "NaN" if math.isnan(v) else v


def _norm_ts(ts: object) -> object:
    if ts is None:
        return None
    if hasattr(ts, "sec"):
        return round(ts.sec + ts.nsec / 1e9, 6)  # type: ignore[attr-defined]
    return round(float(ts), 6)  # type: ignore[arg-type]


def reference(text: str, openmetrics: bool) -> list[Row]:
    parse = reference_openmetrics if openmetrics else reference_classic
    out = []
    for family in parse(text):
        for s in family.samples:
            out.append((s.name, tuple(sorted(s.labels.items())), _norm_value(s.value),
                        _norm_ts(s.timestamp)))
    return sorted(out, key=repr)


def ours(text: str, openmetrics: bool, wanted: set[str] | None = None) -> list[Row]:
    page = scan(text, wanted, openmetrics=openmetrics)
    out = []
    for s in samples(text, wanted, openmetrics=openmetrics):
        name = s.name
        # prometheus_client's classic parser renames a counter's samples to end in _total
        # (prom-client does not write the suffix); compare under the same names.
        if (not openmetrics and page.types.get(name) == "counter"
                and not name.endswith("_total")):
            name += "_total"
        out.append((name, tuple(sorted(s.labels.items())), _norm_value(s.value),
                    _norm_ts(s.timestamp)))
    return sorted(out, key=repr)


def test_classic_corpus_matches_prometheus_client_sample_for_sample() -> None:
    text = (PAGES / "classic_corpus.prom").read_text()
    expected = reference(text, openmetrics=False)
    assert len(expected) > 35
    assert ours(text, openmetrics=False) == expected


def test_openmetrics_corpus_matches_prometheus_client_sample_for_sample() -> None:
    text = (PAGES / "openmetrics_corpus.txt").read_text()
    expected = reference(text, openmetrics=True)
    assert len(expected) > 15
    assert ours(text, openmetrics=True) == expected


def test_corpus_edge_cases_parse_as_the_format_says() -> None:
    text = (PAGES / "classic_corpus.prom").read_text()
    got = {(s.name, tuple(sorted(s.labels.items()))): s for s in samples(text)}
    msdos = next(s for (n, _), s in got.items() if n == "msdos_file_access_time_seconds")
    assert msdos.labels == {"path": "C:\\DIR\\FILE.TXT", "error": 'Cannot find file:\n"FILE.TXT"'}
    assert got[("http_requests_total", (("code", "200"), ("method", "post")))].timestamp == (
        1395066363.0)
    assert got[("braces_in_value", (("path", "/a}b{c"),))].value == 5
    assert got[("quote_brace", (("v", 'x"} 1'),))].value == 7
    assert got[("hash_in_value", (("path", "/a # b"),))].value == 6
    assert math.isnan(got[("nan_and_inf", (("kind", "nan"),))].value)
    assert got[("nan_and_inf", (("kind", "neg"),))].value == -math.inf
    assert got[("something_weird", (("problem", "division by zero"),))].timestamp == -3982.045
    assert got[("unicode_value", (("who", "Zoë 学生 ☃"),))].value == 10
    # Comments that look like samples are comments.
    assert not any(s.labels.get("code") in ("500", "501") for s in got.values())


def test_label_order_does_not_change_the_series_key() -> None:
    assert labels_key('b="2",a="1"') == labels_key('a="1", b="2",') == (("a", "1"), ("b", "2"))


def test_only_wanted_samples_are_kept_and_they_equal_the_full_parse() -> None:
    text = (PAGES / "classic_corpus.prom").read_text()
    wanted = {"http_request_duration_seconds_bucket", "http_requests_total", "label_order"}
    full = ours(text, openmetrics=False)
    assert ours(text, openmetrics=False, wanted=wanted) == [r for r in full if r[0] in wanted]


def test_a_longer_name_that_begins_like_a_wanted_one_is_not_kept() -> None:
    text = "http_requests_total_extra 5\nhttp_requests_total 7\n"
    page = scan(text, {"http_requests_total"})
    assert page.samples == {"http_requests_total": [("", 7.0, None)]}


def test_openmetrics_timestamps_are_seconds_and_classic_ones_milliseconds() -> None:
    om = scan('a_total 1 1520879607.789\n# EOF\n', None, openmetrics=True)
    classic = scan("a_total 1 1520879607789\n", None)
    assert om.samples["a_total"][0][2] == pytest.approx(1520879607.789)
    assert classic.samples["a_total"][0][2] == pytest.approx(1520879607.789)


def test_exemplars_are_dropped_from_openmetrics_samples() -> None:
    text = 'x_bucket{le="1"} 8 # {trace_id="a}b"} 0.5 123\n# EOF\n'
    assert scan(text, None, openmetrics=True).samples["x_bucket"] == [('le="1"', 8.0, None)]


@pytest.mark.parametrize(
    ("text", "openmetrics", "message"),
    [
        ("a 1\nb 2", False, "no final newline"),
        ("a_total 1\n", True, "no '# EOF'"),
        ("a_total 1\n# EOF\nb 2\n", True, "after '# EOF'"),
        ("a{x=\"1\" 2\n", False, "line 1"),
        ("a one\n", False, "invalid value"),
        ("a 1_000\n", False, "invalid value"),
        ("# TYPE a\n", False, "malformed TYPE"),
    ],
)
def test_malformed_pages_are_refused_with_the_line(text: str, openmetrics: bool,
                                                   message: str) -> None:
    with pytest.raises(ParseError, match=message):
        list(samples(text, None, openmetrics=openmetrics))


@pytest.mark.parametrize("labels", ['a="1"b="2"', 'a="1",,b="2"', "a=1", 'a="1",a="2"', '0a="1"'])
def test_malformed_label_sets_are_refused(labels: str) -> None:
    with pytest.raises(ParseError):
        labels_key(labels)


def test_malformed_unwanted_lines_do_not_matter() -> None:
    # Prometheus would refuse the whole page; sbtop does not even read lines it does not need.
    page = scan('wanted 1\nnot wanted at all {{{\n', {"wanted"})
    assert page.samples == {"wanted": [("", 1.0, None)]}


# --- generated pages -------------------------------------------------------------------------

_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,12}", fullmatch=True)
_label_names = st.from_regex(r"[a-zA-Z][a-zA-Z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: not n.startswith("__") and n not in {"le", "quantile"})
_label_values = st.text(
    alphabet=st.sampled_from(list('abcXYZ019 _-/.:{}=,#"\\\nzé学')), max_size=12)
_values = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12).map(float),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
)


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _fmt(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v)


@st.composite
def _pages(draw: st.DrawFn) -> str:
    lines = []
    used: set[str] = set()
    for _ in range(draw(st.integers(1, 6))):
        name = draw(_names.filter(lambda n: n not in used))
        used.add(name)
        kind = draw(st.sampled_from(["gauge", "untyped", None]))
        if kind:
            lines.append(f"# HELP {name} help for {name}")
            lines.append(f"# TYPE {name} {kind}")
        seen: set[tuple[tuple[str, str], ...]] = set()
        for _ in range(draw(st.integers(1, 5))):
            labels = draw(st.dictionaries(_label_names, _label_values, max_size=4))
            key = tuple(sorted(labels.items()))
            if key in seen:
                continue
            seen.add(key)
            items = list(labels.items())
            if draw(st.booleans()):
                items.reverse()
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in items)
            if items and draw(st.booleans()):
                text += ","
            label_part = f"{{{text}}}" if items or draw(st.booleans()) else ""
            ts = ""
            if draw(st.booleans()):
                ts = " " + str(draw(st.integers(min_value=0, max_value=2 * 10**12)))
            sep = draw(st.sampled_from([" ", "  ", "\t"]))
            lines.append(f"{name}{label_part}{sep}{_fmt(draw(_values))}{ts}")
    return "\n".join(lines) + "\n"


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(_pages())
def test_generated_pages_match_prometheus_client(text: str) -> None:
    assert ours(text, openmetrics=False) == reference(text, openmetrics=False)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(_pages(), st.data())
def test_generated_pages_filtered_equal_the_full_parse(text: str, data: st.DataObject) -> None:
    full = ours(text, openmetrics=False)
    names = sorted({r[0] for r in full})
    wanted = set(data.draw(st.lists(st.sampled_from(names), unique=True))) if names else set()
    assert ours(text, openmetrics=False, wanted=wanted) == [r for r in full if r[0] in wanted]


_RESERVED = ("_total", "_created", "_count", "_sum", "_bucket", "_gcount", "_gsum", "_info")


@st.composite
def _openmetrics_pages(draw: st.DrawFn) -> str:
    lines = []
    used: set[str] = set()
    for _ in range(draw(st.integers(1, 5))):
        name = draw(_names.filter(lambda n: n not in used and not n.endswith(_RESERVED)))
        used.add(name)
        kind = draw(st.sampled_from(["gauge", "counter"]))
        lines.append(f"# TYPE {name} {kind}")
        lines.append(f"# HELP {name} help for {name}")
        seen: set[tuple[tuple[str, str], ...]] = set()
        for _ in range(draw(st.integers(1, 4))):
            labels = draw(st.dictionaries(_label_names, _label_values, max_size=3))
            key = tuple(sorted(labels.items()))
            if key in seen:
                continue
            seen.add(key)
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            label_part = f"{{{text}}}" if labels else ""
            if kind == "counter":
                value = draw(st.integers(min_value=0, max_value=10**9))
                lines.append(f"{name}_total{label_part} {value}")
            else:
                lines.append(f"{name}{label_part} {_fmt(draw(_values))}")
            if draw(st.booleans()):
                lines[-1] += f" {draw(st.integers(0, 2 * 10**9))}.{draw(st.integers(0, 999)):03d}"
    return "\n".join(lines) + "\n# EOF\n"


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(_openmetrics_pages())
def test_generated_openmetrics_pages_match_prometheus_client(text: str) -> None:
    assert ours(text, openmetrics=True) == reference(text, openmetrics=True)


def test_the_metric_name_given_as_a_label_is_refused() -> None:
    with pytest.raises(ParseError, match="metric name given as a label"):
        labels_key('__name__="x"')


def test_openmetrics_may_end_without_a_newline_after_eof() -> None:
    page = scan("a_total 1\n# EOF", None, openmetrics=True)
    assert page.samples["a_total"] == [("", 1.0, None)]
