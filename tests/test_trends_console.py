"""The trends in the console at 80x24: the memory and socket panel's words, the restart's
reconnect storm on its border, each line within the panel's width."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.content import Content

from sbtop.console.app import SbtopApp
from sbtop.console.widgets.panel import Line, Panel
from sbtop.engine.keys import Fig
from tests.console_harness import Harness, screen_text

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = Harness()
    try:
        yield h
    finally:
        h.close()


def shown(app: SbtopApp, selector: str) -> tuple[str, int]:
    w = app.query_one(selector, Line)
    return Content.from_markup(w.text).plain, w.size.width


async def test_the_panel_says_the_pace_and_the_nearest_limit_within_80_columns(
        harness: Harness) -> None:
    app = harness.app
    # A leak of 600 MB/h from 180 MB of 512, and clients piling up 5 a minute.
    harness.backend.set(memory_leak_mb_per_h=600.0)
    async with app.run_test(size=(80, 24)) as pilot:
        for k in range(13):
            harness.backend.set(sockets=900 + 5 * k)
            await harness.ticks(1, pilot, seconds=60.0)
        memory, width = shown(app, "#so-memory")
        assert memory.startswith("memory ") and "MB/h warn~" in memory
        assert len(memory) <= width
        sockets, width = shown(app, "#so-values")
        assert sockets.startswith("sockets 9") and "/h warn~" in sockets
        assert len(sockets) <= width
        text = screen_text(app)
        assert "Alerts" in text and "Routes" in text  # the layout holds at 80x24
        # The restart: the leak gone, the clients back within ten seconds, on the border.
        harness.backend.restart()
        await harness.ticks(15, pilot, seconds=1.0)
        panel = app.query_one("#sockets", Panel)
        assert "sockets +" in str(panel.border_subtitle)
        assert str(panel.border_subtitle).startswith("↻")
        memory, _ = shown(app, "#so-memory")
        assert "MB/h" not in memory  # no slope across the restart


async def test_sbtops_own_restart_starts_the_fit_again_and_owns_the_storm(
        tmp_path: Path) -> None:
    h = Harness(production=True, state_dir=tmp_path)
    h.backend.set(memory_leak_mb_per_h=600.0)
    try:
        async with h.app.run_test(size=(80, 24)) as pilot:
            await h.ticks(12, pilot, seconds=60.0)
            memory, _ = shown(h.app, "#so-memory")
            assert "MB/h" in memory
            await pilot.press("r", *"demo", "enter")
            await h.app.workers.wait_for_complete()
            await pilot.pause()
            assert h.backend.restarts == 1
            trends = h.session.engine.trends
            assert trends.restart_wall == h.clock.wall  # from the action, before any scrape
            await h.ticks(15, pilot, seconds=1.0)
            a = h.session.assessment
            assert a is not None
            assert a.figures[Fig.MEMORY_GROWTH_MB_PER_H].value is None
            note = next(n for n in a.notes if n.startswith("restart at"))
            # The sockets before are those before the action (about 150), not the new
            # process's first count.
            assert "sockets +1" in note and " before)" in note
            found = re.search(r"-> [\d,]+, ([\d,]+) before", note)
            assert found is not None, note
            before = float(found.group(1).replace(",", ""))
            assert 140 <= before <= 160
            assert "↻" in str(h.app.query_one("#sockets", Panel).border_subtitle)
    finally:
        h.close()


def test_the_words_say_the_nearest_limit_and_drop_what_does_not_fit() -> None:
    from sbtop.console import trend_words
    from sbtop.engine.detail import Detail
    from sbtop.engine.figures import judge
    from sbtop.engine.settings import EngineSettings

    s = EngineSettings()
    leak = judge(Fig.MEMORY_GROWTH_MB_PER_H, 600.0, s,
                 detail=Detail(to_warning_s=23 * 60, to_critical_s=31 * 60))
    past = judge(Fig.MEMORY_GROWTH_MB_PER_H, 600.0, s,
                 detail=Detail(to_warning_s=0, to_critical_s=8 * 60))
    flat = judge(Fig.SOCKET_GROWTH_PER_H, 0.04, s)
    plain = lambda m: Content.from_markup(m).plain  # noqa: E731
    assert plain(trend_words.compact(leak)) == "+600MB/h warn~23m"
    assert plain(trend_words.compact(past)) == "+600MB/h crit~8m"
    assert plain(trend_words.compact(flat)) == "flat"
    assert plain(trend_words.full(leak)) == (
        "+600MB/h, warning in ~23m, critical in ~31m")
    assert trend_words.compact(judge(Fig.SOCKET_GROWTH_PER_H, None, s)) == ""
    line = trend_words.fit(36, "memory 60.8% OK",
                           (trend_words.full(leak), trend_words.compact(leak)),
                           "311 MB/512 MB")
    assert plain(line) == "memory 60.8% OK  +600MB/h warn~23m"


def test_past_a_limit_the_words_say_past_it_beside_the_next_one() -> None:
    from sbtop.console import trend_words
    from sbtop.engine.detail import Detail
    from sbtop.engine.figures import judge
    from sbtop.engine.settings import EngineSettings

    past = judge(Fig.MEMORY_GROWTH_MB_PER_H, 600.0, EngineSettings(),
                 detail=Detail(to_warning_s=0, to_critical_s=8 * 60))
    assert Content.from_markup(trend_words.full(past)).plain == (
        "+600MB/h, past warning, critical in ~8m")


def test_fit_measures_parts_as_the_whole_line_would() -> None:
    """`fit` adds up its parts' lengths (each measured once) instead of measuring the whole line
    again for each part tried: the same line at every width, with tags, escaped outside text
    (brackets, a backslash at a part's end) and wide alternatives."""
    from sbtop.console import trend_words
    from sbtop.console.marks import esc

    def whole(width: int, first: str, *parts: str | tuple[str, ...]) -> str:
        line = first
        for part in parts:
            for choice in (part,) if isinstance(part, str) else part:
                if choice and len(Content.from_markup(f"{line}  {choice}").plain) <= width:
                    line = f"{line}  {choice}"
                    break
        return line

    cases = [
        ("[b]memory[/] 60.8% [b $warning]WARN[/]",
         ("+600MB/h, [$warning]warning in ~23m[/]", "+600MB/h [$warning]warn~23m[/]"),
         "[$text-muted]311 MB/512 MB[/]", "[$text-muted]loop lag[/] 3.0 ms"),
        (f"memory [$text-muted]{esc('no [data] here')}[/]", "",
         (f"[$text-muted]{esc('a path C:' + chr(92))}[/]", "x"), f"{esc('[b]not a tag[/]')}"),
        ("sockets 147 OK", "[$text-muted]msgs[/] 30.0/s", ("[$text-muted]flat[/]",)),
    ]
    for first, *parts in cases:
        for width in range(0, 90):
            assert trend_words.fit(width, first, *parts) == whole(width, first, *parts)
