"""Recordings: the console's ticks written and read back, what replay shows at each tick equal
to what the console showed then, the timeline of an incident, files cut short or foreign, the
size limit, and `sbtop record` stopped by a signal."""

from __future__ import annotations

import asyncio
import gzip
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sbtop.clock import ManualClock
from sbtop.collector import Collector
from sbtop.console.replay import ReplayApp
from sbtop.engine import codec
from sbtop.engine.engine import Engine
from sbtop.recording.meta import header
from sbtop.recording.reader import Recording
from sbtop.recording.timeline import markdown
from sbtop.recording.writer import Recorder, RecordingError
from sbtop.session.replay import ReplaySession
from tests.cli import clean_env, run_sbtop
from tests.console_harness import Harness, screen_text
from tests.pagegen import PageText
from tests.recordings import write_recording
from tests.servers import Answer, LoopbackServer
from tests.waiting import until

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow


def panels(text: str) -> list[str]:
    """The screen without its header and footer lines (a replay marks those as a replay)."""
    return text.splitlines()[1:-1]


async def test_replay_shows_at_each_tick_what_the_console_showed(tmp_path: Path) -> None:
    path = tmp_path / "deploy.sbrec"
    h = Harness(production=False)
    h.session.recorder = Recorder(path, header(h.session.wiring.recording, 1.0, h.clock.wall))
    h.backend.set(rps=120)
    shown: dict[int, list[str]] = {}
    try:
        async with h.app.run_test(size=(120, 40)) as pilot:
            for tick in range(1, 41):
                if tick == 15:
                    h.backend.set(error_rate=0.08, fixed_latency_ms=700)
                if tick == 30:
                    h.backend.restart()
                await h.ticks(1, pilot)
                if tick in (3, 14, 22, 31, 40):
                    shown[tick] = panels(screen_text(h.app))
    finally:
        h.session.close_recorder()
        h.close()
    rec = Recording(path)
    assert len(rec) == 40 and rec.problem is None
    app = ReplayApp(ReplaySession(rec))
    player = app.player
    async with app.run_test(size=(120, 40)) as pilot:
        player.playing = False
        for i in range(40):
            player.go_to(i, rebuild=False)  # played tick by tick, as the console lived it
            await pilot.pause()
            if i + 1 in shown:
                assert panels(screen_text(app)) == shown[i + 1], f"tick {i + 1}"
        header_line = screen_text(app).splitlines()[0]
        assert "REPLAY" in header_line and "100%" in header_line


async def test_seeking_rebuilds_the_charts_and_keys_move_the_position(tmp_path: Path) -> None:
    path = tmp_path / "r.sbrec"
    await asyncio.to_thread(write_recording, path, ticks=120, step=1.0)
    rec = Recording(path)
    app = ReplayApp(ReplaySession(rec, speed=10))
    player = app.player
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        player.playing = False
        await pilot.press("end")
        assert player.index == len(rec) - 1
        ring = player.history.ring("requests_per_s")
        assert len(ring) == len(rec)  # every tick back in the sparkline's history
        await pilot.press("left")
        assert player.index == len(rec) - 11
        await pilot.press("home")
        assert player.index == 0 and len(player.history.ring("requests_per_s")) == 1
        await pilot.press("3")
        assert player.speed == 60
        await pilot.press("space")
        assert player.playing
        # Playing moves on (at 60x a second of wall time is about a recorded minute; waited
        # for, not timed: a busy machine may take longer to get there).
        for _ in range(300):
            if player.index >= 20:
                break
            await pilot.pause(0.1)
        assert player.index >= 20
        await pilot.press("r")  # deploy keys do not exist in a replay
        await pilot.press("v")
        assert app.screen is app.screen_stack[0]


def test_the_timeline_lists_crossings_alerts_and_actions_with_times(tmp_path: Path) -> None:
    path = tmp_path / "incident.sbrec"
    write_recording(path, ticks=170, step=5.0, incident=True)
    text = markdown(Recording(path))
    timeline = text.split("## Worst values")[0]
    rows = [r for r in timeline.splitlines() if r.startswith("| ")]
    what = [r.split(" | ")[2] for r in rows[2:]]
    assert any(w.startswith("5xx OK -> WARN (> 1)") for w in what), what
    assert any(w.startswith("5xx WARN -> CRIT (> 5)") for w in what), what
    assert "alert HighErrorRate pending" in what and "alert HighErrorRate firing" in what
    fired = next(r for r in rows if "alert HighErrorRate firing" in r)
    pending = next(r for r in rows if "alert HighErrorRate pending" in r)
    # The rule's `for` is 5 minutes: firing 5 min after pending (60 ticks of 5 s).
    t = [row_time(r) for r in (pending, fired)]
    assert t[1] - t[0] == 300
    assert any(w.startswith("action rollback (ok): rolled back") for w in what)
    assert any(w.startswith("5xx WARN -> OK") for w in what)
    assert "alert HighErrorRate resolved" in what
    assert "## Worst values" in text
    worst = next(r for r in text.splitlines() if r.startswith("| 5xx |"))
    assert "8.0" in worst or "7.9" in worst or "8.1" in worst
    # Times go forward, and each row says how long after the start it was.
    times = [row_time(r) for r in rows[2:]]
    assert times == sorted(times)


