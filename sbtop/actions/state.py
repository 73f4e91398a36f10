"""What must survive an SSH drop: the canary step, when it began, the baseline, the action in
flight. One JSON file per target in the state directory, replaced atomically (write, fsync,
rename); a lock file beside it keeps two sbtops from acting on one target at once.

The state directory is checked before any file in it is opened: it must be the user's alone,
or a team's shared one ($SBTOP_STATE_GROUP names the group; the directory is that group's,
setgid, not writable by others). Files in it are opened without following symbolic links and
must be regular files; temporary files get unguessable names, created O_EXCL."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import grp
import json
import os
import pwd
import socket
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import msgspec

from sbtop import untrusted


def default_state_dir(explicit: str | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("SBTOP_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "sbtop"


SHARED_GROUP_ENV = "SBTOP_STATE_GROUP"
PRIVATE_FILES, SHARED_FILES = 0o600, 0o660  # the mode of sbtop's files in the directory
_REMEDY = ("the state directory must be yours alone (chmod 700) or a team's "
           f"(${SHARED_GROUP_ENV} names the group; chmod 2770)")


class StateDirError(Exception):
    """The state directory, or a file in it, is not safe to use: one line saying why."""


def shared_group() -> str | None:
    """The team's group when the state directory is shared ($SBTOP_STATE_GROUP), else None."""
    return os.environ.get(SHARED_GROUP_ENV) or None


def prepare_dir(directory: Path, group: str | None = None) -> int:
    """Create the state directory (0700; 2770 and the group's when `group` is given) or check
    the one there, before any file in it is opened; the mode for sbtop's files in it.

    Anyone who can write in the directory can plant links or replace the lock and the state:
    so it must be the user's and writable by no one else, or, shared, belong to `group` (whose
    members are trusted alike) with the setgid bit, so that every file in it stays the group's
    and each engineer can open the others' lock, state and audit log."""
    gid = _gid(group) if group else None
    try:
        directory.mkdir(parents=True, mode=0o700)
    except FileExistsError:
        pass
    except OSError as e:
        raise StateDirError(f"{directory}: cannot make the state directory: {e.strerror}"
                            ) from None
    else:
        if gid is not None:
            try:
                os.chown(directory, -1, gid)
                os.chmod(directory, 0o2770)
            except OSError as e:  # removed: a private one would be used where shared was asked
                with contextlib.suppress(OSError):
                    directory.rmdir()
                raise StateDirError(f"{directory}: cannot give the state directory to group "
                                    f"{group}: {e.strerror}") from None
    return _check_dir(directory, gid)


def _check_dir(directory: Path, gid: int | None) -> int:
    try:
        link, st = os.lstat(directory), os.stat(directory)
    except OSError as e:
        raise StateDirError(f"{directory}: {e.strerror}") from None
    me = os.geteuid()
    # A link to it (in /tmp, say) is trusted only when it is the user's or an admin's: whoever
    # owns a link can replace it.
    if stat.S_ISLNK(link.st_mode) and link.st_uid not in (me, 0):
        raise StateDirError(f"{directory}: a symbolic link of {_user_name(link.st_uid)}'s; "
                            "sbtop follows a link to its state directory only when it is yours")
    if not stat.S_ISDIR(st.st_mode):
        raise StateDirError(f"{directory}: not a directory")
    mode = stat.S_IMODE(st.st_mode)
    if mode & stat.S_IWOTH:
        raise StateDirError(f"{directory}: writable by every user (mode {mode:04o}); {_REMEDY}")
    if gid is not None and st.st_gid == gid and mode & stat.S_ISGID:
        return SHARED_FILES
    if st.st_uid == me and not mode & stat.S_IWGRP:
        return PRIVATE_FILES
    if gid is not None and st.st_gid == gid:
        raise StateDirError(f"{directory}: group {_group_name(gid)} but no setgid bit (mode "
                            f"{mode:04o}); a shared state directory is mode 2770, so that every "
                            f"file in it stays the group's (chmod 2770 {directory})")
    if st.st_uid != me:
        raise StateDirError(f"{directory}: owned by {_user_name(st.st_uid)}, not by you; "
                            f"{_REMEDY}")
    raise StateDirError(f"{directory}: writable by group {_group_name(st.st_gid)} (mode "
                        f"{mode:04o}); {_REMEDY}")


def _gid(group: str) -> int:
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        if group.isdigit():
            return int(group)
        raise StateDirError(f"${SHARED_GROUP_ENV}: no group named {group!r}") from None


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid {gid}"


