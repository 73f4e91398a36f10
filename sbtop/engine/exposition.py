"""A parser for the Prometheus text format and OpenMetrics that keeps only the samples asked for.

prometheus_client's parser builds an object per sample and manages about 50,000 samples/s; a
large Node service exposes 20,000 samples, most of which sbtop never looks at. This parser skips
unwanted lines with one prefix test each, parses wanted lines with one regular expression, and
leaves the label text unparsed: callers turn label text into labels once per series through
`labels_key`, whose cache makes repeated scrapes of the same series cheap.

It is proven equal to prometheus_client's parser, sample for sample, in tests/test_exposition.py.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

from sbtop import untrusted

# The label text is taken greedily up to the last '}' on the line: values and timestamps never
# contain one, so the last brace closes the label set whatever the label values hold. Only an
# OpenMetrics exemplar (` # {...} 1.0`) breaks that, and such lines take the careful path.
_SAMPLE = re.compile(
    r"([a-zA-Z_:][a-zA-Z0-9_:]*)[ \t]*(?:\{(.*)\})?[ \t]+([^ \t]+)(?:[ \t]+([^ \t]+))?[ \t\r]*\Z"
)
_LABEL = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\]|\\.)*)"[ \t]*(,|\Z)')
_ESCAPE = re.compile(r'\\[\\n"]')
_UNESCAPE = {"\\\\": "\\", "\\n": "\n", '\\"': '"'}
# Blank, comment and indented lines; "" is the first character of an empty line.
_NOT_SAMPLE_START = frozenset({"", "#", " ", "\t", "\r"})
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_TYPES = frozenset(
    {"counter", "gauge", "histogram", "summary", "untyped", "unknown", "info", "stateset",
     "gaugehistogram"}
)

LabelsKey = tuple[tuple[str, str], ...]
# (label text as written between the braces, value, timestamp in seconds or None)
RawSample = tuple[str, float, float | None]


class ParseError(untrusted.Message, ValueError):
    """The page is not a valid exposition; the message names the line (quoting it safely)."""


@dataclass(slots=True)
class Page:
    """The wanted samples of one page, grouped by sample name, in page order."""

    samples: dict[str, list[RawSample]] = field(default_factory=dict)
    # Family name -> declared type, for every `# TYPE` line on the page.
    types: dict[str, str] = field(default_factory=dict)
    lines: int = 0
    openmetrics: bool = False

    def series(self, name: str) -> list[RawSample]:
        return self.samples.get(name, [])

    def count(self) -> int:
        return sum(len(v) for v in self.samples.values())


def scan(text: str, wanted: Collection[str] | None = None, *, openmetrics: bool = False) -> Page:
    """Parse `text`, keeping the samples whose name is in `wanted` (all of them when None).

    Raises ParseError for a malformed wanted line, a truncated page (no final newline, or an
    OpenMetrics page without `# EOF`) and anything after `# EOF`. Unwanted lines are not
    examined beyond their first characters, as a scraper that only needs some families should.
    """
    page = Page(openmetrics=openmetrics)
    if not text:
        if openmetrics:
            raise ParseError("empty OpenMetrics page: no '# EOF'")
        return page
    lines = text.split("\n")
    tail = lines.pop()
    if tail:
        if openmetrics and tail.rstrip("\r") == "# EOF":
            lines.append(tail)  # OpenMetrics makes the newline after '# EOF' optional
        else:
            raise ParseError(f"truncated page: line {len(lines) + 1} has no final newline")
    page.lines = len(lines)
    wanted_set = frozenset(wanted) if wanted is not None else None
    # str.startswith with a tuple runs in C: the cheap test that lets unwanted lines go by.
    prefixes = tuple(sorted(wanted_set)) if wanted_set is not None else ("",)
    samples = page.samples
    heads_get = _HEADS.get
    label_text: str | None
    eof_at = 0
    last_name = ""
    last_rows: list[RawSample] = []
    # With every name wanted, a line must also be told from a comment by its first character;
    # with names given, a line that starts with one of them starts with a letter.
    every = wanted_set is None
    for lineno, raw in enumerate(lines, 1):
        line = raw
        if eof_at:
            if line:
                raise ParseError(f"line {lineno}: text after '# EOF' (line {eof_at})")
            continue
        if not line.startswith(prefixes) or (every and line[:1] in _NOT_SAMPLE_START):
            # Most lines end here: unwanted samples, comments and blank lines.
            first = line[:1]
            if first not in _NOT_SAMPLE_START:
                continue
            if first != "#":
                line = line.strip()
                if not line:
                    continue
            if line[0] == "#":
                if _comment(line, lineno, page):
                    eof_at = lineno
                continue
            if not line.startswith(prefixes):
                continue
        # The common line, `name{labels} value`, is split without a regular expression;
        # timestamps, tabs, exemplars and anything odd take the exact path below.
        head, _sep, value_text = line.rpartition(" ")
        split = heads_get(head)
        if split is None:
            split = _split_head(head)
            if split[0]:
                if len(_HEADS) >= _HEADS_MAX:
                    _HEADS.clear()
                _HEADS[head] = split
        name, labels = split
        row: RawSample | None = None
        if ((name in wanted_set if wanted_set is not None else name) and "_" not in value_text
                and not (openmetrics and "#" in line)):
            try:
                row = (labels, float(value_text), None)
            except ValueError:
                row = None  # the exact path says why
        if row is None:
            m = _SAMPLE.match(line)
            if m is None or (openmetrics and " # " in line):
                name, label_text, value, ts = _careful_sample(line, lineno, openmetrics)
            else:
                name, label_text, value_text, ts_text = m.groups()
                value = _value(value_text, lineno)
                ts = _timestamp(ts_text, lineno, openmetrics) if ts_text is not None else None
            if wanted_set is not None and name not in wanted_set:
                continue  # a longer name that merely begins like a wanted one
            row = ("" if label_text is None else label_text, value, ts)
        if name is last_name:
            last_rows.append(row)  # samples of a family come together: skip the lookup
            continue
        rows = samples.get(name)
        if rows is None:
            rows = samples[name] = []
        rows.append(row)
        last_name, last_rows = name, rows
    if openmetrics and not eof_at:
        raise ParseError("truncated OpenMetrics page: no '# EOF' at the end")
    return page


# What the head of a line (all before its last space) splits into, by head: a page's heads
# are the same from one scrape to the next (only the values move), so each is split once, and
# every scrape hands on the same label text object, whose hash Python keeps: the series
# tracker's lookups by label text then cost no hashing. Only heads with a valid metric name
# are kept (a head holding a timestamp changes every scrape). Bounded: emptied when full.
_HEADS: dict[str, tuple[str, str]] = {}
_HEADS_MAX = 1 << 17  # two pages of the largest sbtop reads by default (50,000 samples)
_NAMES: dict[str, str] = {}  # valid metric names seen in heads, each as one object


def _split_head(head: str) -> tuple[str, str]:
    """`name{labels}` -> (name, label text), `name` -> (name, ""); name "" when it is not a
    valid metric name (the line then takes the exact path)."""
    if head[-1:] == "}":
        brace = head.find("{")
        name = head[:brace]
        labels = head[brace + 1 : -1]
    else:
        name = head
        labels = ""
    # One object per name (so the scan's "same family as the line before" test is an
    # identity), and a name's validity checked once.
    known = _NAMES.get(name)
    if known is None:
        if not _METRIC_NAME.match(name):
            return "", labels
        known = sys.intern(name)
        if len(_NAMES) < 65536:
            _NAMES[name] = known
    return known, labels


def _comment(line: str, lineno: int, page: Page) -> bool:
    """Read a `#` line; True when it is OpenMetrics' `# EOF`."""
    if line.startswith("# TYPE "):
        parts = line.split(None, 3)
        if len(parts) != 4 or not _METRIC_NAME.match(parts[2]) or parts[3].strip() not in _TYPES:
            raise ParseError(f"line {lineno}: malformed TYPE line {line[:80]!r}")
        page.types[parts[2]] = parts[3].strip()
        return False
    return page.openmetrics and line.rstrip() == "# EOF"


