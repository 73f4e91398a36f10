"""TOML tables into the schema's Structs, by msgspec: it checks every key's type strictly ("5" is
not a number, true is not 1) and refuses unknown keys. What is left here is the words: its one
error turned into our one line, naming the key path in the file's dotted form and what was
expected ("targets.prod.timeout_s: expected a number, got the string '5'"), an unknown key with
a "did you mean"; and the two checks msgspec cannot make, durations and a target's partial
[metrics]."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from sbtop.config.errors import ConfigError
from sbtop.config.schema import Config, Duration, MetricsConfig, Table
from sbtop.config.values import check_env_name, did_you_mean, duration_value, join, kind

T = TypeVar("T", bound=Table)

# msgspec's words: "<what> - at `$.targets[...].timeout_s`"; "[...]" is a table's key, which it
# does not name.
_AT = re.compile(r"(?P<what>.*?)(?: - at `\$(?P<where>[^`]*)`)?\Z", re.S)
_STEP = re.compile(r"\.(?P<key>[^.\[]+)|\[(?P<index>\d+)\]|(?P<any>\[\.\.\.\])")
_EXPECTED = re.compile(r"Expected `(?P<type>[^`|]+?)(?: \| [^`]*)?`(?P<rest>.*)", re.S)
_WORDS = {"object": "a table", "bool": "true or false", "int": "a whole number",
          "float": "a number", "str": "a string", "array": "a list"}


def bind(data: Any) -> Config:
    """The whole file: a Config, each target's [metrics] overrides checked as metric keys."""
    config = build(Config, data)
    for name, target in config.targets.items():
        if target.metrics:
            target.metrics = _overrides(target.metrics, f"targets.{name}.metrics")
    return config


def build(cls: type[T], table: Any, path: str = "") -> T:
    """One table as `cls`; a mistake as a ConfigError of one line under `path`."""
    try:
        return msgspec.convert(table, cls, dec_hook=_hook)
    except msgspec.ValidationError as e:
        raise ConfigError(_words(str(e), cls, table, path)) from None


def _hook(kind_: type, value: Any) -> Any:
    """The types msgspec leaves to us; a ValueError comes back as its error, with the path."""
    if kind_ is Duration:
        return Duration(duration_value(value))
    raise NotImplementedError(kind_)


def _overrides(table: dict[str, Any], path: str) -> dict[str, Any]:
    """Some keys of [metrics], each checked as there; only those given are kept."""
    part = build(MetricsConfig, table, path)
    names = {f.encode_name: f.name for f in msgspec.structs.fields(MetricsConfig)}
    return {k: getattr(part, names[k]) for k in table}


def _words(message: str, cls: type[Table], table: Any, path: str) -> str:
    """msgspec's error as ours: the path followed through the data (a table's key found as the
    first entry that fails), what was expected in words, and what was there."""
    from msgspec import inspect  # only on a mistake: not loaded by every run

    m = _AT.match(message)
    what, steps = (m["what"], m["where"] or "") if m else (message, "")
    info: inspect.Type = inspect.type_info(cls)
    value, where = table, path
    for step in _STEP.finditer(steps):
        info = _bare(info)
        if step["key"] is not None and isinstance(info, inspect.StructType):
            key = step["key"]
            info = next(f.type for f in info.fields if f.encode_name == key)
            value, where = _get(value, key), join(where, key)
        elif step["index"] is not None and isinstance(info, inspect.ListType):
            i = int(step["index"])
            info, where = info.item_type, f"{where}[{i}]"
            value = value[i] if isinstance(value, list) and i < len(value) else None
        elif isinstance(info, inspect.DictType):
            key = _failing_key(value, info.value_type)
            info, value, where = info.value_type, _get(value, key), join(where, key)
    unknown = re.match(r"Object contains unknown field `(.*)`\Z", what, re.S)
    if unknown:
        bare = _bare(info)
        options = ([f.encode_name for f in bare.fields]
                   if isinstance(bare, inspect.StructType) else [])
        key = unknown[1]
        return f"{join(where, key)}: unknown key{did_you_mean(key, options)}"
    bare = _bare(info)
    if what.startswith("Invalid enum value") and isinstance(bare, inspect.LiteralType):
        # A key that takes one of a few words (a threshold's console_action).
        return f"{where}: expected one of {', '.join(map(str, bare.values))}, got {kind(value)}"
    expected = _EXPECTED.match(what)
    if expected:
        if expected["rest"].startswith(" matching regex"):
            check_env_name(str(value), where)  # raises, in its own words
        if expected["rest"].startswith((" >=", " <=")):  # schema.Number's bounds
            return f"{where}: expected a finite number, got {value}"
        words = _WORDS.get(expected["type"], expected["type"])
        return f"{where or 'top level'}: expected {words}, got {kind(value)}"
    return f"{where}: {what}"  # a hook's own words (a duration)


def _bare(info: Any) -> Any:
    """`X | None` as X: the file cannot write None, so a mistake is always about the X."""
    from msgspec import inspect

    if isinstance(info, inspect.UnionType):
        return next(t for t in info.types if not isinstance(t, inspect.NoneType))
    return info


def _get(table: Any, key: str) -> Any:
    return table.get(key) if isinstance(table, dict) else None


def _failing_key(table: Any, info: Any) -> str:
    """Which key of a table holds the mistake: msgspec checks them in order and stops at the
    first, so it is the first whose value does not convert on its own."""
    from msgspec import inspect

    if isinstance(table, dict) and isinstance(info, inspect.StructType):
        for key, value in table.items():
            try:
                msgspec.convert(value, info.cls, dec_hook=_hook)
            except msgspec.ValidationError:
                return str(key)
    return "*"