def open_file(path: Path, flags: int, mode: int) -> int:
    """A descriptor on a regular file in the state directory: never through a symbolic link
    (O_NOFOLLOW), never a FIFO or device left there (O_NONBLOCK: opening one cannot hang).
    A file of the user's gets `mode` whatever the umask, so a team's members can all open it.
    Other failures (FileNotFoundError, permission) are the caller's to word."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise StateDirError(f"{path}: a symbolic link; sbtop never follows links in its "
                                "state directory (remove it)") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise StateDirError(f"{path}: not a regular file (remove it)")
    if st.st_nlink > 1:  # a hard link to a file elsewhere: truncating it would reach there
        os.close(fd)
        raise StateDirError(f"{path}: has other hard links; sbtop writes only files of its "
                            "own in its state directory (remove it)")
    if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) != mode:
        os.fchmod(fd, mode)
    return fd


@dataclass
class CanaryState:
    percent: int | None = None  # as last read from the provider (None: never read)
    step_started_wall: float | None = None  # when the current step went live
    baseline: dict[str, float | None] = field(default_factory=dict)
    baseline_wall: float | None = None
    # Why the flag could not be read last time; then the step is unknown, not assumed.
    read_error: str | None = None


@dataclass
class TargetState:
    canary: CanaryState = field(default_factory=CanaryState)
    # The action running now, if any: {"action", "started_wall", "pid", "host"}.
    in_flight: dict[str, Any] | None = None
    # Deploys a rollback went back to: never a later rollback's target (it would go nowhere).
    rollback_skip: list[str] = field(default_factory=list)
    # The flag's value each of sbtop's canary steps deployed with (deploy id -> percent): a
    # rollback to one of them brings that value back, and its plan says so.
    deploy_flags: dict[str, int] = field(default_factory=dict)
    # The last canary abort: {"deploy", "from", "wall"}; a rollback from its deploy undoes it.
    last_abort: dict[str, Any] | None = None


KEEP_DEPLOY_FLAGS = 50  # the newest of them; a rollback goes back a few deploys, not fifty

# The state file's shape, field by field, as msgspec types: each field is checked alone, so a
# hand edit or a torn write loses that field (read as unknown, and named in `problem`), never
# the rest. Times are epoch seconds, finite and before the year 5000: NaN, Infinity or 1e300
# read as unknown, never as a soak of minus an eon. (The text is read by the stdlib's json,
# which takes NaN and Infinity as numbers: they reach these checks and are refused here.)
_Wall = Annotated[float, msgspec.Meta(ge=0, lt=1e11)]
_Percent = Annotated[int, msgspec.Meta(ge=0, le=100)]
_Figure = Annotated[float, msgspec.Meta(ge=0, le=sys.float_info.max)]  # finite, not negative
# In the order their problems are listed.
_CANARY_FIELDS: tuple[tuple[str, Any], ...] = (
    ("percent", _Percent | None),
    ("step_started_wall", _Wall | None),
    ("baseline_wall", _Wall | None),
    ("baseline", dict[str, _Figure | None] | None),
    ("read_error", str | None),
)


class _Abort(msgspec.Struct):
    """What a last abort must hold to be used (it is kept as the dict it is)."""

    deploy: str
    wall: _Wall


_STATE_FIELDS: tuple[tuple[str, Any], ...] = (
    ("in_flight", dict[str, Any] | None),
    ("rollback_skip", list[str] | None),
    ("deploy_flags", dict[str, _Percent] | None),
    ("last_abort", _Abort | None),
)


def _checked(table: dict[str, Any], shape: tuple[tuple[str, Any], ...],
             bad: list[str]) -> dict[str, Any]:
    """The fields of `table` that have their type; the names of those that do not go to
    `bad`."""
    out: dict[str, Any] = {}
    for name, kind in shape:
        try:
            out[name] = msgspec.convert(table.get(name), kind)
        except msgspec.ValidationError:
            bad.append(name)
    return out


def safe_name(name: str) -> str:
    """A target's name as it may stand in a file name (the state's, the lock's, the plan's)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


