"""The files sbtop writes (issue 13): nothing in the state directory is opened through a
symbolic link, the state's temporary file cannot be guessed, a state directory others can
write in (or someone else's) is refused in one line, a team's shared directory works between
two users, and `timeline -o` never writes over a recording, an existing file without --force,
or through a link. Real files, real links, real `python -m sbtop` runs."""

from __future__ import annotations

import grp
import os
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sbtop.actions.factory import build_controller
from sbtop.actions.state import (
    CanaryState,
    StateDirError,
    StateStore,
    TargetState,
    prepare_dir,
)
from sbtop.commands.targets import demo_target
from sbtop.demo.backend import SimulatedBackend
from sbtop.demo.render_api import API_KEY
from sbtop.recording.writer import Recorder, RecordingError
from tests.cli import run_sbtop
from tests.control_plane import render_config, render_env, serving
from tests.recordings import write_recording

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow

PRECIOUS = b"someone's file, not sbtop's\n"
ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="needs root, to act as other users")
OTHER, ALICE, BOB, TEAM = 4242, 4201, 4202, 4200  # uids and a gid no one else uses


@pytest.fixture
def backend() -> Iterator[SimulatedBackend]:
    with serving(rps=100, build_s=0.2) as b:
        yield b


def config_file(path: Path, b: SimulatedBackend) -> Path:
    # Readable by others: the team's test runs sbtop as other users.
    return render_config(path, b, memory_limit_mb=None, mode=0o644)


def setup(tmp_path: Path, b: SimulatedBackend) -> tuple[Path, dict[str, str], Path]:
    state = tmp_path / "state"
    return config_file(tmp_path / "c.toml", b), render_env(state), state


