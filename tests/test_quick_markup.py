"""The console's quick markup reader makes the very Content Textual's parser makes: on every line
the console draws in the snapshots' story, on hand-picked edge cases, and on random markup
built from the pieces that could trip it (brackets, escapes, named closes, unknown tags)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from textual.content import Content
from textual.markup import MarkupError

from sbtop.console import quick_markup
from tests.console_harness import Harness


def _same(markup: str) -> None:
    try:
        expected: Any = Content.from_markup(markup)
    except MarkupError as e:
        expected = type(e)
    try:
        got: Any = quick_markup.content(markup)
    except MarkupError as e:
        got = type(e)
    assert got == expected, markup
    if isinstance(got, Content):
        assert got.plain == expected.plain and list(got.spans) == list(expected.spans), markup


EDGES = [
    "", "plain", "[b]p95[/] 216 ms [b $success]OK[/]", "[b]unclosed", "[b][/]", "[b]a[/][/]",
    "[/]", "[b]a[$text-muted]b[/]c[/]d", "[b reverse $error]x[/] y", "a ] b", "a [ b", "[]",
    "[ ]", "[1]", "[b]x[/b]", "[reverse]> a[/reverse]", r"\[b] not a tag", r"a\\[b]c",
    "[$text-muted]no [data] here[/]", "tab\there", "[b]\x1bx[/]", "[bold  italic]x[/]",
    "[ b]x[/]", "[b ]x[/]", "[$warning]warn~23m[/]", "[b $warning]a[/][b]b", "é[b]ü[/]",
    "[on $error]x[/]", "[link=x]y[/]", "[@click=app.bell]x[/]", "[$text-muted]+3 more[/]",
]


@pytest.mark.parametrize("markup", EDGES)
def test_edge_cases_read_as_textual_reads_them(markup: str) -> None:
    _same(markup)


def test_random_markup_reads_as_textual_reads_it() -> None:
    pieces = ["[b]", "[/]", "[$text-muted]", "[b $warning]", "[reverse]", "x", "42 ms", " ",
              "]", "[", "\\[", "[/b]", "[]", "[ ]", "[1]", "é", "[b reverse $error]", "\x07",
              "[dim]", "[i]", "[$error]"]
    rng = random.Random(19)
    for _ in range(5000):
        _same("".join(rng.choice(pieces) for _ in range(rng.randint(0, 9))))


@pytest.mark.slow
async def test_every_line_the_console_draws_reads_as_textual_reads_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: set[str] = set()
    read = quick_markup.content

    def recording(markup: str) -> Content:
        seen.add(markup)
        return read(markup)

    monkeypatch.setattr(quick_markup, "content", recording)
    for size in ((120, 40), (80, 24)):
        h = Harness(theme="dark")
        try:
            h.backend.set(rps=100)
            async with h.app.run_test(size=size) as pilot:
                await h.ticks(30, pilot)
                h.backend.set(latency_scale=2.8, error_rate=0.03, sockets=1500)
                await h.ticks(70, pilot)
        finally:
            h.close()
    assert len(seen) > 100 and any("[" in m for m in seen)
    for markup in seen:
        _same(markup)
