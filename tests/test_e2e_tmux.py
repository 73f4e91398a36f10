"""End to end: the real `sbtop demo` in a real terminal (tmux), read, driven by keys, quit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tmux import Pane

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow

SBTOP = Path(sys.executable).with_name("sbtop")


@pytest.fixture
def pane() -> Iterator[Pane]:
    p = Pane(f"{SBTOP} demo; echo sbtop-exited-$?; sleep 30")
    try:
        yield p
    finally:
        p.close()


def test_sbtop_demo_in_a_real_terminal(pane: Pane) -> None:
    pane.wait_for("/s req")  # figures arrived (80x24 is compact: no sparklines)
    pane.wait_for("q Quit")  # the footer
    screen = pane.wait_for("health HTTP 200 OK")
    assert "sbtop" in screen and "demo" in screen
    for title in ("Latency", "Traffic & errors", "Sockets & memory", "Database", "Alerts",
                  "Routes by p95"):
        assert title in screen
    pane.keys("?")
    pane.wait_for("sbtop keys")
    pane.keys("Escape")  # a key sent right after escape would read as alt+key: wait
    pane.wait_gone("sbtop keys")
    pane.keys("s")
    pane.wait_for("Routes by 5xx %")
    pane.keys("Enter")
    pane.wait_for("Latency: p50 latency")
    pane.keys("Escape")
    pane.wait_for("Routes by 5xx %")
    pane.wait_gone("Latency: p50 latency")
    assert "c Canary" in pane.wait_for("r Restart")  # the deploy keys, in the footer
    pane.keys("C-c")  # quits, as in htop and k9s (nothing is running: no question)
    assert "sbtop-exited-0" in pane.wait_for("sbtop-exited-")


# --- refused before the console starts --------------------------------------------------------

def run_in_terminal(tmp_path: Path, script: str, size: tuple[int, int] = (180, 50)) -> str:
    """Runs a shell script in a real terminal, the user's config and themes out of the way;
    the screen once it has said `all-done`."""
    path = tmp_path / "script.sh"
    path.write_text(script + "\necho all-done\n")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_STATE_HOME": str(tmp_path)}
    pane = Pane(f"sh {path}; sleep 60", size=size, env=env)
    try:
        return pane.wait_for("all-done", timeout=60)
    finally:
        pane.close()


def test_without_a_terminal_to_draw_on_the_console_refuses_in_one_line(tmp_path: Path) -> None:
    # It used to start anyway and write escape codes into the file or the pipe for ever.
    from tests.recordings import write_recording

    rec = tmp_path / "shift.sbrec"
    write_recording(rec, ticks=3, step=1.0)
    out = tmp_path / "out"
    out.mkdir()
    consoles = {"console": f"{SBTOP} --url http://127.0.0.1:9", "demo": f"{SBTOP} demo",
                "replay": f"{SBTOP} replay {rec}"}
    lines = []
    for name, command in consoles.items():
        lines.append(f'{command} > {out}/{name}-file; echo "{name}-file-$?"')
        lines.append(f'{{ {command}; echo "{name}-pipe-$?" >&2; }} | cat > {out}/{name}-pipe')
    lines.append(f'{SBTOP} demo < /dev/null; echo "stdin-$?"')
    lines.append(f'{SBTOP} demo 2> {out}/stderr; echo "stderr-$?"')
    screen = run_in_terminal(tmp_path, "\n".join(lines))
    for name in consoles:
        for how in ("file", "pipe"):
            assert f"{name}-{how}-3" in screen, screen
            assert (out / f"{name}-{how}").read_bytes() == b""  # not one escape code
    said = "sbtop: the console needs a terminal, and its stdout is not one (for text, use " \
           "sbtop check; to collect unattended, sbtop record)"
    assert screen.count(said) == 6, screen
    assert "stdin-3" in screen and "its stdin is not one" in screen
    assert "stderr-3" in screen
    assert (out / "stderr").read_text() == said.replace("stdout", "stderr") + "\n"
    assert "Traceback" not in screen


def test_an_unknown_theme_is_refused_before_the_console_starts(tmp_path: Path) -> None:
    # It used to start anyway, in another theme, with a notice gone in seconds.
    from tests.recordings import write_recording

    rec = tmp_path / "shift.sbrec"
    write_recording(rec, ticks=3, step=1.0)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[ui]\ntheme = "solarised"\n\n[targets.x]\nbase_url = "http://127.0.0.1:9"\n')
    screen = run_in_terminal(tmp_path, "\n".join([
        f'{SBTOP} --url http://127.0.0.1:9 --theme nosuch; echo "console-$?"',
        f'{SBTOP} demo --theme nosuch; echo "demo-$?"',
        f'{SBTOP} replay {rec} --theme nosuch; echo "replay-$?"',
        f'{SBTOP} --config {cfg}; echo "config-$?"',
    ]))
    for name in ("console", "demo", "replay", "config"):
        assert f"{name}-3" in screen, screen
    said = "no theme named 'nosuch' (themes: dark, ansi, high-contrast, light)"
    assert screen.count(f"sbtop: --theme: {said}") == 3, screen
    assert f"sbtop: ui.theme: {said.replace('nosuch', 'solarised')}" in screen
    assert "Traceback" not in screen


def test_no_terminal_at_all_is_refused_at_once(tmp_path: Path) -> None:
    # Run from cron or CI by mistake: one line, exit 3, nothing on stdout.
    r = subprocess.run([sys.executable, "-m", "sbtop", "demo"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60, check=False,
                       env={**{k: v for k, v in os.environ.items() if not k.startswith("SBTOP_")},
                            "XDG_CONFIG_HOME": str(tmp_path)})
    assert r.returncode == 3 and r.stdout == ""
    assert r.stderr == ("sbtop: the console needs a terminal, and its stdout is not one (for "
                        "text, use sbtop check; to collect unattended, sbtop record)\n")


def test_the_ansi_theme_without_colour_keeps_the_terminals_own_text_colour(
        tmp_path: Path) -> None:
    """NO_COLOR with `--theme ansi` (the README's theme for 16 colours; NO_COLOR is often set
    in a shell's profile): Textual picks its no-colour filter once, at start, for the theme it
    had then, a monochrome one, and that turned the ansi theme's terminal-default text into
    pure black (38;5;16) on the terminal's own background: nothing readable on a dark
    terminal. The text keeps the terminal's default colour; another theme (`t`) its greys."""
    pane = Pane(f"{SBTOP} demo --theme ansi --state-dir {tmp_path}; sleep 30",
                env={"NO_COLOR": "1"})
    try:
        pane.wait_for("health HTTP 200 OK")
        coded = pane.tmux("capture-pane", "-e", "-p", "-t", "sbtop").stdout
        assert "p95" in coded
        assert "\x1b[38;5;16m" not in coded and "\x1b[30m" not in coded
        pane.keys("t")  # the next theme: monochrome greys on its own background again
        deadline = time.monotonic() + 20
        while "\x1b[48;5;" not in coded and time.monotonic() < deadline:
            time.sleep(0.2)
            coded = pane.tmux("capture-pane", "-e", "-p", "-t", "sbtop").stdout
        assert "\x1b[48;5;" in coded  # a grey background, as under the dark theme
    finally:
        pane.close()