def test_a_timeline_past_its_row_cap_still_lists_the_actions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "incident.sbrec"
    write_recording(path, ticks=130, step=1.0, incident=True)
    # A cap the ticks' own rows (the start, the crossings, the alert) reach before the
    # rollback at tick 110: the action must be listed all the same.
    monkeypatch.setattr("sbtop.recording.timeline.MAX_ROWS", 3)
    text = markdown(Recording(path)).split("## Worst values")[0]
    assert "action rollback (ok): rolled back" in text, text
    assert "more rows not listed" in text


def row_time(row: str) -> int:
    hh, mm, ss = row.split(" | ", maxsplit=1)[0].strip("| ").split(":")
    return int(hh) * 3600 + int(mm) * 60 + int(ss)


def test_a_recording_cut_short_reads_up_to_where_it_was_flushed(tmp_path: Path) -> None:
    path = tmp_path / "cut.sbrec"
    write_recording(path, ticks=30, step=1.0, cut=True)
    rec = Recording(path)
    assert 0 < len(rec) <= 30 and rec.problem is not None
    rec.assessment(len(rec) - 1)  # every tick read is whole


def test_foreign_files_are_refused_in_one_line(tmp_path: Path) -> None:
    for name, content in (("plain.txt", b"hello\n"), ("other.gz", gzip.compress(b"{}\n")),
                          ("empty", b"")):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(RecordingError, match="not an sbtop recording"):
            Recording(tmp_path / name)
    r = run_sbtop("timeline", str(tmp_path / "plain.txt"))
    assert r.returncode == 3 and "not an sbtop recording" in r.stderr
    assert "Traceback" not in r.stderr
    r = run_sbtop("replay", str(tmp_path / "missing.sbrec"))
    assert r.returncode == 3 and "no such file" in r.stderr


def test_a_recording_is_never_overwritten_and_stops_at_its_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "r.sbrec"
    path.write_bytes(b"an earlier incident")
    with pytest.raises(RecordingError, match="exists; not overwriting"):
        Recorder(path, {})
    assert path.read_bytes() == b"an earlier incident"
    small = tmp_path / "small.sbrec"
    rec = Recorder(small, {"target": "x"}, max_bytes=2000)
    h = Harness(production=False)
    try:
        h.backend.set(rps=100)
        target = h.session.wiring
        clock = ManualClock()

        async def go() -> None:
            engine = Engine(target.engine, target.name)
            async with Collector(target.collector, clock, health_every_s=0) as c:
                for _ in range(400):
                    h.backend.advance(1)
                    clock.advance(1)
                    rec.tick(engine.observe(await c.observe()))
                    if rec.stopped:
                        return

        asyncio.run(go())
    finally:
        h.close()
    assert rec.stopped and "2000" not in rec.stopped and "size limit" in rec.stopped
    assert small.stat().st_size < 2000 + 64 * 1024  # at most one compressor buffer over
    assert len(Recording(small)) == rec.ticks


def test_keyframes_and_changes_rebuild_every_tick_exactly(tmp_path: Path) -> None:
    path = tmp_path / "k.sbrec"
    write_recording(path, ticks=130, step=1.0, incident=True)
    rec = Recording(path)
    sequential = [rec.encoded(i) for i in range(len(rec))]
    for i in (129, 0, 61, 60, 59, 1, 120):  # out of order: from the keyframes
        rec._cache = None
        assert rec.encoded(i) == sequential[i]
    lines = gzip.decompress(path.read_bytes()).splitlines()
    keys = [json.loads(x) for x in lines[1:] if b'"k":1' in x]
    assert len(keys) == 3  # ticks 0, 60, 120
    assert codec.decode_assessment(sequential[10]).figures["error_rate_5xx_pct"].value == 0.0
    assert codec.decode_assessment(sequential[100]).figures["error_rate_5xx_pct"].value == 8.0


def test_sbtop_record_stops_cleanly_on_sigterm_and_the_file_reads(tmp_path: Path) -> None:
    # A target whose scrapes the test sees: signalled once it has been scraped 5 times, sbtop
    # has recorded at least 4 ticks, however long its start-up took.
    path = tmp_path / "app.sbrec"
    page = PageText().sample("http_requests_total", {"status": "200"}, 1).text().encode()
    with LoopbackServer({"/metrics": Answer(body=page)}) as srv:
        p = subprocess.Popen([sys.executable, "-m", "sbtop", "record", str(path), "--url",
                              srv.url, "--refresh", "0.5"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=clean_env())
        try:
            until(lambda: sum(r["path"] == "/metrics" for r in srv.requests) >= 5, 60,
                  "five scrapes")
            p.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
    assert p.returncode == 0, err
    assert "recorded" in out and "per hour" in out and "Traceback" not in err
    rec = Recording(path)
    assert len(rec) >= 4 and rec.problem is None
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    r = run_sbtop("timeline", str(path))
    assert r.returncode == 0 and r.stdout.startswith(f"# Timeline: {rec.header['target']}")
