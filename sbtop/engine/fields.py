"""What the codec and its checks read off the engine's frozen dataclasses: their type hints, their
defaults, and which fields have neither a default nor room for None (required) or may be None
(nullable). Each is worked out once per class: every tick of a recording is encoded, or read
back and checked, against them.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from typing import Any


@functools.cache
def hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@functools.cache
def defaults(cls: type) -> dict[str, Any]:
    got: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            got[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            got[f.name] = f.default_factory()
    return got


@functools.cache
def required(cls: type) -> tuple[str, ...]:
    """The fields without a default that cannot be None: a record without one is malformed."""
    cls_hints = hints(cls)
    return tuple(name for name in _no_default(cls)
                 if type(None) not in typing.get_args(cls_hints[name]))


@functools.cache
def nullable(cls: type) -> tuple[str, ...]:
    """The fields without a default that may be None: missing, they are None (see decode)."""
    return tuple(name for name in _no_default(cls) if name not in required(cls))


def _no_default(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls)
                 if f.default is dataclasses.MISSING
                 and f.default_factory is dataclasses.MISSING)
