"""Recordings from outside (issue 14, items 7 and 8): a file anyone may have handed over, edited
by hand or made to hurt. Whatever it holds, reading it stays in bounded memory (one huge line, a
long recording, a gzip bomb), and a malformed line (wrong JSON types anywhere, NaN, Infinity or
1e308 times, a header or events of the wrong shape, text where numbers belong) never reaches a
traceback: `timeline` says which line and why in one line and exits 3; `replay` plays what is
readable and says what it skipped, or refuses in one line."""

from __future__ import annotations

import copy
import dataclasses
import gzip
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from textual.app import App

from sbtop import cli
from sbtop.commands import replay as commands_replay
from sbtop.console.replay import ReplayApp
from sbtop.engine import codec
from sbtop.recording import reader, stream, timeline
from sbtop.recording.reader import Recording
from sbtop.recording.timeline import markdown
from sbtop.recording.writer import Recorder, RecordingError
from tests.cli import peak_rss
from tests.console_harness import notifications
from tests.recordings import write_recording

MB = 1024 * 1024
# What reading may cost, whatever the file: Python and sbtop's modules take 20 to 50 MB, one
# line at most 8 MiB (and what JSON makes of it). The reader before kept every line: these
# files took it to 300 MB to 1 GB.
MAX_RSS_MB = 150

Lines = list[bytes]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Lines:
    """The lines of a real recording: 70 ticks of the simulated backend (two whole
    snapshots), an incident and a rollback."""
    path = tmp_path_factory.mktemp("base") / "base.sbrec"
    write_recording(path, ticks=70, step=1.0)
    return gzip.decompress(path.read_bytes()).splitlines(keepends=True)


def write(path: Path, lines: Lines, level: int = 6) -> Path:
    with gzip.open(path, "wb", compresslevel=level) as f:
        for line in lines:
            f.write(line)
    return path


def edited(lines: Lines, i: int, change: Callable[[dict[str, Any]], object]) -> Lines:
    """The lines with line i's JSON changed by `change` (NaN and Infinity written as JSON's
    extensions do, as a hand or a script would)."""
    obj = json.loads(lines[i])
    change(obj)
    return [*lines[:i], json.dumps(obj).encode() + b"\n", *lines[i + 1:]]


