"""Assessments to JSON-ready dicts and back, for recordings: whatever the console drew from an
Assessment can be drawn again from its record.

Generic over the engine's frozen dataclasses, driven by their type hints (fields.py): a field
equal to its default is left out (most are, most of the time), floats are kept exactly, NaN and
the infinities travel as strings (JSON has neither). What is read back is checked against the
same hints before it is decoded (wellformed.py); a tick is recorded as the difference from the
one before (changes.py).
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
from sbtop.engine.detail import Detail
from sbtop.engine.fields import defaults, hints, nullable
from sbtop.engine.routes import LazyRoutes, Routes, ranked
from sbtop.engine.wellformed import Malformed, shown

Encoded = dict[str, Any]


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
    if isinstance(obj, LazyRoutes):
        obj = obj.made()  # written as the table it is
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        cls = type(obj)
        cls_defaults = defaults(cls)
        out = {}
        for f in dataclasses.fields(cls):
            value = getattr(obj, f.name)
            if f.name in cls_defaults and _same(value, cls_defaults[f.name]):
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
        field_hints = hints(hint)
        fields = {k: decode(field_hints[k], v) for k, v in data.items()
                  if k in field_hints}
        for name in nullable(hint):
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


def encode_assessment(a: Assessment, *, with_routes: bool = True) -> Encoded:
    """`a` as a recording writes it; without `with_routes`, its route table is left out (not even
    made: the writer keeps the one it wrote last between the console's redraws)."""
    if not with_routes:
        a = dataclasses.replace(a, routes=Routes())
    out: Encoded = encode(a)
    if not with_routes:
        out.pop("routes", None)
    routes = out.get("routes")
    if isinstance(routes, dict):
        # The slowest and most failing are every route ranked again: kept once, not thrice.
        top = max(len(a.routes.slowest), len(a.routes.failing))
        routes.pop("slowest", None)
        routes.pop("failing", None)
        if top:
            routes["top"] = top
    return out


# The most routes a table ranks (the config caps top_routes far below this).
MAX_TOP = 10_000


def check_top(data: Encoded) -> None:
    """`routes.top` is the codec's own field (no type hint checks it): a count of routes."""
    routes = data.get("routes")
    if isinstance(routes, dict) and "top" in routes:
        top = routes["top"]
        if type(top) is not int or not 0 <= top <= MAX_TOP:
            raise Malformed(f"{shown(top)} is not a count of routes (0 to {MAX_TOP})",
                            ("routes", "top"))


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


def _same(value: Any, default: Any) -> bool:
    try:
        return bool(value == default) and type(value) is type(default)
    except Exception:
        return False