class StateStore:
    def __init__(self, directory: Path, target: str) -> None:
        self.dir = directory
        self.path = directory / f"state-{safe_name(target)}.json"
        self.lock_path = directory / f"lock-{safe_name(target)}"
        self.problem = ""
        self._file_mode: int | None = None

    def _ready(self) -> int:
        """The directory made or checked, once: the mode for the files in it."""
        if self._file_mode is None:
            self._file_mode = prepare_dir(self.dir, shared_group())
        return self._file_mode

    def check(self) -> None:
        """Before anything is planned: the directory is safe, and where the state and the lock
        go there is no link, nothing but a regular file (StateDirError says which)."""
        mode = self._ready()
        for path in (self.path, self.lock_path):
            try:
                os.close(open_file(path, os.O_RDONLY, mode))
            except FileNotFoundError:
                pass
            except OSError as e:
                raise StateDirError(f"{path}: cannot open: {e.strerror}") from None

    def load(self) -> TargetState:
        """The saved state; a field of the wrong type (a hand edit, a torn write) reads as
        unknown rather than stopping sbtop, and `problem` says what was dropped."""
        data, self.problem = read_record(self.path, self._ready())
        if data is None:
            return TargetState()
        found = data.get("canary")
        bad: list[str] = []
        canary = _checked(found if isinstance(found, dict) else {}, _CANARY_FIELDS, bad)
        top = {"in_flight": data.get("in_flight"), "last_abort": data.get("last_abort"),
               # Falsy is none: an empty list or table, or a hand edit's null or 0.
               "rollback_skip": data.get("rollback_skip") or None,
               "deploy_flags": data.get("deploy_flags") or None}
        got = _checked(top, _STATE_FIELDS, bad)
        if bad:
            self.problem = f"{self.path}: ignored {', '.join(bad)} (wrong type or value)"
        return TargetState(
            canary=CanaryState(**{k: v for k, v in canary.items() if v is not None}),
            in_flight=got.get("in_flight"), rollback_skip=got.get("rollback_skip") or [],
            deploy_flags=got.get("deploy_flags") or {},
            last_abort=data.get("last_abort") if got.get("last_abort") else None)

    def save(self, state: TargetState) -> None:
        mode = self._ready()
        if len(state.deploy_flags) > KEEP_DEPLOY_FLAGS:
            state.deploy_flags = dict(list(state.deploy_flags.items())[-KEEP_DEPLOY_FLAGS:])
        write_record(self.path, mode, asdict(state), "the state")

    @contextlib.contextmanager
    def locked(self, action: str) -> Iterator[None]:
        """Hold the target's lock for one action; LockedError names who holds it."""
        mode = self._ready()
        try:
            fd = open_file(self.lock_path, os.O_RDWR | os.O_CREAT, mode)
        except OSError as e:
            raise StateDirError(f"{self.lock_path}: cannot open the lock: {e.strerror}"
                                ) from None
        held = False
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                # Who holds it, as that sbtop wrote it: anyone who can write in a shared
                # directory could have written it instead, so it is outside text.
                holder = os.pread(fd, 4096, 0).decode(errors="replace").strip()
                raise LockedError(untrusted.line(holder or "another sbtop", 300)) from None
            held = True
            info = json.dumps({"action": action, "pid": os.getpid(),
                               "host": socket.gethostname(), "since": time.time()})
            # Who holds it only informs the next sbtop: a full disk must not stop the brake.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                os.pwrite(fd, info.encode(), 0)
            yield
        finally:
            if held:  # only the holder clears who holds it
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
            os.close(fd)  # closing releases the flock


class LockedError(Exception):
    """Another sbtop is acting on this target."""


def read_record(path: Path, mode: int) -> tuple[dict[str, Any] | None, str]:
    """A record sbtop wrote, read back (no link followed), every string in it made safe:
    anyone who can write in a team's directory could have written it. (None, why) when it
    is unreadable or not a JSON object; (None, "") when there is none."""
    try:
        with os.fdopen(open_file(path, os.O_RDONLY, mode), "rb") as f:
            data = untrusted.deep(json.loads(f.read().decode("utf-8")))
    except FileNotFoundError:
        return None, ""
    except (OSError, ValueError, RecursionError) as e:
        return None, f"{path}: unreadable ({type(e).__name__}); starting afresh"
    if not isinstance(data, dict):
        return None, f"{path}: not a JSON object; starting afresh"
    return data, ""


def write_record(path: Path, mode: int, data: Any, what: str, *, allow_nan: bool = True
                 ) -> None:
    """Written whole or not at all: an unguessable name created O_EXCL beside the file
    (nothing planted in the directory is written through), fsynced, then renamed over it
    (the rename replaces a link rather than following it)."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise StateDirError(f"{path.parent}: cannot save {what}: {e.strerror}") from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, allow_nan=allow_nan)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):  # a full disk, a read-only directory: one line
            raise StateDirError(f"{path}: cannot save {what}: {e.strerror}") from None
        raise
