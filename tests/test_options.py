"""The command line's options and the config file: each numeric option refused in one line that
says its unit and range (the same range the config's validation uses for the same setting), the
config read once per run, and one rule for a broken config (refused by the commands that need it,
warned about by the faces that only take ui settings from it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sbtop import cli, config, units
from sbtop.commands.loading import ConfigFile
from sbtop.engine.engine import Engine
from sbtop.engine.observations import Observation
from sbtop.engine.settings import EngineSettings
from sbtop.recording.writer import Recorder
from tests.cli import run_sbtop


def refusal(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """What the command line says when it refuses `argv`: one line, exit 3."""
    with pytest.raises(SystemExit) as e:
        cli.main(list(argv))
    assert e.value.code == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sbtop: "), err
    return err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--refresh", "0.05"],
         "argument --refresh: must be between 0.5 and 3600 seconds, got 0.05"),
        (["record", "r.sbrec", "--refresh", "0.2"],
         "argument --refresh: must be between 0.5 and 3600 seconds, got 0.2"),
        (["demo", "--refresh", "4000"],
         "argument --refresh: must be between 0.5 and 3600 seconds, got 4000"),
        (["--refresh", "soon"], "argument --refresh: expected seconds, got 'soon'"),
        (["check", "--window", "0"],
         "argument --window: must be more than 0 and at most 3600 seconds, got 0"),
        (["verify", "--window", "-1"],
         "argument --window: must be more than 0 and at most 3600 seconds, got -1"),
        (["canary", "next", "--window", "7200"],
         "argument --window: must be more than 0 and at most 3600 seconds, got 7200"),
        (["record", "r.sbrec", "--for", "0"],
         "argument --for: must be more than 0 and at most 30 days, got 0"),
        (["record", "r.sbrec", "--for", "31d"],
         "argument --for: must be more than 0 and at most 30 days, got 2678400"),
        (["record", "r.sbrec", "--for", "a while"],
         "argument --for: not a duration: 'a while' (e.g. 90, 90s, 30m, 2h)"),
        (["record", "r.sbrec", "--max-mb", "0"],
         "argument --max-mb: must be more than 0 and at most 102400 MB, got 0"),
        (["record", "r.sbrec", "--max-mb", "lots"],
         "argument --max-mb: expected megabytes, got 'lots'"),
        (["verify", "--baseline-p95", "0"],
         "argument --baseline-p95: must be more than 0 and at most 3600000 ms (an hour), got 0"),
        (["verify", "--baseline-p95", "4000s"],
         "argument --baseline-p95: expected milliseconds, got '4000s'"),
        (["verify", "--baseline-5xx", "101"],
         "argument --baseline-5xx: must be between 0 and 100 percent, got 101"),
        (["demo", "--instances", "9"],
         "argument --instances: must be between 1 and 8 instances, got 9"),
        (["demo", "--instances", "two"],
         "argument --instances: expected a number of instances (a whole number), got 'two'"),
        (["demo", "--port", "65536"], "argument --port: must be between 0 and 65535, got 65536"),
        (["replay", "r.sbrec", "--speed", "5"],
         "argument --speed: expected 1, 10 or 60 (times real time), got '5'"),
        (["canary", "set", "150"], "argument percent: 150 is not a percentage (0 to 100)"),
        (["canary", "set", "half"],
         "argument percent: 'half' is not a percentage (a whole number, 0 to 100)"),
    ],
)
def test_each_numeric_option_is_refused_saying_its_unit_and_range(
        capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert message in refusal(capsys, *argv)


def test_sane_values_in_each_unit_are_accepted() -> None:
    parse = cli.build_parser().parse_args
    # A p95 baseline of 4 s is milliseconds 4000: it was once refused as "seconds".
    assert parse(["verify", "--baseline-p95", "4000"]).baseline_p95 == 4000.0
    assert parse(["verify", "--baseline-5xx", "0"]).baseline_5xx == 0.0
    assert parse(["--refresh", "0.5"]).refresh == 0.5
    assert parse(["record", "r", "--for", "2h", "--max-mb", "0.5"]).for_s == 7200.0
    assert parse(["record", "r", "--for", "90"]).for_s == 90.0
    assert parse(["check", "--window", "0.2"]).window == 0.2
    assert parse(["demo", "--port", "0", "--instances", "8"]).port == 0
    assert parse(["replay", "r", "--speed", "60"]).speed == 60
    assert parse(["canary", "set", "0"]).percent == 0


def test_the_refresh_option_and_ui_refresh_s_share_one_range() -> None:
    with pytest.raises(config.ConfigError) as e:
        config.parse({"ui": {"refresh_s": 0.05}})
    assert str(e.value) == f"ui.refresh_s: must be {units.REFRESH_S.describe()}, got 0.05"
    with pytest.raises(config.ConfigError) as e:
        config.parse({"ui": {"refresh_s": 7200}})
    assert str(e.value) == "ui.refresh_s: must be between 0.5 and 3600 seconds, got 7200"
    assert config.parse({"ui": {"refresh_s": 0.5}}).ui.refresh_s == 0.5
    with pytest.raises(config.ConfigError, match=r"canary\.steps: expected rising percentages"):
        config.parse({"canary": {"steps": [0, 5, 25, 101]}})


# --- the config read once per run -------------------------------------------------------------

def counting_loads(monkeypatch: pytest.MonkeyPatch) -> list[Path | None]:
    """Every time the file's text is read, whatever reads it (loading it, or looking again
    for the secrets it names)."""
    reads: list[Path | None] = []
    read_bytes, read_text = Path.read_bytes, Path.read_text

    def counted_bytes(self: Path) -> bytes:
        if self.name == "c.toml":  # the tests' config file (not the theme files)
            reads.append(self)
        return read_bytes(self)

    def counted_text(self: Path, *args: Any, **kwargs: Any) -> str:
        if self.name == "c.toml":  # the tests' config file (not the theme files)
            reads.append(self)
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_bytes", counted_bytes)
    monkeypatch.setattr(Path, "read_text", counted_text)
    return reads


def test_a_config_file_is_parsed_once_whatever_asks_for_it(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[ui]\ntheme = "light"\n[targets.p]\nbase_url = "http://127.0.0.1:9"\n')
    reads = counting_loads(monkeypatch)
    file = ConfigFile(str(path))
    assert file.load().ui.theme == "light"
    assert file.ui_or_defaults().theme == "light"
    assert file.load().targets["p"].base_url == "http://127.0.0.1:9"
    assert reads == [path] and file.reads == 1


@pytest.mark.parametrize(
    "argv",
    [
        # The actions read ui.read_only, then the target (once two reads of the file).
        ["restart", "--yes"],
        # The console read the target, then its ui settings (two reads): it stops at the
        # terminal check here, after both.
        [],
        ["rules", "--no-detect"],
    ],
)
@pytest.mark.parametrize("mode", [0o600, 0o644])  # 0o644: the permission warning looks too
def test_each_command_reads_the_config_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str],
                                            argv: list[str], mode: int) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[targets.p]\nbase_url = "http://127.0.0.1:9"\n'
                    '[targets.p.render]\napi_key_env = "SB_KEY"\n')
    path.chmod(mode)
    reads = counting_loads(monkeypatch)
    code = cli.main([*argv, "--config", str(path)])
    assert reads == [path], capsys.readouterr()
    assert code in (0, 3)


# --- one rule for a broken config ---------------------------------------------------------------

BROKEN = '[ui]\nrefresh_s = "fast"\n'


@pytest.mark.parametrize("argv", [["check"], ["rules"], ["restart", "--yes"], [],
                                  ["record", "r.sbrec"], ["verify"]])
def test_commands_that_need_the_config_refuse_a_broken_one(tmp_path: Path,
                                                           argv: list[str]) -> None:
    path = tmp_path / "c.toml"
    path.write_text(BROKEN)
    r = run_sbtop(*argv, "--config", str(path), "--url", "http://127.0.0.1:9",
                  cwd=tmp_path)
    assert r.returncode == 3 and r.stdout == ""
    assert r.stderr == (f"sbtop: config error: {path}: ui.refresh_s: expected a number, got "
                        "the string 'fast'\n")
    assert not (tmp_path / "r.sbrec").exists()


def test_demo_takes_the_defaults_for_a_broken_config_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(BROKEN)
    # Without a terminal the console refuses to start: after the config was judged.
    r = run_sbtop("--config", str(path), "demo")
    lines = r.stderr.splitlines()
    assert lines[0] == (f"sbtop: warning: config error: {path}: ui.refresh_s: expected a "
                        "number, got the string 'fast': using the defaults")
    assert r.returncode == 3 and "the console needs a terminal" in lines[1]


def test_replay_takes_the_defaults_for_a_broken_config_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(BROKEN)
    recording = tmp_path / "r.sbrec"
    recorder = Recorder(recording, {"target": "x"})
    recorder.tick(Engine(EngineSettings(), "x").observe(Observation(t=1000.0, wall=1.8e9)))
    recorder.close()
    r = run_sbtop("replay", str(recording), "--config", str(path))
    lines = r.stderr.splitlines()
    assert lines[0] == (f"sbtop: warning: config error: {path}: ui.refresh_s: expected a "
                        "number, got the string 'fast': using the defaults")
    assert r.returncode == 3 and "the console needs a terminal" in lines[1]
    # A theme given on the command line: the config is not needed, and not read.
    r = run_sbtop("replay", str(recording), "--config", str(path), "--theme", "light")
    assert "config error" not in r.stderr and "the console needs a terminal" in r.stderr


def test_the_demos_server_and_the_timeline_do_not_read_the_config(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(BROKEN)
    r = run_sbtop("--config", str(path), "timeline", str(tmp_path / "none.sbrec"))
    assert r.returncode == 3 and "config" not in r.stderr
    r = run_sbtop("--config", str(path), "demo", "--serve", "--port", "65535",
                  "--instances", "2")
    assert r.returncode == 3 and "config" not in r.stderr
