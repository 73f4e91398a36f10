"""One tick of a recording as the difference from the one before: `delta` keeps only the figures
and sources that changed, and the other parts only when they changed; `apply` turns the tick
before into this one. `check_change` checks a tick built so where its change touched it (the
rest was checked when it was set), against the same type hints `wellformed.checker` holds a
whole snapshot to.
"""

from __future__ import annotations

import functools
import typing
from typing import Any

from sbtop.engine.assessment import Assessment
from sbtop.engine.codec import Encoded
from sbtop.engine.fields import hints, required
from sbtop.engine.wellformed import Check, Malformed, checker, field_check, field_checks, shown

# Parts of an Assessment held per key, so a tick records only the keys that changed.
KEYED = ("figures", "sources")


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
        raise Malformed(f"the change {shown(changes)} is not an object")
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


def check_change(current: Encoded, change: Encoded) -> None:
    """`current` (an Assessment as encoded, `change` already applied) checked where `change`
    touched it: the rest was checked when it was set. (A whole snapshot is checked whole, with
    checker(Assessment).) Per tick this is most of the figures, so only the fields a change
    names are checked again, and that every required one is still there."""
    for name in required(Assessment):
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
    for name, hint in hints(Assessment).items():
        entry = typing.get_args(hint)[1] if name in KEYED else None
        out[name] = (entry, field_check(name, hint))
    return out


def _check_entries(part: dict[str, Any], changes: dict[str, Any], cls: type) -> None:
    fields, needed, whole = field_checks(cls), required(cls), checker(cls)
    for name, sub in changes.items():
        entry = part.get(name)
        if entry is None:
            continue  # removed
        try:
            if not _is_patch(sub):
                whole(entry)
                continue
            for f in needed:
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
