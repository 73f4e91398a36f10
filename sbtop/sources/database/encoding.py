"""Text from a database whose encoding is SQL_ASCII: the server keeps whatever bytes a client
sent and does no conversion, and psycopg then hands every text value back as bytes (a schema
name read as "b'public'", a version as "b'PostgreSQL ...'") and parses JSON from those bytes
as UTF-8 (one session's query holding a byte that is not UTF-8 made the sessions poll raise
UnicodeDecodeError). sbtop's connection decodes them itself: UTF-8 where they are UTF-8 (what
most clients send), any other byte as U+FFFD, never an error."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg.adapt import Loader

# The text types, and 0: psycopg's loader for every type it has none for (unknown literals,
# regclass, xml ...), which on SQL_ASCII gives bytes too.
TEXT_TYPES: tuple[str | int, ...] = ("text", "varchar", "name", "bpchar", '"char"', 0)
JSON_TYPES = ("json", "jsonb")


def _text(data: Any) -> str:
    return bytes(data).decode("utf-8", "replace")


class LenientText(Loader):
    def load(self, data: Any) -> str:
        return _text(data)


class LenientJson(Loader):
    def load(self, data: Any) -> Any:
        return json.loads(_text(data))


def read_text_leniently(conn: psycopg.AsyncConnection[Any]) -> None:
    """On a SQL_ASCII connection, text as str and JSON parsed from it (see above); elsewhere
    psycopg's own decoding, which the server's conversion makes valid."""
    if conn.info.encoding != "ascii":
        return
    for name in TEXT_TYPES:
        conn.adapters.register_loader(name, LenientText)
    for name in JSON_TYPES:
        conn.adapters.register_loader(name, LenientJson)
