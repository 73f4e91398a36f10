"""Markup to Content, quickly, for the plain markup the panels write every tick.

Textual's markup parser tokenizes every character and parses every tag as a style: a line of
figures took a tenth to a third of a millisecond, and the lines that change each tick were
most of the console's own drawing. The panels' markup is simple: style tags of a few words
(`[b $warning]`), closed by `[/]`, around text without brackets. That is read here with one
regular expression, into the very Content Textual's parser makes (same text, same spans in the
same order: tests/test_quick_markup.py compares them on every line the console draws). Anything
else (an escaped bracket, a named closing tag, a tag of other words, a control character) goes
to Textual's parser, as before.
"""

from __future__ import annotations

import re
from operator import itemgetter

from textual.content import Content, Span

_TAG = re.compile(r"\[([^\[\]]*)\]")
_WORD = r"(?:\$[a-z][a-z0-9-]*|b|bold|i|italic|u|underline|reverse|dim|strike)"
# A tag of style words and theme variables, one space apart: what the panels write.
_STYLE = re.compile(rf"{_WORD}(?: {_WORD})*\Z")


def content(markup: str) -> Content:
    """`Content.from_markup(markup)`, without its tokenizer when the markup is plain."""
    if "[" not in markup or "\\" in markup or not markup.isprintable():
        return Content.from_markup(markup)
    text: list[str] = []
    spans: list[Span] = []
    stack: list[tuple[int, str]] = []
    position = 0
    at = 0
    for tag in _TAG.finditer(markup):
        chunk = markup[at:tag.start()]
        if "]" in chunk or "[" in chunk:
            return Content.from_markup(markup)
        text.append(chunk)
        position += len(chunk)
        body = tag.group(1)
        if body == "/":
            if not stack:
                return Content.from_markup(markup)  # its error, as before
            start, opened = stack.pop()
            if start != position:
                spans.append(Span(start, position, opened))
        elif _STYLE.match(body):
            stack.append((position, body))
        else:
            return Content.from_markup(markup)
        at = tag.end()
    rest = markup[at:]
    if "]" in rest or "[" in rest:
        return Content.from_markup(markup)
    text.append(rest)
    plain = "".join(text)
    length = len(plain)
    # As Textual's parser: tags left open run to the end; spans in the order it gives them.
    if stack and length:
        spans.extend(Span(start, length, opened) for start, opened in reversed(stack)
                     if start != length)
    spans.reverse()
    spans.sort(key=itemgetter(0))
    return Content(plain, spans)
