"""Theme files: each key's type checked (by msgspec, against Textual's Theme), a broken file
skipped with one line naming the key and what it takes; the shipped themes all load."""

from __future__ import annotations

from pathlib import Path

import pytest

from sbtop.console.themes import load_themes, theme_dirs, theme_from_file

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('secondary = "#112233"\n', "primary: required"),
        ("primary = 5\n", "primary: expected a colour string"),
        ('primary = "#123456"\nsecondary = 5\n', "secondary: expected a colour string"),
        ('primary = "#123456"\ntext_alpha = "x"\n', "text_alpha: expected a number"),
        ('primary = "#123456"\ntext_alpha = true\n', "text_alpha: expected a number"),
        ('primary = "#123456"\nansi = 1\n', "ansi: expected true or false"),
        ('primary = "#123456"\nvariables = 5\n', "variables: expected a table of strings"),
        ('primary = "#123456"\nvariables = {a = 1}\n', "variables: expected a table of strings"),
        ('primary = "#123456"\nbogus = 1\n', "unknown key 'bogus'"),
        ('primary = "nope"\n', "bad colour: failed to parse 'nope' as a color"),
    ],
)
def test_a_wrong_key_is_named_with_what_it_takes(tmp_path: Path, text: str,
                                                  problem: str) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(text)
    with pytest.raises(ValueError) as e:
        theme_from_file(path)
    assert str(e.value) == problem


def test_a_good_file_becomes_a_theme_named_for_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('primary = "#123456"\ntext_alpha = 1\n[variables]\n"x-style" = "bold"\n')
    theme = theme_from_file(path)
    assert theme.name == "mine" and theme.text_alpha == 1.0 and theme.dark
    assert theme.variables == {"x-style": "bold"}


def test_the_shipped_themes_all_load() -> None:
    themes, problems = load_themes([d for d in theme_dirs() if d.parent == ROOT])
    assert problems == [] and {"dark", "light", "ansi", "high-contrast"} <= set(themes)
