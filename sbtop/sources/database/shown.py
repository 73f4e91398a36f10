"""How the database's text is shown: a query on one line and cut, the first line of an error,
and never the DSN's password. Query text, user and application names are anyone's text (a
client sets them), so all of it goes through sbtop.untrusted."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from sbtop import untrusted

QUERY_CHARS = 300  # a query is shown on one line; more would not fit anyway
LONGEST = 10  # sessions listed, longest-running first


def one_line(text: Any, total: int | None = None, read: int | None = None) -> str | None:
    """Query text on one line (its own line breaks and runs of spaces become one space), made
    safe to show. `total`: the text's length, when the server gave only its first `read`
    characters: the mark says that length, not what is left of the part read. (Compared with
    `read`, not with the text: on SQL_ASCII the server counts bytes.)"""
    if text is None:
        return None
    flat = " ".join(str(text).split())
    if total is not None and read is not None and total > read:
        return f"{untrusted.line(flat[:QUERY_CHARS])}… ({total:,} characters in all)"
    return untrusted.line(flat, QUERY_CHARS)


def first_line(e: BaseException) -> str:
    """The first line of a database error (the server's words), as it is: the source scrubs
    the password out of it and only then makes it safe to show (escaping first would hide a
    password holding a tab or a control character from the scrub)."""
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def secrets_of(dsn: str) -> list[str]:
    """The password in a DSN, in the forms it may be quoted (raw and percent-decoded), read
    without trusting the DSN to parse."""
    found: list[str] = []
    m = re.search(r"://[^:/@\s]*:([^@\s]+)@", dsn)
    if m:
        found.append(m.group(1))
    m = re.search(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", dsn)
    if m:
        found.append(m.group(1).strip("'"))
    out = []
    for value in found:
        out += [value, urllib.parse.unquote(value)]
    return sorted({v for v in out if len(v) >= 2}, key=len, reverse=True)


def connect_reason(e: BaseException) -> str:
    # libpq's message names host and port; a DSN it cannot parse may be quoted (scrubbed by
    # the caller); keep the first line.
    text = first_line(e)
    lowered = text.lower()
    if "password authentication failed" in lowered:
        return "password authentication failed (check the DSN's credentials)"
    if "refused" in lowered:
        return f"connection refused: {text}"
    return text
