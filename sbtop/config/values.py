"""The value checks the whole configuration shares: durations, URLs, environment variable names,
header-safe secrets, and the words every message uses (a value's kind, "did you mean").

Each mistake is one line naming where it is and never echoing what may be a secret."""

from __future__ import annotations

import difflib
import math
import re
import typing
import urllib.parse
from typing import Any

from sbtop.config.errors import ConfigError
from sbtop.units import duration_text_seconds

ENV_NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*"
ENV_NAME = re.compile(ENV_NAME_PATTERN + r"\Z")
# ${NAME} in a checklist probe's body: any text between the braces (to refuse a bad name), and
# the names that are replaced.
BODY_VAR = re.compile(r"\$\{([^}]*)\}")
BODY_VAR_SUB = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def duration_seconds(value: Any) -> float:
    """A validated duration (a number of seconds, or "30s", "5m", "1h30m") in seconds."""
    return duration(value, "duration")


def duration(value: Any, path: str) -> float:
    """Seconds from a number, or from a Prometheus duration such as "5m" or "1h30m"."""
    try:
        return duration_value(value)
    except ValueError as e:
        raise ConfigError(f"{path}: {e}") from None


def duration_value(value: Any) -> float:
    """duration() without the path: ValueError says what is wrong (the binder's hook adds
    where)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):  # (TOML's inf and nan; 1e400 reads as inf)
            raise ValueError(f"expected a finite number of seconds, got {value}")
        if value < 0:
            raise ValueError("must not be negative")
        return float(value)
    if isinstance(value, str):
        seconds = duration_text_seconds(value)
        if seconds is not None:
            return seconds
    raise ValueError(f"expected a duration such as 300, \"30s\", \"5m\" or \"1h\", "
                     f"got {kind(value)}")


def check_url(url: str, where: str) -> None:
    """An http(s) URL with a host and a valid port, and no credentials in it."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # raises for a port out of range
        host = parts.hostname or ""
        host.encode("idna")
    except (ValueError, UnicodeError):
        raise ConfigError(f"{where}: not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(f"{where}: expected an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        # Not echoed: the URL holds a password.
        raise ConfigError(f"{where}: credentials in the URL; name them in auth.header_env or "
                          "auth.cookie_env instead")
    del port


def check_env_name(value: str, path: str) -> None:
    if value == "" or ENV_NAME.match(value):
        return
    # Say it without echoing the value: it may well be the secret itself.
    raise ConfigError(f"{path}: must name an environment variable (like RENDER_API_KEY), not "
                      "hold a value; this looks like a secret written into the file: move it "
                      "to the environment")


def header_safe(value: str, where: str) -> str:
    """Header values travel as latin-1 without line breaks; say which variable is wrong,
    never what it holds."""
    if any(c in value for c in "\r\n\x00") or not value.isprintable() or not value.isascii():
        raise ConfigError(f"{where} holds characters an HTTP header cannot carry (a line break "
                          "or non-ASCII text?)")
    return value.strip()


def same_endpoint(url: str) -> str:
    """A URL as the endpoint it reaches: host case, default ports, localhost spelled as
    127.0.0.1 (a name another DNS name points at cannot be told apart here)."""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in ("localhost", "localhost.localdomain"):
        host = "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{host}:{port}{parts.path or '/'}?{parts.query}"


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, str):
        shown = value if len(value) <= 30 else value[:27] + "..."
        return f"the string {shown!r}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def did_you_mean(key: str, options: typing.Iterable[str]) -> str:
    candidates = list(options)
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    if not close and len(key) >= 3:
        # An abbreviation ('prod' for 'production') is as likely as a typo.
        close = [c for c in candidates if c.startswith(key)][:1]
    # str(): a figure key is a StrEnum member, whose repr is not its name in the file.
    return f" (did you mean {str(close[0])!r}?)" if close else ""
