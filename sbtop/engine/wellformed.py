"""Checks of what is read back, built from the same type hints the codec decodes with: `checker`
holds a value, as JSON, to what `encode` makes of a value of its type, strictly. A recording is
a file anyone may have edited, and what the reader accepts, replay and timeline must be able to
show without a second look (a string where a number belongs, a time of 1e308). Times and
durations, by the names the engine gives them, must be ones a clock or a stopwatch could show.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from sbtop.engine.fields import hints, required

# A time read back must be one a clock could show: 0 to the end of year 9999 (what datetime
# can print); NaN, the infinities and 1e308 stop a replay or a timeline cold.
MAX_TIME = 253402300799.0
_NON_FINITE = frozenset({"nan", "inf", "-inf"})  # how encode writes those floats


Check = Callable[[Any], None]
_CHECKS: dict[Any, Check] = {}


class Malformed(ValueError):
    """Data of the wrong shape for its type hint: where (a path such as
    `figures.memory_pct.value`) and what was there."""

    def __init__(self, what: str, path: tuple[str, ...] = ()) -> None:
        super().__init__(what)
        self.what = what
        self.path = path

    def inside(self, name: str) -> Malformed:
        return Malformed(self.what, (name, *self.path))

    def __str__(self) -> str:
        return f"{'.'.join(self.path)}: {self.what}" if self.path else self.what


def checker(hint: Any) -> Check:
    """A function that raises Malformed unless its argument, as JSON, is what `encode` makes of
    a value of type `hint` (built once per hint: checking every tick of a day must be cheap)."""
    got = _CHECKS.get(hint)
    if got is None:
        got = _CHECKS[hint] = _build(hint)
    return got


def _build(hint: Any) -> Check:
    if hint is Any or hint is object:
        return _anything
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        inner = tuple(checker(a) for a in args if a is not type(None))
        return _optional(inner[0]) if len(inner) == 1 else _any_of(inner)
    if hint is float:
        return _float
    if hint in (int, str, bool):
        return _exactly(hint)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _enum(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass(hint)
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        return _fixed(tuple(checker(a) for a in args))
    if origin in (tuple, list, frozenset, set):
        return _each(checker(args[0]) if args else _anything)
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        return _values(checker(args[1]) if len(args) == 2 else _anything)
    return _anything


def _anything(value: Any) -> None:
    return None


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _float(value: Any) -> None:
    # The encoder writes a float as a JSON number, or NaN and the infinities as these strings.
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Malformed(f"{shown(value)} is not a number")
    if isinstance(value, str) and value not in _NON_FINITE:
        raise Malformed(f"{shown(value)} is not a number")


def _finite(value: Any) -> None:
    """A duration: a number, never NaN or infinite (it is printed as hours and minutes)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Malformed(f"{shown(value)} is not a finite number")


def _time(value: Any) -> None:
    _finite(value)
    if not 0 <= value <= MAX_TIME:
        raise Malformed(f"{shown(value)} is not a time a clock could show")


def _exactly(kind: type) -> Check:
    def check(value: Any) -> None:
        # bool is an int to Python, never to the encoder.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise Malformed(f"{shown(value)} is not {_KINDS[kind]}")
    return check


_KINDS = {int: "a whole number", str: "text", bool: "true or false"}


def _enum(kind: type[enum.Enum]) -> Check:
    allowed = {m.value for m in kind}

    def check(value: Any) -> None:
        if isinstance(value, dict | list) or value not in allowed:
            raise Malformed(f"{shown(value)} is not one of {sorted(map(str, allowed))}")
    return check


def _optional(inner: Check) -> Check:
    if inner is _anything:
        return _anything

    def check(value: Any) -> None:
        if value is not None:
            inner(value)
    return check


def _any_of(options: tuple[Check, ...]) -> Check:
    def check(value: Any) -> None:
        if value is None:
            return
        for option in options:
            try:
                option(value)
                return
            except Malformed:
                continue
        raise Malformed(f"{shown(value)} is of none of the expected types")
    return check


def _each(item: Check) -> Check:
    def check(value: Any) -> None:
        if not isinstance(value, list):
            raise Malformed(f"{shown(value)} is not a list")
        if item is _anything:
            return
        for i, v in enumerate(value):
            try:
                item(v)
            except Malformed as e:
                raise e.inside(str(i)) from None
    return check


def _fixed(items: tuple[Check, ...]) -> Check:
    def check(value: Any) -> None:
        if not isinstance(value, list) or len(value) != len(items):
            raise Malformed(f"{shown(value)} is not a list of {len(items)}")
        for i, (item, v) in enumerate(zip(items, value, strict=True)):
            try:
                item(v)
            except Malformed as e:
                raise e.inside(str(i)) from None
    return check


def _values(item: Check) -> Check:
    def check(value: Any) -> None:
        if not isinstance(value, dict):
            raise Malformed(f"{shown(value)} is not an object")
        if item is _anything:
            return
        for k, v in value.items():
            try:
                item(v)
            except Malformed as e:
                raise e.inside(str(k)) from None
    return check


@functools.cache
def field_checks(cls: type) -> dict[str, Check]:
    return {name: field_check(name, hint) for name, hint in hints(cls).items()}


def _dataclass(cls: type) -> Check:
    needed = required(cls)
    fields = field_checks(cls)

    def check(value: Any) -> None:
        if not isinstance(value, dict):
            raise Malformed(f"{shown(value)} is not an object")
        for name in needed:
            if name not in value:
                raise Malformed(f"missing {name!r}")
        for k, v in value.items():
            f = fields.get(k)
            if f is None:
                continue  # unknown: decode leaves it out
            try:
                f(v)
            except Malformed as e:
                raise e.inside(k) from None
    return check


def field_check(name: str, hint: Any) -> Check:
    """The check for one field: its type's, and for times and durations (by the names the
    engine gives them) a value a clock or a stopwatch could show."""
    base = checker(hint)
    allows_none = type(None) in typing.get_args(hint)
    if hint is float or (allows_none and float in typing.get_args(hint)):
        if name in ("t", "wall") or name.endswith(("_wall", "_t")):
            base = _time
        elif name.endswith(("_s", "_ms")):
            base = _finite
        if allows_none:
            base = _optional(base)
    return base