def _value(text: str, lineno: int) -> float:
    if "_" in text:
        raise ParseError(f"line {lineno}: invalid value {text[:40]!r}")
    try:
        return float(text)
    except ValueError:
        raise ParseError(f"line {lineno}: invalid value {text[:40]!r}") from None


def _timestamp(text: str, lineno: int, openmetrics: bool) -> float:
    # The classic format counts milliseconds, OpenMetrics seconds; both come out in seconds.
    value = _value(text, lineno)
    return value if openmetrics else value / 1000.0


def _careful_sample(
    line: str, lineno: int, openmetrics: bool
) -> tuple[str, str | None, float, float | None]:
    """The slow, quote-aware path: exemplars, and lines the fast expression rejected."""
    name_end = 0
    while name_end < len(line) and line[name_end] not in "{ \t":
        name_end += 1
    name = line[:name_end]
    if not _METRIC_NAME.match(name):
        raise ParseError(f"line {lineno}: invalid metric name in {line[:80]!r}")
    rest = line[name_end:].lstrip(" \t")
    labels: str | None = None
    if rest.startswith("{"):
        end = _closing_brace(rest)
        if end < 0:
            raise ParseError(f"line {lineno}: unterminated label set in {line[:80]!r}")
        labels = rest[1:end]
        rest = rest[end + 1 :]
    if openmetrics and " # " in rest:
        rest = rest.split(" # ", 1)[0]  # drop the exemplar
    parts = rest.split()
    if not parts or len(parts) > 2 or (rest and rest[0] not in " \t"):
        raise ParseError(f"line {lineno}: expected 'name{{labels}} value [timestamp]'")
    value = _value(parts[0], lineno)
    ts = _timestamp(parts[1], lineno, openmetrics) if len(parts) == 2 else None
    return name, labels, value, ts


