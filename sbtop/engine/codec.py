"""Assessments to JSON-ready dicts and back, for recordings: whatever the console drew from an
Assessment can be drawn again from its record.

Generic over the engine's frozen dataclasses, driven by their type hints: a field equal to its
default is left out (most are, most of the time), floats are kept exactly, NaN and the
infinities travel as strings (JSON has neither). `delta` and `apply` carry one tick as the
difference from the one before: only the figures and sources that changed, and the other
parts only when they changed.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

from sbtop.engine.assessment import Assessment
from sbtop.engine.figures import ranked

Encoded = dict[str, Any]
# Parts of an Assessment held per key, so a tick records only the keys that changed.
KEYED = ("figures", "sources")

_HINTS: dict[type, dict[str, Any]] = {}
_DEFAULTS: dict[type, dict[str, Any]] = {}


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
        return hint(**{k: decode(hints[k], v) for k, v in data.items() if k in hints})
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
            out[k] = _apply_patch(out.get(k), v["~"])
        elif v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def _is_patch(v: Any) -> bool:
    return isinstance(v, dict) and len(v) == 1 and "~" in v


def _apply_patch(base: Any, changes: dict[str, Any]) -> dict[str, Any]:
    part = dict(base) if isinstance(base, dict) else {}
    for k, v in changes.items():
        if v is None:
            part.pop(k, None)
        elif _is_patch(v):
            part[k] = _apply_patch(part.get(k), v["~"])
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
