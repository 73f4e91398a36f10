"""Finding and reading the config file: --config, $SBTOP_CONFIG or the XDG path; TOML parsed,
bound and validated; a readable file that names secrets warned about."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any

from sbtop import credentials
from sbtop.config.binding import bind
from sbtop.config.errors import ConfigError
from sbtop.config.schema import Config
from sbtop.config.validation import validate


def default_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sbtop" / "config.toml"


def find_config(explicit: str | None) -> Path | None:
    """--config, else $SBTOP_CONFIG, else the XDG path if it exists; None when there is none."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("SBTOP_CONFIG")
    if env:
        return Path(env)
    path = default_path()
    return path if path.exists() else None


def load(path: Path | None) -> Config:
    return read(path)[0]


def read(path: Path | None) -> tuple[Config, bool]:
    """The config, and whether the file names secrets' variables (for the permission warning,
    from the table already parsed: the file is read once)."""
    if path is None:
        return Config(), False
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    try:
        config = parse(data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    return config, _names_secrets(data)


def parse(data: dict[str, Any]) -> Config:
    config = bind(data)
    validate(config)
    return config


def permission_warning(path: Path, config: Config,
                       names_secrets: bool | None = None) -> str | None:
    """A config that names secrets should not be readable by others. `names_secrets`: as
    `read` found it (else the file is read again to find out)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return None
    if any(credentials.carries_secret(t.actions.http.url) for t in config.targets.values()):
        return (f"warning: {path} is readable by other users and holds a webhook URL with a "
                f"key in it: chmod 600 {path}, or keep the URL in the environment (url_env)")
    if names_secrets is None:
        try:
            names_secrets = _names_secrets(tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None
    if names_secrets:
        return (f"warning: {path} is readable by other users; it names secret environment "
                f"variables (chmod 600 {path})")
    return None


def _names_secrets(table: Any) -> bool:
    """Whether the file names a secret's variable: any `*_env` key it sets (the Render key,
    a header, a cookie, a password, a DSN, a webhook URL), or `${VAR}` in a probe's body."""
    if isinstance(table, dict):
        return any((k.endswith("_env") and isinstance(v, str) and v)
                   or (k == "body" and isinstance(v, str) and "${" in v)
                   or _names_secrets(v) for k, v in table.items())
    if isinstance(table, list):
        return any(_names_secrets(v) for v in table)
    return False