def _closing_brace(text: str) -> int:
    in_quotes = False
    i = 1
    while i < len(text):
        c = text[i]
        if in_quotes:
            if c == "\\":
                i += 1
            elif c == '"':
                in_quotes = False
        elif c == '"':
            in_quotes = True
        elif c == "}":
            return i
        i += 1
    return -1


@functools.lru_cache(maxsize=65536)
def labels_key(text: str) -> LabelsKey:
    """The label text of a sample as a sorted tuple of (name, value): one key per series.

    Label order on the page does not matter. Raises ParseError on malformed label text.
    Cached: a series' label text repeats on every scrape.
    """
    out: dict[str, str] = {}
    pos = 0
    length = len(text)
    while pos < length:
        m = _LABEL.match(text, pos)
        if m is None:
            if text[pos:].strip(" \t"):
                raise ParseError(f"invalid labels {{{text[:120]}}}")
            break
        name, value = m.group(1), m.group(2)
        if "\\" in value:
            value = _ESCAPE.sub(lambda e: _UNESCAPE[e.group(0)], value)
        if name in out:
            raise ParseError(f"duplicate label {name!r} in {{{text[:120]}}}")
        if name == "__name__":
            raise ParseError(f"metric name given as a label in {{{text[:120]}}}")
        out[name] = value
        pos = m.end()
        if m.group(3) == "" and pos < length:
            raise ParseError(f"invalid labels {{{text[:120]}}}")
    return tuple(sorted(out.items()))


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float
    timestamp: float | None


def samples(text: str, wanted: Collection[str] | None = None, *, openmetrics: bool = False
            ) -> Iterator[Sample]:
    """Every wanted sample with its labels parsed: the convenient, slower face of `scan`."""
    page = scan(text, wanted, openmetrics=openmetrics)
    for name, rows in page.samples.items():
        for label_text, value, ts in rows:
            try:
                key = labels_key(label_text)
            except ParseError as e:
                raise ParseError(f"{name}: {e}") from None
            yield Sample(name, dict(key), value, ts)
