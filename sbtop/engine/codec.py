"""Assessments to JSON-ready dicts and back, for recordings: whatever the console drew from an
Assessment can be drawn again from its record.

Generic over the engine's frozen dataclasses, driven by their type hints: a field equal to its
default is left out (most are, most of the time), floats are kept exactly, NaN and the
infinities travel as strings (JSON has neither). `delta` and `apply` carry one tick as the
difference from the one before: only the figures and sources that changed, and the other
parts only when they changed.

`checker` and `check_change` hold what comes back to the same type hints, strictly: a recording
is a file anyone may have edited, and what the reader accepts, replay and timeline must be able
to show without a second look (a string where a number belongs, a time of 1e308).
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

from sbtop.engine.assessment import Assessment
from sbtop.engine.detail import Detail
from sbtop.engine.figures import ranked

Encoded = dict[str, Any]
# Parts of an Assessment held per key, so a tick records only the keys that changed.
KEYED = ("figures", "sources")

_HINTS: dict[type, dict[str, Any]] = {}
_DEFAULTS: dict[type, dict[str, Any]] = {}

# A time read back must be one a clock could show: 0 to the end of year 9999 (what datetime
# can print); NaN, the infinities and 1e308 stop a replay or a timeline cold.
MAX_TIME = 253402300799.0
_NON_FINITE = frozenset({"nan", "inf", "-inf"})  # how encode writes those floats


def encode(obj: Any) -> Any:
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        if not math.isfinite(obj):
            return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
        # Exact (the shortest text that reads back as the same float): a replay must show
        # 167, not 168, where the console showed 167 for 167.4999.
        return obj
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, Detail):
        # The fields set, in the order they have always been written (what is None is left
        # out: it reads back as None).
        return {k: encode(v) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        cls = type(obj)
        defaults = _defaults(cls)
        out = {}
        for f in dataclasses.fields(cls):
            value = getattr(obj, f.name)
            if f.name in defaults and _same(value, defaults[f.name]):
                continue
            out[f.name] = encode(value)
        return out
    if isinstance(obj, Mapping):
        return {str(k): encode(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [encode(v) for v in obj]
    return str(obj)  # nothing else is expected in an Assessment; never fail a recording


def decode(hint: Any, data: Any) -> Any:
    if data is None:
        return None
    if hint is Any or hint is object:
        return data
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in args if a is not type(None)]
        return decode(inner[0], data) if len(inner) == 1 else data
    if hint is float:
        return float(data)
    if hint in (int, str, bool):
        return data
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(data)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        hints = _hints(hint)
        fields = {k: decode(hints[k], v) for k, v in data.items() if k in hints}
        for name in _nullable(hint):
            # A change sets a field to None by leaving it out (apply drops it): a figure whose
            # value became unknown has no "value" left, and that is a value of None.
            fields.setdefault(name, None)
        return hint(**fields)
    if origin in (tuple, list):
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v) for v in data)
        if origin is tuple:
            return tuple(decode(a, v) for a, v in zip(args, data, strict=False))
        return [decode(args[0] if args else Any, v) for v in data]
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        value_hint = args[1] if len(args) == 2 else Any
        return {k: decode(value_hint, v) for k, v in data.items()}
    return data


def encode_assessment(a: Assessment) -> Encoded:
    out: Encoded = encode(a)
    routes = out.get("routes")
    if isinstance(routes, dict):
        # The slowest and most failing are every route ranked again: kept once, not thrice.
        top = max(len(a.routes.slowest), len(a.routes.failing))
        routes.pop("slowest", None)
        routes.pop("failing", None)
        if top:
            routes["top"] = top
    return out


def decode_assessment(data: Encoded) -> Assessment:
    routes = data.get("routes")
    top = routes.get("top", 0) if isinstance(routes, dict) else 0
    if isinstance(routes, dict):
        data = {**data, "routes": {k: v for k, v in routes.items() if k != "top"}}
    a: Assessment = decode(Assessment, data)
    if top:
        ranked_routes = ranked(a.routes.every, top)
        a = dataclasses.replace(a, routes=dataclasses.replace(
            a.routes, slowest=ranked_routes.slowest, failing=ranked_routes.failing))
    return a


def delta(prev: Encoded | None, cur: Encoded) -> Encoded:
    """What changed from `prev` to `cur`; a key that went back to its default is None."""
    if prev is None:
        return dict(cur)
    out: Encoded = {}
    for k in cur.keys() | prev.keys():
        new, old = cur.get(k), prev.get(k)
        if k in KEYED and isinstance(new, dict) and isinstance(old, dict):
            changed = _patch(old, new, depth=2)
            if changed is not None:
                out[k] = changed
        elif new != old:
            out[k] = new
    return out


def _patch(old: dict[str, Any], new: dict[str, Any], depth: int) -> Encoded | None:
    """{"~": changes} turning `old` into `new`, nested `depth` dicts deep (a figure's value
    changes every tick, its unit and thresholds never); None when they are equal."""
    changes: dict[str, Any] = {}
    for k in new.keys() | old.keys():
        a, b = old.get(k), new.get(k)
        if a == b:
            continue
        if depth > 1 and isinstance(a, dict) and isinstance(b, dict):
            changes[k] = _patch(a, b, depth - 1)
        else:
            changes[k] = b
    return {"~": changes} if changes else None


def apply(prev: Encoded | None, change: Encoded) -> Encoded:
    """`prev` with one tick's change applied (a new dict; `prev` is left as it was)."""
    out = dict(prev or {})
    for k, v in change.items():
        if _is_patch(v):
            try:
                out[k] = _apply_patch(out.get(k), v["~"])
            except Malformed as e:
                raise e.inside(k) from None
        elif v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def _is_patch(v: Any) -> bool:
    return isinstance(v, dict) and len(v) == 1 and "~" in v


