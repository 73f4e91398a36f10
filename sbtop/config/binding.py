"""TOML tables into the schema's dataclasses, by reflection on their type hints: every key
checked for its type (and unknown keys refused with a "did you mean"), each mistake one line
naming its key path."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

from sbtop.config.errors import ConfigError
from sbtop.config.values import check_env_name, did_you_mean, duration, join, kind


def build(cls: type, table: Any, path: str) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"{path or 'top level'}: expected a table, got {kind(table)}")
    hints = typing.get_type_hints(cls)
    fields = {f.metadata.get("toml", f.name): f for f in dataclasses.fields(cls)
              if not f.metadata.get("internal")}
    for key in table:
        if key not in fields:
            raise ConfigError(f"{join(path, key)}: unknown key{did_you_mean(key, fields)}")
    values: dict[str, Any] = {}
    for key, f in fields.items():
        if key in table:
            values[f.name] = _convert(hints[f.name], table[key], join(path, key), f)
    return cls(**values)


def _convert(hint: Any, value: Any, path: str, f: dataclasses.Field[Any] | None = None) -> Any:
    meta = f.metadata if f is not None else {}
    if meta.get("duration"):
        return duration(value, path)
    if meta.get("partial"):
        part = build(meta["partial"], value, path)
        return {k: getattr(part, _field_name(meta["partial"], k)) for k in value}
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, path, f)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {kind(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected a whole number, got {kind(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: expected a number, got {kind(value)}")
        if not math.isfinite(value):
            raise ConfigError(f"{path}: expected a finite number, got {value}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {kind(value)}")
        if meta.get("env"):
            check_env_name(value, path)
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {kind(value)}")
        return [_convert(args[0], v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a table, got {kind(value)}")
        if args[1] is Any:
            return dict(value)
        return {k: _convert(args[1], v, join(path, k)) for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        return build(hint, value, path)  # type: ignore[arg-type]
    raise AssertionError(f"unhandled config type {hint!r} at {path}")


def _field_name(cls: type, toml_key: str) -> str:
    for f in dataclasses.fields(cls):
        if f.metadata.get("toml", f.name) == toml_key:
            return f.name
    return toml_key

