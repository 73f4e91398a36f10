"""A recording's lines as JSON: written and read by msgspec, floats exact both ways, and what the
stdlib's strict reading refused refused in the same words (NaN, Infinity, numbers past a
float's range), what it read read alike (a lone surrogate escaped, UTF-16 text)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sbtop import untrusted
from sbtop.recording.stream import parse_line
from sbtop.recording.writer import encode_line

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20)


def _stdlib(raw: bytes) -> Any:
    """How a line was read before msgspec: the stdlib, strictly, then made safe."""
    def no_constant(name: str) -> Any:
        raise ValueError(name)

    def finite(text: str) -> float:
        if not math.isfinite(float(text)):
            raise ValueError(text)
        return float(text)

    return untrusted.deep(json.loads(raw, parse_constant=no_constant, parse_float=finite))


@given(st.dictionaries(st.text(max_size=8), _JSON, max_size=6))
def test_a_line_reads_back_as_written_floats_exactly(obj: dict[str, Any]) -> None:
    line = encode_line(obj)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    back = parse_line(line)
    assert back == _stdlib(line)  # as the stdlib reads it, and as it wrote it:
    assert back == _stdlib(json.dumps(obj, allow_nan=False).encode())
    assert json.dumps(back) == json.dumps(_stdlib(json.dumps(obj).encode()))  # bit for bit


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_finite_float_survives_a_line(x: float) -> None:
    back = parse_line(encode_line({"v": x}))["v"]
    assert back == x and math.copysign(1.0, back) == math.copysign(1.0, x)


@pytest.mark.parametrize(("raw", "words"), [
    (b'{"w": NaN}', "NaN is not a number sbtop writes"),
    (b'{"w": -Infinity}', "-Infinity is not a number sbtop writes"),
    (b'{"w": 1e400}', "1e400 is out of range"),
    (b'{"w": -1e400}', "-1e400 is out of range"),
])
def test_what_sbtop_never_writes_is_refused_in_the_same_words(raw: bytes, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_line(raw)
    # The line indexed, read again: taken as it is (its CRC says it is the same line).
    assert "w" in parse_line(raw, again=True)


def test_malformed_json_is_the_stdlibs_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        parse_line(b'{"w": 1')
    with pytest.raises(RecursionError):
        parse_line(b"[" * 100_000 + b"]" * 100_000)


def test_what_only_the_stdlib_reads_is_read_and_made_safe() -> None:
    for raw in (b'{"s": "a\\ud800b"}', '{"s": "é"}'.encode("utf-16")):
        assert parse_line(raw) == _stdlib(raw)
    assert parse_line('{"s": "é"}'.encode("utf-16")) == {"s": "é"}


def test_writing_never_stops_a_recording() -> None:
    class Odd:
        def __str__(self) -> str:
            return "odd"

    assert parse_line(encode_line({"d": Odd(), "k": "é"})) == {"d": "odd", "k": "é"}
    # Refused by msgspec, written as the stdlib writes them.
    odd = {"s": "a\ud800", "big": 2**70, 1: 2}
    assert encode_line(odd) == json.dumps(odd, separators=(",", ":")).encode() + b"\n"
    # A non-finite float past the codec (which writes those as strings) is unknown, not a stop.
    assert parse_line(encode_line({"c": {"baseline_p95_ms": math.nan}})) == {
        "c": {"baseline_p95_ms": None}}