def refused(r: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 3, and standard error one line starting 'sbtop: ' with every word in it."""
    assert r.returncode == 3, r.stdout + r.stderr
    # The config is readable by others (the team test needs that): that warning aside, one
    # line says why nothing was done.
    lines = [x for x in r.stderr.strip().splitlines() if "readable by other users" not in x]
    assert len(lines) == 1 and lines[0].startswith("sbtop: "), r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


# --- the state directory: links ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["lock-demo", "audit.jsonl", "state-demo.json"])
@pytest.mark.parametrize("dangling", [False, True], ids=["to-a-file", "dangling"])
def test_a_link_in_the_state_directory_is_refused_and_what_it_points_at_is_untouched(
        tmp_path: Path, backend: SimulatedBackend, name: str, dangling: bool) -> None:
    cfg, env, state = setup(tmp_path, backend)
    state.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    if not dangling:
        victim.write_bytes(PRECIOUS)
    (state / name).symlink_to(victim)
    r = run_sbtop("restart", "--dry-run", "--config", str(cfg), env=env)
    refused(r, f"{state / name}: a symbolic link")
    if dangling:
        assert not victim.exists()  # not created through the link
    else:
        assert victim.read_bytes() == PRECIOUS
    assert backend.restarts == 0


def test_the_state_is_never_written_through_a_link_at_its_temporary_name(
        tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(PRECIOUS)
    # The temporary file's name was state-<target>.json.<pid>.tmp: known in advance.
    planted = state / f"state-production.json.{os.getpid()}.tmp"
    planted.symlink_to(victim)
    store = StateStore(state, "production")
    store.save(TargetState(CanaryState(percent=5)))
    assert victim.read_bytes() == PRECIOUS
    assert store.load().canary.percent == 5
    # Nothing else left behind: the temporary file was renamed into place.
    assert sorted(p.name for p in state.iterdir()) == sorted(
        [planted.name, "state-production.json"])
    assert (state / "state-production.json").stat().st_mode & 0o777 == 0o600


# --- the state directory: who may write in it -------------------------------------------------

@pytest.mark.parametrize("mode, words", [
    (0o777, "writable by every user (mode 0777)"),
    (0o1777, "writable by every user (mode 1777)"),  # sticky, as /tmp: still others' to fill
    (0o770, "writable by group"),
])
def test_a_state_directory_others_can_write_in_is_refused_with_nothing_written(
        tmp_path: Path, backend: SimulatedBackend, mode: int, words: str) -> None:
    cfg, env, state = setup(tmp_path, backend)
    state.mkdir()
    state.chmod(mode)
    r = run_sbtop("restart", "--dry-run", "--config", str(cfg), env=env)
    refused(r, str(state), words, "chmod 700", "$SBTOP_STATE_GROUP")
    assert list(state.iterdir()) == []


def _foreign_dir(tmp_path: Path) -> tuple[Path, str]:
    """A directory of another user's, not writable by others: made so as root; else /."""
    if not ROOT:
        return Path("/"), "owned by root, not by you"
    d = tmp_path / "theirs"
    d.mkdir(mode=0o700)
    os.chown(d, OTHER, OTHER)
    return d, f"owned by uid {OTHER}, not by you"


def test_a_state_directory_of_another_user_is_refused(
        tmp_path: Path, backend: SimulatedBackend) -> None:
    cfg, env, _ = setup(tmp_path, backend)
    theirs, words = _foreign_dir(tmp_path)
    before = sorted(p.name for p in theirs.iterdir())
    r = run_sbtop("restart", "--dry-run", "--config", str(cfg), "--state-dir", str(theirs),
                  env=env)
    refused(r, words)
    assert sorted(p.name for p in theirs.iterdir()) == before


@needs_root
def test_a_link_of_another_user_naming_the_state_directory_is_refused(
        tmp_path: Path, backend: SimulatedBackend) -> None:
    cfg, env, _ = setup(tmp_path, backend)
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    link = tmp_path / "state-link"  # as planted in /tmp by someone else
    link.symlink_to(mine)
    os.lchown(link, OTHER, OTHER)
    r = run_sbtop("restart", "--dry-run", "--config", str(cfg), env={
        **env, "SBTOP_STATE_DIR": str(link)})
    refused(r, f"a symbolic link of uid {OTHER}'s")
    assert list(mine.iterdir()) == []


def test_verify_and_record_refuse_an_unsafe_state_directory_before_anything(
        tmp_path: Path, backend: SimulatedBackend) -> None:
    cfg, env, state = setup(tmp_path, backend)
    state.mkdir()
    state.chmod(0o777)
    r = run_sbtop("verify", "--config", str(cfg), "--window", "0.5", env=env)
    refused(r, "writable by every user")
    rec = tmp_path / "r.sbrec"
    r = run_sbtop("record", str(rec), "--for", "1", "--config", str(cfg), env=env)
    refused(r, "writable by every user")
    assert not rec.exists()


def test_the_console_offers_no_actions_on_an_unsafe_state_directory(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o777)
    demo = demo_target("http://127.0.0.1:9")
    controller, reason = build_controller(demo.actions, demo.identity, state)
    assert controller is None and "writable by every user" in reason
    assert list(state.iterdir()) == []


def test_the_state_directory_is_made_private_or_for_the_group_named(tmp_path: Path) -> None:
    assert prepare_dir(tmp_path / "a" / "mine") == 0o600
    assert (tmp_path / "a" / "mine").stat().st_mode & 0o7777 == 0o700
    group = grp.getgrgid(os.getgid()).gr_name  # a group the user is in, root or not
    shared = tmp_path / "team"
    assert prepare_dir(shared, group) == 0o660
    st = shared.stat()
    assert st.st_mode & 0o7777 == 0o2770 and st.st_gid == os.getgid()
    assert prepare_dir(tmp_path / "a" / "mine", group) == 0o600  # a private one stays usable
    with pytest.raises(StateDirError, match=r"\$SBTOP_STATE_GROUP: no group named 'no-such-gr"):
        prepare_dir(tmp_path / "b", "no-such-group")
    plain = tmp_path / "plain"
    plain.mkdir()
    plain.chmod(0o770)
    with pytest.raises(StateDirError, match=r"but no setgid bit.*chmod 2770"):
        prepare_dir(plain, group)


# --- a team's shared state directory: two users, one lock -------------------------------------

HOLD = """\
import sys
from pathlib import Path
from sbtop.actions.state import StateStore
with StateStore(Path(sys.argv[1]), "demo").locked("canary next"):
    print("held", flush=True)
    sys.stdin.read()
"""


def _python_for_others() -> str | None:
    """An interpreter other users can run: this one, unless it lives where only its owner can
    reach (a pyenv under /root); else the system's of the same version (given this one's
    packages in _env)."""
    def reachable(p: str) -> bool:
        real = Path(p).resolve()
        return all(os.stat(d).st_mode & 0o001 for d in [real, *real.parents])
    system = shutil.which(f"python{sys.version_info[0]}.{sys.version_info[1]}",
                          path="/usr/local/bin:/usr/bin:/bin")
    return next((p for p in (sys.executable, system) if p and reachable(p)), None)


PYTHON = _python_for_others()


def _env(name: str, home: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SBTOP_")}
    path = [str(Path(__file__).resolve().parents[1]), *site.getsitepackages()]
    return {**env, **extra, "USER": name, "LOGNAME": name, "HOME": str(home),
            "PYTHONPATH": os.pathsep.join(path)}


def as_user(uid: int, name: str, home: Path, env: dict[str, str], *args: str,
            groups: tuple[int, ...] = (TEAM,)) -> subprocess.CompletedProcess[str]:
    assert PYTHON is not None
    return subprocess.run([PYTHON, "-m", "sbtop", *args], check=False,
                          capture_output=True, text=True, env=_env(name, home, env), user=uid,
                          group=uid, extra_groups=list(groups), timeout=60)


@needs_root
@pytest.mark.skipif(PYTHON is None, reason="no Python that other users can run")
def test_two_engineers_share_one_state_directory_and_its_lock_keeps_them_apart(
        backend: SimulatedBackend) -> None:
    base = Path(tempfile.mkdtemp(prefix="sbtop-team-"))  # pytest's own is root's alone
    try:
        base.chmod(0o755)
        cfg = config_file(base / "c.toml", backend)
        state = base / "state"  # made by an admin, as the README says
        state.mkdir()
        os.chown(state, 0, TEAM)
        state.chmod(0o2770)
        env = {"SB_RENDER_KEY": API_KEY, "SBTOP_STATE_DIR": str(state),
               "SBTOP_STATE_GROUP": str(TEAM)}
        act = ("restart", "--yes", "--config", str(cfg))

        r = as_user(ALICE, "alice", base, env, *act)
        assert r.returncode == 0, r.stdout + r.stderr

        holder = subprocess.Popen([PYTHON, "-c", HOLD, str(state)], text=True,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  env=_env("alice", base, env), user=ALICE, group=ALICE,
                                  extra_groups=[TEAM])
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "held\n"
            r = as_user(BOB, "bob", base, env, *act)
            assert r.returncode == 1, r.stdout + r.stderr
            assert "another sbtop is acting on demo" in r.stdout
            assert f'"pid": {holder.pid}' in r.stdout
            assert backend.restarts == 1
        finally:
            assert holder.stdin is not None
            holder.stdin.close()
            holder.wait(10)
        r = as_user(BOB, "bob", base, env, *act)
        assert r.returncode == 0, r.stdout + r.stderr
        assert backend.restarts == 2

        for name in ("lock-demo", "state-demo.json", "audit.jsonl"):
            f = (state / name).stat()
            assert (f.st_gid, f.st_mode & 0o777) == (TEAM, 0o660), name
        assert (state / "state-demo.json").stat().st_uid == BOB  # replaced by bob's save
        entries = (state / "audit.jsonl").read_text().splitlines()
        assert any('"user": "alice"' in e and '"ok": true' in e for e in entries)
        assert any('"user": "bob"' in e and "another sbtop" in e for e in entries)
        assert any('"user": "bob"' in e and '"ok": true' in e for e in entries)

        # Not in the group: one line, nothing read or written.
        r = as_user(4203, "eve", base, env, *act, groups=())
        refused(r, "Permission denied")
        assert backend.restarts == 2
    finally:
        shutil.rmtree(base, ignore_errors=True)


# --- recordings and timeline -o ---------------------------------------------------------------

@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rec") / "incident.sbrec"
    write_recording(path, ticks=6, step=1.0)
    return path


@pytest.fixture
def rec(tmp_path: Path, made: Path) -> Path:
    path = tmp_path / "incident.sbrec"
    shutil.copyfile(made, path)
    return path


def test_timeline_onto_its_own_recording_is_refused_and_the_recording_kept(rec: Path) -> None:
    kept = rec.read_bytes()
    r = run_sbtop("timeline", str(rec), "-o", str(rec))
    refused(r, f"{rec} exists; not overwriting it (--force replaces it)")
    assert rec.read_bytes() == kept
    r = run_sbtop("timeline", str(rec), "-o", str(rec), "--force")
    refused(r, "a recording", "never written over, even with --force")
    assert rec.read_bytes() == kept
    other = rec.with_name("other.sbrec")  # another recording, a hard link to this one
    os.link(rec, other)
    r = run_sbtop("timeline", str(rec), "-o", str(other), "--force")
    refused(r, "a recording")
    assert rec.read_bytes() == kept
    assert run_sbtop("timeline", str(rec)).returncode == 0


def test_timeline_replaces_an_existing_file_only_with_force(rec: Path) -> None:
    expected = run_sbtop("timeline", str(rec)).stdout
    assert expected.startswith("#")
    out = rec.with_name("incident.md")
    out.write_text("notes kept from before\n")
    r = run_sbtop("timeline", str(rec), "-o", str(out))
    refused(r, "exists; not overwriting it")
    assert out.read_text() == "notes kept from before\n"
    r = run_sbtop("timeline", str(rec), "-o", str(out), "--force")
    assert r.returncode == 0, r.stderr
    same = sorted(expected.splitlines())  # (rows of equal time may come in either order)
    assert sorted(out.read_text().splitlines()) == same
    new = rec.with_name("new.md")
    assert run_sbtop("timeline", str(rec), "-o", str(new)).returncode == 0
    assert sorted(new.read_text().splitlines()) == same


@pytest.mark.parametrize("dangling", [False, True], ids=["to-a-file", "dangling"])
def test_timeline_never_writes_through_a_link(rec: Path, dangling: bool) -> None:
    victim = rec.with_name("victim.txt")
    if not dangling:
        victim.write_bytes(PRECIOUS)
    link = rec.with_name("incident.md")
    link.symlink_to(victim)
    r = run_sbtop("timeline", str(rec), "-o", str(link))
    refused(r, "exists; not overwriting it")
    r = run_sbtop("timeline", str(rec), "-o", str(link), "--force")
    refused(r, f"{link}: a symbolic link; not writing through it")
    if dangling:
        assert not victim.exists()
    else:
        assert victim.read_bytes() == PRECIOUS


def test_a_recording_is_never_begun_through_a_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    link = tmp_path / "r.sbrec"
    link.symlink_to(victim)  # dangling: opening it to create would create the victim
    with pytest.raises(RecordingError, match="exists; not overwriting"):
        Recorder(link, {})
    assert not victim.exists()
    old = os.umask(0)
    try:
        path = tmp_path / "new.sbrec"
        Recorder(path, {}).close()
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o600