def peak(argv: list[str], tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run `argv` as a child of a small Python that reports its peak RSS (MB)."""
    return peak_rss(argv, tmp_path / "rss")


# --- item 7: bounded memory --------------------------------------------------------------------


@pytest.mark.slow
def test_one_huge_line_is_skipped_unread_in_bounded_memory(base: Lines, tmp_path: Path) -> None:
    # 200 MB of one line compress to 200 KB; the reader before held it whole (and what JSON
    # made of it): about 700 MB, and a MemoryError beyond.
    path = tmp_path / "huge.sbrec"
    with gzip.open(path, "wb", compresslevel=6) as f:
        f.writelines(base[:3])
        f.write(b'{"w":1800000003.0,"t":1003.0,"a":{"health_body":"')
        chunk = b"y" * MB
        for _ in range(200):
            f.write(chunk)
        f.write(b'"}}\n')
        f.writelines(base[3:])
    assert path.stat().st_size < 1 * MB
    p, rss = peak([sys.executable, "-m", "sbtop", "timeline", str(path)], tmp_path)
    assert rss < MAX_RSS_MB, f"peak RSS {rss:.0f} MB"
    assert p.returncode == 3 and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert "line 4 is not as sbtop writes a recording (longer than 8 MiB" in p.stderr
    # A replay plays the rest: the two ticks before, and from the next whole snapshot on
    # (tick 61: the ticks between change what the line skipped held).
    rec = Recording(path)
    assert len(rec) == 2 + (len(base) - 1 - 60)
    assert rec.walls[-1] == json.loads(base[-1])["w"]
    assert rec.problem is not None
    assert rec.problem.startswith("1 line skipped, with the 58 ticks after that change")
    rec.assessment(len(rec) - 1)


def long_recording(path: Path, base: Lines, ticks: int, body: int) -> None:
    """A well-formed recording of `ticks` ticks whose changes each carry `body` bytes of health
    JSON (compressing to almost nothing): a long recording's text, made quickly. A whole
    snapshot every 60 ticks, as the writer makes them."""
    key = json.loads(base[1])
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(base[0])
        for i in range(ticks):
            wall, t = 1_800_000_001.0 + i, 1001.0 + i
            if i % 60 == 0:
                line = {**key, "w": wall, "t": t, "a": {**key["a"], "wall": wall, "t": t}}
            else:
                line = {"w": wall, "t": t, "a": {"wall": wall, "t": t, "tick": i + 1,
                                                 "health_body": f"{i}" + "x" * body}}
            f.write(json.dumps(line).encode() + b"\n")


# Run as a child: what a replay asks of the reader (open, seeks back and forth, playing on).
REPLAYING = """
import sys
from pathlib import Path
from sbtop.recording.reader import Recording
rec = Recording(Path(sys.argv[1]))
for i in (len(rec) - 1, 0, len(rec) // 2, 7, len(rec) - 61):
    rec.assessment(i)
for i in range(len(rec) - 60, len(rec)):
    rec.assessment(i)
print(len(rec))
"""


@pytest.mark.slow
def test_a_long_recording_is_read_and_replayed_in_bounded_memory(base: Lines,
                                                                 tmp_path: Path) -> None:
    # 3,000 ticks, 300 MB of text in 1 MB of gzip: the reader before kept every line.
    path = tmp_path / "long.sbrec"
    long_recording(path, base, ticks=3000, body=100_000)
    p, rss = peak([sys.executable, "-m", "sbtop", "timeline", str(path)], tmp_path)
    assert p.returncode == 0, p.stderr
    assert "3000 ticks every 1.0 s" in p.stdout
    assert rss < MAX_RSS_MB, f"timeline: peak RSS {rss:.0f} MB"
    p, rss = peak([sys.executable, "-c", REPLAYING, str(path)], tmp_path)
    assert p.returncode == 0 and p.stdout.strip() == "3000", p.stderr
    assert rss < MAX_RSS_MB, f"replay's reading: peak RSS {rss:.0f} MB"


def test_reading_stops_at_the_uncompressed_limit_and_says_so(base: Lines,
                                                             tmp_path: Path) -> None:
    # A gzip bomb or a recording over the limit (4 GiB by default): read up to there.
    path = write(tmp_path / "r.sbrec", base)
    whole = sum(map(len, base))
    rec = Recording(path, max_text=whole // 2)
    assert 0 < len(rec) < len(base) - 1 and rec.malformed is None
    assert rec.problem is not None and "larger than" in rec.problem
    assert "uncompressed (the limit for one recording): read up to there" in rec.problem
    rec.assessment(len(rec) - 1)


def test_a_timeline_lists_a_bounded_number_of_rows_and_counts_the_rest(
        base: Lines, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A recording that flaps for days would make a timeline of gigabytes: the rows past the
    # limit (20,000) are counted in a last row. Here the limit is 2, and 4 notes are recorded
    # in a recording that is calm throughout (no other row).
    monkeypatch.setattr(timeline, "MAX_ROWS", 2)
    lines = list(base)
    for i in range(4):
        lines.append(json.dumps({"w": 1_800_000_010.0 + i, "e": "note",
                                 "d": {"text": f"note {i}"}}).encode() + b"\n")
    rows = timeline.rows(Recording(write(tmp_path / "r.sbrec", lines)))
    assert [r.what for r in rows] == ["note 0", "note 1",
                                      "... 2 more rows not listed (a timeline lists at most 2)"]


def test_seeking_from_any_copy_of_the_decompressor_rebuilds_every_tick_exactly(
        base: Lines, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Copies of zlib's state every 4 KiB of text, at most 4 of them (so the spacing doubles
    # and every other copy goes, again and again), over two gzip members; the text made 1 KiB
    # at a time from 512 bytes read.
    monkeypatch.setattr(reader, "SPACING", 4096)
    monkeypatch.setattr(reader, "MAX_CHECKPOINTS", 4)
    monkeypatch.setattr(stream, "PIECE", 1024)
    monkeypatch.setattr(stream, "CHUNK", 512)
    path = tmp_path / "r.sbrec"
    half = len(base) // 2
    path.write_bytes(gzip.compress(b"".join(base[:half])) + gzip.compress(b"".join(base[half:])))
    rec = Recording(path)
    assert len(rec) == len(base) - 1 and rec.problem is None
    assert 2 <= len(rec._checkpoints) <= 4
    sequential = [rec.encoded(i) for i in range(len(rec))]
    for i in (len(rec) - 1, 0, 61, 60, 59, 1, 33, 34, 2, len(rec) - 2):
        rec._cache = None
        assert rec.encoded(i) == sequential[i], i
    one = Recording(write(tmp_path / "one.sbrec", base))
    assert [one.encoded(i) for i in range(len(one))] == sequential


def test_a_file_changed_after_it_was_opened_is_said_not_misread(base: Lines,
                                                                tmp_path: Path) -> None:
    path = write(tmp_path / "r.sbrec", base)
    rec = Recording(path)
    changed = edited(base, 40, lambda o: o["a"].update(level="critical"))
    path.write_bytes(gzip.compress(b"".join(changed)))
    with pytest.raises(RecordingError, match="changed since it was opened"):
        rec.encoded(len(rec) - 1)


def test_a_figure_that_becomes_unknown_replays(base: Lines, tmp_path: Path) -> None:
    # A change sets a field to None by dropping it: a figure's value that became unknown
    # (metrics down longer than a window) had no "value", and replay stopped on a TypeError.
    before = codec.decode_assessment(json.loads(base[1])["a"])
    p95 = before.figures["latency_p95_ms"]
    known = dataclasses.replace(p95, value=240.0)
    ticks = [dataclasses.replace(before, figures={**before.figures, p95.key: f})
             for f in (known, known, dataclasses.replace(known, value=None))]
    path = tmp_path / "r.sbrec"
    rec = Recorder(path, {"target": "x"})
    for a in ticks:
        rec.tick(a)
    rec.close()
    back = Recording(path)
    assert len(back) == 3
    assert back.assessment(2).figures["latency_p95_ms"].value is None
    assert back.assessment(1).figures["latency_p95_ms"].value == 240.0
    assert back.malformed is None  # and the check agrees: this is how sbtop writes it


# --- item 8: malformed recordings ---------------------------------------------------------------


def _nan_literal(obj: dict[str, Any]) -> None:
    obj["w"] = float("nan")


CORPUS: dict[str, tuple[int, Callable[[dict[str, Any]], object]]] = {
    # line, change
    "header a list": (0, lambda o: (o.clear(), o.update(sbtop_recording=[1] * 10000))),
    "header refresh as text": (0, lambda o: o.update(refresh_s="fast")),
    "header window NaN": (0, lambda o: o.update(window_s=float("nan"))),
    "header window 0": (0, lambda o: o.update(window_s=0)),
    "header thresholds a list": (0, lambda o: o.update(thresholds=[1])),
    "header threshold text": (0, lambda o: o.update(thresholds={"latency_p95_ms": ["a", 1, True]})),
    "header canary text": (0, lambda o: o.update(canary="x")),
    "header canary steps text": (0, lambda o: o["canary"].update(steps=["five"])),
    "header target an object": (0, lambda o: o.update(target={"a": 1})),
    "header started 1e308": (0, lambda o: o.update(started=1e308)),
    "tick time NaN": (2, _nan_literal),
    "tick time Infinity": (2, lambda o: o.update(w=float("inf"))),
    "tick time 1e308": (2, lambda o: o.update(w=1e308)),
    "tick time negative": (2, lambda o: o.update(w=-5)),
    "tick time text": (2, lambda o: o.update(w="noon")),
    "monotonic time 1e308": (2, lambda o: o.update(t=1e308)),
    "assessment wall 1e308": (1, lambda o: o["a"].update(wall=1e308)),
    "whole snapshot a list": (1, lambda o: o.update(a=[1])),
    "k text": (1, lambda o: o.update(k="yes")),
    "a line a list": (3, lambda o: (o.clear(), o.update({"x": [1, 2]}))),
    "figures a list": (1, lambda o: o["a"].update(figures=[1])),
    "figure text": (1, lambda o: o["a"]["figures"].update(latency_p95_ms="x")),
    "value text": (1, lambda o: o["a"]["figures"]["memory_pct"].update(value="35")),
    "value a list": (1, lambda o: o["a"]["figures"]["memory_pct"].update(value=[35])),
    "level unknown word": (1, lambda o: o["a"].update(level="purple")),
    "level a number": (1, lambda o: o["a"]["figures"]["memory_pct"].update(level=3)),
    "threshold text": (1, lambda o: o["a"]["figures"]["memory_pct"].update(
        threshold={"warning": "x"})),
    "stale_s NaN": (1, lambda o: o["a"]["figures"]["memory_pct"].update(stale_s="nan")),
    "alerts an object": (1, lambda o: o["a"].update(alerts={"a": 1})),
    "alert text": (1, lambda o: o["a"].update(alerts=["firing"])),
    "sources a list": (1, lambda o: o["a"].update(sources=[1])),
    "source text": (1, lambda o: o["a"]["sources"].update(metrics="up")),
    "source checked 1e308": (1, lambda o: o["a"]["sources"]["metrics"].update(
        checked_wall=1e308)),
    "routes text": (1, lambda o: o["a"].update(routes="x")),
    "routes top 1e308": (1, lambda o: o["a"]["routes"].update(top=1e308)),
    "routes top negative": (1, lambda o: o["a"]["routes"].update(top=-1)),
    "routes top by a change": (2, lambda o: o["a"].update(routes={"~": {"top": 1e308}})),
    "tick number text": (1, lambda o: o["a"].update(tick="x")),
    "required field gone": (1, lambda o: o["a"].pop("level")),
    "change of figures text": (2, lambda o: o["a"].update(figures="x")),
    "change patch a list": (2, lambda o: o["a"].update(figures={"~": [1]})),
    "change of a figure text": (2, lambda o: o["a"].update(
        figures={"~": {"memory_pct": {"~": "x"}}})),
    "canary text": (1, lambda o: o.update(c="x")),
    "canary percent text": (1, lambda o: o.update(c={**o["c"], "percent": "x"})),
    "canary since 1e308": (1, lambda o: o.update(c={**o["c"], "step_started_wall": 1e308})),
    "event time text": (-1, lambda o: o.update(w="x")),
    "event time 1e308": (-1, lambda o: o.update(w=1e308)),
    "event data a list": (-1, lambda o: o.update(d=[1, 2])),
    "event kind an object": (-1, lambda o: o.update(e={"x": 1})),
}


def corpus_file(base: Lines, name: str, tmp_path: Path) -> Path:
    line, change = CORPUS[name]
    lines = [*base, json.dumps({"w": 1_800_000_050.5, "e": "action",
                                "d": {"action": "rollback", "ok": True}}).encode() + b"\n"]
    if line == -1:
        line = len(lines) - 1
    return write(tmp_path / "bad.sbrec", edited(lines, line, change))


@pytest.mark.slow
@pytest.mark.parametrize("name", CORPUS)
def test_timeline_refuses_a_malformed_recording_in_one_line(
        name: str, base: Lines, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = corpus_file(base, name, tmp_path)
    assert cli.main(["timeline", str(path)]) == 3
    out, err = capfd.readouterr()
    assert out == "" and len(err.splitlines()) == 1, err
    assert "Traceback" not in err and len(err) < 600
    if CORPUS[name][0] == 0:
        assert "header" in err or "recording format" in err
    else:
        assert "is not as sbtop writes a recording" in err and "no timeline" in err


@pytest.mark.slow
def test_timeline_of_a_malformed_recording_as_a_real_process(base: Lines,
                                                            tmp_path: Path) -> None:
    path = corpus_file(base, "tick time NaN", tmp_path)
    p = subprocess.run([sys.executable, "-m", "sbtop", "timeline", str(path)],
                       capture_output=True, text=True, timeout=60, check=False)
    assert p.returncode == 3 and p.stdout == "" and "Traceback" not in p.stderr
    assert p.stderr.startswith("sbtop: ") and len(p.stderr.splitlines()) == 1
    assert "line 3 is not as sbtop writes a recording" in p.stderr and "NaN" in p.stderr


@pytest.mark.parametrize("name", [n for n, (line, _) in CORPUS.items() if line != 0])
def test_a_malformed_line_is_skipped_and_the_rest_read(name: str, base: Lines,
                                                       tmp_path: Path) -> None:
    # As replay reads: the line skipped, the ticks that change what it held skipped up to
    # the next whole snapshot, the rest read, every tick read decodes; and it is said.
    path = corpus_file(base, name, tmp_path)
    rec = Recording(path)
    assert rec.malformed is not None and "\n" not in rec.malformed
    assert rec.problem is not None and "1 line skipped" in rec.problem
    ticks = len(base) - 1  # 70, whole snapshots at ticks 1 and 61
    line = CORPUS[name][0]
    if line == 1:  # the first snapshot: from the second one on
        assert len(rec) == ticks - 60
    elif line == 2:  # the first change: the first tick, then from the second snapshot on
        assert len(rec) == 1 + ticks - 60
    else:  # a change further on, or an event
        assert len(rec) >= 1 + ticks - 60
    for i in range(len(rec)):
        rec.assessment(i)


@pytest.fixture
def headless(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[ReplayApp]]:
    """`sbtop replay` run for real but without a terminal, ending once its first tick is
    shown (or as soon as it crashed): the apps it made, to look at."""
    apps: list[ReplayApp] = []
    mount = ReplayApp.on_mount

    async def on_mount(self: ReplayApp) -> None:
        apps.append(self)
        await mount(self)
        self.call_after_refresh(self.exit)

    monkeypatch.setattr(ReplayApp, "on_mount", on_mount)
    monkeypatch.setattr(ReplayApp, "run",
                        lambda self, **kw: App.run(self, headless=True, size=(120, 40)))
    # No terminal here, and none needed: headless, nothing is drawn (the refusal of a
    # console without one is tested in test_e2e_tmux.py).
    monkeypatch.setattr(commands_replay, "console_ready", lambda theme, config_theme: None)
    monkeypatch.setenv("SBTOP_CONFIG", "/dev/null")
    yield apps


REPLAYED = ["value text", "level a number", "tick time 1e308", "assessment wall 1e308",
            "alerts an object", "canary percent text", "event time 1e308", "change patch a list",
            "header thresholds a list", "stale_s NaN", "source checked 1e308"]


@pytest.mark.slow
@pytest.mark.parametrize("name", REPLAYED)
def test_replay_plays_what_is_readable_or_refuses_in_one_line(
        name: str, base: Lines, tmp_path: Path, headless: list[ReplayApp],
        capfd: pytest.CaptureFixture[str]) -> None:
    path = corpus_file(base, name, tmp_path)
    code = cli.main(["replay", str(path)])
    _, err = capfd.readouterr()
    assert "Traceback" not in err and all(x.startswith("sbtop: ") for x in err.splitlines())
    if code == 3:  # refused: the header, or no tick left to play
        assert not headless and len(err.splitlines()) == 1 and err.startswith("sbtop: ")
        return
    assert code == 0 and headless and getattr(headless[0], "crashed", None) is None
    assert "skipped" in err  # said on the terminal, and on the screen
    said = notifications(headless[0])
    assert any("skipped" in m for m in said), said


@pytest.mark.slow
def test_replay_says_when_a_value_cannot_be_shown_and_goes_on(
        base: Lines, tmp_path: Path, headless: list[ReplayApp],
        capfd: pytest.CaptureFixture[str]) -> None:
    # A figure's detail the panels cannot draw (text where a byte count belongs): the reader
    # holds details to their types like every other field, so the line is said, once, with
    # the field, and the replay goes on.
    lines = edited(base, 1, lambda o: o["a"]["figures"]["memory_pct"].update(
        detail={"rss_bytes": "lots", "limit_bytes": [1]}))
    path = write(tmp_path / "r.sbrec", lines)
    assert cli.main(["replay", str(path)]) == 0
    _, err = capfd.readouterr()
    assert "Traceback" not in err
    app = headless[0]
    # Not crashed, and playing (where it has got to depends on how busy the machine is).
    assert getattr(app, "crashed", None) is None and app.player.index >= 0
    said = notifications(app)
    assert any(m.startswith("r.sbrec: 1 line skipped") and
               "memory_pct.detail.rss_bytes: 'lots' is not a number" in m for m in said), said


@pytest.mark.slow
def test_an_error_that_escapes_the_replay_is_one_line_and_exit_3(
        base: Lines, tmp_path: Path, headless: list[ReplayApp],
        monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    # A bug of ours where no guard is: one line and exit 3, not a page of traceback and 0.
    def broken(self: ReplayApp, _position: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(ReplayApp, "_show_position", broken)
    path = write(tmp_path / "r.sbrec", base)
    assert cli.main(["replay", str(path)]) == 3
    _, err = capfd.readouterr()
    assert err == "sbtop: the replay stopped on an internal error: RuntimeError: a bug\n"


# --- any field, any value ----------------------------------------------------------------------

HOSTILE = st.sampled_from([
    None, True, False, 0, -1, 3, 1e308, -1e308, float("nan"), float("inf"), 10**30, "", "x",
    "nan", "inf", "\x1b]52;c;aGk=\x07", [], [1, "a"], {}, {"~": 1}, {"~": {"x": None}},
])


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    obj[path[0]] = _set(obj[path[0]], path[1:], value)
    return obj


@pytest.mark.slow
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_any_value_anywhere_is_read_or_refused_never_a_traceback(
        data: st.DataObject, base: Lines, tmp_path: Path) -> None:
    lines = list(base)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, min(len(lines) - 1, 8)) | st.integers(0, len(lines) - 1))
        obj = json.loads(lines[i])
        path = data.draw(st.sampled_from(list(_paths(obj))))
        obj = _set(copy.deepcopy(obj), path, data.draw(HOSTILE))
        lines[i] = json.dumps(obj).encode() + b"\n"
    path = write(tmp_path / "h.sbrec", lines, level=1)
    try:
        rec = Recording(path)
    except RecordingError as e:
        assert "\n" not in str(e) and len(str(e)) < 600
        return
    for i in range(len(rec)):  # every tick read decodes: replay can show it
        rec.assessment(i)
    malformed = getattr(rec, "malformed", None)
    if malformed is None:
        text = markdown(rec)  # and the timeline is made
        assert text.startswith("# Timeline")
    else:
        assert "\n" not in malformed and rec.problem is not None