def _apply_patch(base: Any, changes: Any) -> dict[str, Any]:
    if not isinstance(changes, dict):  # a file edited by hand: said, as the checks say
        raise Malformed(f"the change {_shown(changes)} is not an object")
    part = dict(base) if isinstance(base, dict) else {}
    for k, v in changes.items():
        if v is None:
            part.pop(k, None)
        elif _is_patch(v):
            try:
                part[k] = _apply_patch(part.get(k), v["~"])
            except Malformed as e:
                raise e.inside(k) from None
        else:
            part[k] = v
    return part


def _hints(cls: type) -> dict[str, Any]:
    got = _HINTS.get(cls)
    if got is None:
        got = _HINTS[cls] = typing.get_type_hints(cls)
    return got


def _defaults(cls: type) -> dict[str, Any]:
    got = _DEFAULTS.get(cls)
    if got is None:
        got = {}
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                got[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                got[f.name] = f.default_factory()
        _DEFAULTS[cls] = got
    return got


def _same(value: Any, default: Any) -> bool:
    try:
        return bool(value == default) and type(value) is type(default)
    except Exception:
        return False


# --- checking what is read back ---------------------------------------------------------------

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


def check_change(current: Encoded, change: Encoded) -> None:
    """`current` (an Assessment as encoded, `change` already applied) checked where `change`
    touched it: the rest was checked when it was set. (A whole snapshot is checked whole, with
    checker(Assessment).) Per tick this is most of the figures, so only the fields a change
    names are checked again, and that every required one is still there."""
    for name in _required(Assessment):
        if name not in current:
            raise Malformed(f"missing {name!r}")
    parts = _parts()
    for k, v in change.items():
        part = parts.get(k)
        if part is None or k not in current:
            # A part this sbtop does not know (left alone, as decode leaves it), or one back
            # to its default (the change says None, and it is gone).
            continue
        entry, whole = part
        try:
            if entry is not None and _is_patch(v):
                _check_entries(current[k], v["~"], entry)
            else:
                whole(current.get(k))
        except Malformed as e:
            raise e.inside(k) from None


@functools.cache
def _parts() -> dict[str, tuple[type | None, Check]]:
    """Each part of an Assessment: the type of its entries when it is held per key (a figure,
    a source), and the check of the whole part."""
    out: dict[str, tuple[type | None, Check]] = {}
    for name, hint in _hints(Assessment).items():
        entry = typing.get_args(hint)[1] if name in KEYED else None
        out[name] = (entry, _field_check(name, hint))
    return out


def _check_entries(part: dict[str, Any], changes: dict[str, Any], cls: type) -> None:
    fields, required, whole = _field_checks(cls), _required(cls), checker(cls)
    for name, sub in changes.items():
        entry = part.get(name)
        if entry is None:
            continue  # removed
        try:
            if not _is_patch(sub):
                whole(entry)
                continue
            for f in required:
                if f not in entry:
                    raise Malformed(f"missing {f!r}")
            for f in sub["~"]:
                check = fields.get(f)
                if check is not None and f in entry:
                    try:
                        check(entry[f])
                    except Malformed as e:
                        raise e.inside(f) from None
        except Malformed as e:
            raise e.inside(str(name)) from None


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


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _float(value: Any) -> None:
    # The encoder writes a float as a JSON number, or NaN and the infinities as these strings.
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Malformed(f"{_shown(value)} is not a number")
    if isinstance(value, str) and value not in _NON_FINITE:
        raise Malformed(f"{_shown(value)} is not a number")


def _finite(value: Any) -> None:
    """A duration: a number, never NaN or infinite (it is printed as hours and minutes)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Malformed(f"{_shown(value)} is not a finite number")


def _time(value: Any) -> None:
    _finite(value)
    if not 0 <= value <= MAX_TIME:
        raise Malformed(f"{_shown(value)} is not a time a clock could show")


def _exactly(kind: type) -> Check:
    def check(value: Any) -> None:
        # bool is an int to Python, never to the encoder.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise Malformed(f"{_shown(value)} is not {_KINDS[kind]}")
    return check


_KINDS = {int: "a whole number", str: "text", bool: "true or false"}


def _enum(kind: type[enum.Enum]) -> Check:
    allowed = {m.value for m in kind}

    def check(value: Any) -> None:
        if isinstance(value, dict | list) or value not in allowed:
            raise Malformed(f"{_shown(value)} is not one of {sorted(map(str, allowed))}")
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
        raise Malformed(f"{_shown(value)} is of none of the expected types")
    return check


def _each(item: Check) -> Check:
    def check(value: Any) -> None:
        if not isinstance(value, list):
            raise Malformed(f"{_shown(value)} is not a list")
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
            raise Malformed(f"{_shown(value)} is not a list of {len(items)}")
        for i, (item, v) in enumerate(zip(items, value, strict=True)):
            try:
                item(v)
            except Malformed as e:
                raise e.inside(str(i)) from None
    return check


def _values(item: Check) -> Check:
    def check(value: Any) -> None:
        if not isinstance(value, dict):
            raise Malformed(f"{_shown(value)} is not an object")
        if item is _anything:
            return
        for k, v in value.items():
            try:
                item(v)
            except Malformed as e:
                raise e.inside(str(k)) from None
    return check


@functools.cache
def _field_checks(cls: type) -> dict[str, Check]:
    return {name: _field_check(name, hint) for name, hint in _hints(cls).items()}


def _dataclass(cls: type) -> Check:
    required = _required(cls)
    fields = _field_checks(cls)

    def check(value: Any) -> None:
        if not isinstance(value, dict):
            raise Malformed(f"{_shown(value)} is not an object")
        for name in required:
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


def _field_check(name: str, hint: Any) -> Check:
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


@functools.cache
def _required(cls: type) -> tuple[str, ...]:
    """The fields without a default that cannot be None: a record without one is malformed."""
    hints = _hints(cls)
    return tuple(name for name in _no_default(cls)
                 if type(None) not in typing.get_args(hints[name]))


@functools.cache
def _nullable(cls: type) -> tuple[str, ...]:
    """The fields without a default that may be None: missing, they are None (see decode)."""
    return tuple(name for name in _no_default(cls) if name not in _required(cls))


def _no_default(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls)
                 if f.default is dataclasses.MISSING
                 and f.default_factory is dataclasses.MISSING)
