"""Themes are files: every `*.toml` in the theme folders becomes a Textual Theme at start-up.

Folders, later ones overriding earlier ones by name: the themes shipped with sbtop (the
repository's `themes/`, or `sbtop/_themes` in an installed wheel), then the user's
`$XDG_CONFIG_HOME/sbtop/themes`. A broken file is skipped with a message; it never stops sbtop.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from pathlib import Path
from typing import Any

import msgspec
from textual.app import App
from textual.color import Color
from textual.filter import Monochrome, NoColor
from textual.theme import Theme

DEFAULT_THEME = "dark"
_FIELDS = {f.name for f in dataclasses.fields(Theme)}
_WORDS = {"dark": "true or false", "ansi": "true or false", "luminosity_spread": "a number",
          "text_alpha": "a number"}
_STRINGS = _FIELDS - {*_WORDS, "variables"}


def theme_dirs() -> list[Path]:
    package = Path(__file__).resolve().parent.parent
    dirs = [package.parent / "themes", package / "_themes"]
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    dirs.append(Path(base) / "sbtop" / "themes")
    return dirs


def load_themes(dirs: list[Path] | None = None) -> tuple[dict[str, Theme], list[str]]:
    """(themes by name, in a stable order with the default first; problems, one line each)."""
    found: dict[str, Theme] = {}
    problems: list[str] = []
    for d in dirs if dirs is not None else theme_dirs():
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.toml")):
            try:
                theme = theme_from_file(path)
            except ValueError as e:
                problems.append(f"theme {path}: {e}")
                continue
            found[theme.name] = theme
    ordered = dict(sorted(found.items(), key=lambda kv: (kv[0] != DEFAULT_THEME, kv[0])))
    return ordered, problems


def theme_from_file(path: Path) -> Theme:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"invalid TOML: {e}") from None
    # msgspec checks each key's type against Textual's Theme (a dataclass, whose unknown keys
    # it would pass over: those are refused first).
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r}")
    data.setdefault("name", path.stem)
    try:
        theme = msgspec.convert(data, Theme)
    except msgspec.ValidationError as e:
        raise ValueError(_words(str(e))) from None
    for name, value in theme.variables.items():
        # Style variables ('input-cursor-text-style') hold words; all others are colours.
        if name.endswith("-style"):
            continue
        try:
            Color.parse(value)
        except Exception:
            raise ValueError(f"variables.{name}: not a colour: {value!r}") from None
    try:
        theme.to_color_system().generate()  # every colour parsed now, not when first shown
    except Exception as e:  # a bad colour name: Textual raises its own error types
        raise ValueError(f"bad colour: {e}") from None
    return theme


def _words(message: str) -> str:
    """msgspec's error ("Expected `bool`, got `str` - at `$.dark`") as the key and what it
    takes."""
    missing = re.match(r"Object missing required field `(\w+)`", message)
    if missing:
        return f"{missing[1]}: required"
    at = re.search(r" - at `\$\.(\w+)", message)
    key = at[1] if at else ""
    if key == "variables":
        return "variables: expected a table of strings"
    if key in _STRINGS:
        return f"{key}: expected a colour string"
    return f"{key}: expected {_WORDS.get(key, 'a valid value')}"


def theme_problem(name: str, dirs: list[Path] | None = None) -> str | None:
    """Why the console cannot start in the theme called name, in one line; None when it can.
    The default theme is never a problem: without its file the console falls back to
    Textual's own dark theme (so its files are not read for it: the console reads them)."""
    if name == DEFAULT_THEME:
        return None
    themes, problems = load_themes(dirs)
    if name in themes:
        return None
    line = f"no theme named {name!r} (themes: {', '.join(themes) or 'none'})"
    broken = [p for p in problems if p.startswith("theme ") and f"/{name}.toml: " in p]
    return f"{line}; {broken[0]}" if broken else line


def match_no_color(app: App[Any]) -> bool:
    """Under NO_COLOR, the filter for the theme now applied (True when it changed).

    Textual picks its no-colour filter once, at start, for the theme it has then (never an
    ANSI one): a monochrome filter, which makes the ansi theme's terminal-default text pure
    black on the terminal's own background, unreadable on a dark terminal. An ANSI theme gets
    the filter that leaves the terminal's colours alone, as Textual itself gives one when the
    app starts with it; another theme, the monochrome greys."""
    if not app.no_color:
        return False
    wanted = NoColor if app.native_ansi_color else Monochrome
    filters = app._filters  # Textual's own list of line filters (no public setter)
    changed = False
    for i, f in enumerate(filters):
        if isinstance(f, (NoColor, Monochrome)) and type(f) is not wanted:
            filters[i] = wanted()
            changed = True
    return changed
