"""The whole screen, byte for byte, at 80x24 (compact), 120x40 (standard) and 200x50 (wide), in
every theme and with NO_COLOR: the screenshot Textual exports (an SVG: every character, colour
and style, where it is).

The data is deterministic (the simulated backend advanced by hand, a manual clock), so a change
in these files is a change in what people see. To accept a deliberate change:
    SBTOP_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_snapshots.py
and read the diff of tests/snapshots/ before committing it (a failure shows it as text). Textual
is pinned to a minor version in pyproject.toml because its rendering details (and the
screenshot's markup) are part of these files.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import pytest

from tests.console_harness import Harness, svg_text

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow

SNAPSHOTS = Path(__file__).parent / "snapshots"
DOCS = Path(__file__).resolve().parents[1] / "docs"
THEMES = ("dark", "light", "high-contrast", "ansi")
SIZES = ((80, 24), (120, 40), (200, 50))
# The colours of the screen (not of the window drawn around it): its text's classes, and the
# cells' backgrounds.
_COLOURS = re.compile(r"-r\d+ \{ fill: #([0-9a-f]{6})|<rect fill=\"#([0-9a-f]{6})\"[^>]*"
                      r"shape-rendering=\"crispEdges\"")


DEFAULT_FOREGROUND = "c5c8c6"  # rich's SVG export theme, for text without a colour


async def _screen(theme: str, size: tuple[int, int]) -> str:
    h = Harness(theme=theme)
    try:
        h.backend.set(rps=100)
        async with h.app.run_test(size=size) as pilot:
            await h.ticks(30, pilot)  # a healthy half minute
            # Then the canary misbehaves: slower, 3 % 5xx, a socket surge.
            h.backend.set(latency_scale=2.8, error_rate=0.03, sockets=1500)
            await h.ticks(70, pilot)
            return h.app.export_screenshot(title="sbtop demo")
    finally:
        h.close()


def _compare(name: str, actual: str, size: tuple[int, int]) -> None:
    path = SNAPSHOTS / f"{name}.svg"
    if os.environ.get("SBTOP_UPDATE_SNAPSHOTS"):
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"no snapshot {path}: run with SBTOP_UPDATE_SNAPSHOTS=1"
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        (SNAPSHOTS / f"{name}.actual.svg").write_text(actual, encoding="utf-8")
        plain = difflib.unified_diff(svg_text(expected, *size).splitlines(),
                                     svg_text(actual, *size).splitlines(), lineterm="", n=1)
        text_diff = "\n".join(plain) or "(same text: only colours or styles differ)"
        pytest.fail(f"{name} differs from its snapshot:\n{text_diff}")


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_screen_matches_its_snapshot(theme: str, size: tuple[int, int]) -> None:
    svg = await _screen(theme, size)
    _compare(f"{theme}-{size[0]}x{size[1]}", svg, size)
    text = svg_text(svg, *size)
    # Whatever the theme, the state reads in words.
    assert "PRODUCTION" in text and "WARN" in text and "PENDING" in text
    if os.environ.get("SBTOP_UPDATE_SNAPSHOTS") and theme == "dark":
        DOCS.mkdir(exist_ok=True)
        (DOCS / f"sbtop-{size[0]}x{size[1]}.svg").write_text(svg, encoding="utf-8")
        (DOCS / f"sbtop-{size[0]}x{size[1]}.txt").write_text(text, encoding="utf-8")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_no_color_reads_the_same_state_in_words(monkeypatch: pytest.MonkeyPatch,
                                                      size: tuple[int, int]) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    svg = await _screen("dark", size)
    _compare(f"no-color-{size[0]}x{size[1]}", svg, size)
    colours = {a or b for a, b in _COLOURS.findall(svg)}
    assert colours  # found: the pattern still matches the screenshot's markup
    # Monochrome: every colour Textual emits is a grey (r == g == b). Text it gives no colour
    # at all is drawn in the screenshot's own default foreground.
    for colour in colours - {DEFAULT_FOREGROUND}:
        assert colour[0:2] == colour[2:4] == colour[4:6], colour
    text = svg_text(svg, *size)
    assert "WARN" in text and "PENDING" in text and "PRODUCTION" in text
