"""Text from outside sbtop, made safe to show: the one boundary every such string crosses.

Route labels often come from raw URL paths, so anyone on the internet can put text in front of
the on-call engineer: a page, a health JSON, a database's query text, Prometheus's alerts, the
control plane's error messages, a webhook's answer, a recording someone handed over. Shown as
it came, an ESC starts a terminal control sequence (OSC 52 writes the clipboard, OSC 0 the
window title, CSI 2 J clears the screen), a newline forges whole lines of `sbtop check`, and a
bidi override (U+202E) makes text read backwards (Trojan Source, CVE-2021-42574).

`line` is applied where outside text enters sbtop's model (the sources, the actions' providers,
the recording reader), so every face (check, verify, the actions, timeline, the console, replay,
JSON) shows the same safe text; `TerminalGuard` is the last line of defence on the text faces'
own stdout and stderr. Control characters are shown, not dropped: `\\x1b]52;c;...` tells the
engineer someone tried.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TextIO

# Bidi controls (embeddings, overrides, isolates, marks) and the line and paragraph separators
# (which str.splitlines and some viewers take as line breaks).
_INVISIBLE = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029"
# C0, DEL and C1 controls, the above, and lone surrogates (which cannot even be encoded).
_UNSAFE = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_INVISIBLE}\\ud800-\\udfff]")
# The same, keeping newline and tab: for whole outputs whose lines sbtop wrote itself.
_UNSAFE_IN_OUTPUT = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_INVISIBLE}\\ud800-\\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

LIMIT = 300  # characters of one outside string shown; the rest is cut, with a mark
MAX_DEPTH = 20  # nesting of outside JSON kept (deeper is summarised)
MAX_ITEMS = 200  # entries per JSON object or array kept


def _shown(m: re.Match[str]) -> str:
    c = m.group()
    if c in _NAMED:
        return _NAMED[c]
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def line(value: object, limit: int = LIMIT) -> str:
    """Outside text as one safe line: every control, bidi and separator character shown as
    an escape (`\\x1b`, `\\n`, `\\u202e`), never acted on; cut at `limit` with a mark."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        text = f"{text[:limit]}… ({len(text) - limit:,} more characters)"
    if text.isprintable():  # the common case, at C speed
        return text
    return _UNSAFE.sub(_shown, text)


def optional(value: object, limit: int = LIMIT) -> str | None:
    return None if value is None else line(value, limit)


def labels(value: Mapping[Any, Any]) -> dict[str, str]:
    return {line(k, 100): line(v) for k, v in value.items()}


def json_value(value: Any, depth: int = 0) -> Any:
    """Parsed outside JSON with every key and string made safe, bounded in depth and size
    (a health JSON nested ten thousand deep is summarised, not recursed into)."""
    if isinstance(value, str):
        return line(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**63:
        return line(f"{value:.3e}" if abs(value) < 10**300 else "a number too large to show")
    if isinstance(value, bool | int | float) or value is None:
        return value
    if depth >= MAX_DEPTH:
        return f"… (nested deeper than {MAX_DEPTH} levels)"
    if isinstance(value, dict):
        items = list(value.items())
        out = {line(k, 100): json_value(v, depth + 1) for k, v in items[:MAX_ITEMS]}
        if len(items) > MAX_ITEMS:
            out["…"] = f"{len(items) - MAX_ITEMS:,} more entries"
        return out
    if isinstance(value, list):
        out_list = [json_value(v, depth + 1) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            out_list.append(f"… {len(value) - MAX_ITEMS:,} more items")
        return out_list
    return line(repr(value))


def deep(value: Any, limit: int = 4000) -> Any:
    """Every key and string in parsed JSON made safe, the structure kept as it is (for a file
    sbtop wrote, read back: whoever handed it over may have edited it)."""
    if isinstance(value, str):
        return line(value, limit)
    if isinstance(value, dict):
        return {line(k, limit): deep(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [deep(v, limit) for v in value]
    return value


def output(text: str) -> str:
    """A whole output sbtop wrote (its own newlines and tabs kept): any control, bidi or
    separator character left in it is shown as an escape."""
    if text.isprintable() or not _UNSAFE_IN_OUTPUT.search(text):
        return text
    return _UNSAFE_IN_OUTPUT.sub(_shown, text)


class TerminalGuard:
    """stdout or stderr of a text face: whatever is written goes through `output`, so no
    escape sequence reaches the terminal even from a string that missed the boundary."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(output(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class Message(Exception):
    """An error whose message quotes outside text (a page's line, an API's error, a command's
    output): made safe once, when it is raised."""

    def __init__(self, message: object = "", *args: object) -> None:
        super().__init__(line(message, 500), *args)
