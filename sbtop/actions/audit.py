"""The audit log: one JSON line per action, dry run or refusal, appended, flushed and fsynced,
never rewritten. A line is written whole with one write(2) on a file opened O_APPEND, so a
crash mid-action leaves complete lines only (at worst the 'started' line without its result).
It lives in the state directory, checked and opened as the state is (sbtop.actions.state)."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from sbtop import untrusted
from sbtop.actions.state import StateDirError, open_file, prepare_dir, shared_group


def user() -> str:
    """Who runs sbtop, by the OS (a uid when it has no name)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file_mode: int | None = None

    def _open(self, flags: int) -> int:
        if self._file_mode is None:
            self._file_mode = prepare_dir(self.path.parent, shared_group())
        return open_file(self.path, flags, self._file_mode)

    def _append_fd(self, create: bool = True) -> int:
        try:
            return self._open(os.O_WRONLY | os.O_APPEND | (os.O_CREAT if create else 0))
        except FileNotFoundError:
            raise
        except OSError as e:
            raise StateDirError(f"{self.path}: cannot append to the audit log: {e.strerror}"
                                ) from None

    def check(self) -> None:
        """Before anything is planned: the log can be appended to (no link where it goes, no
        directory others can write in); StateDirError says why not."""
        with contextlib.suppress(FileNotFoundError):
            os.close(self._append_fd(create=False))

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "user": user(),
            "host": socket.gethostname(),
            **record,
        }
        line = (json.dumps(entry, sort_keys=False, default=str) + "\n").encode()
        fd = self._append_fd()
        try:
            os.write(fd, line)
            os.fsync(fd)
        except OSError as e:  # a full disk: the action is not to go unrecorded, nor crash
            raise StateDirError(f"{self.path}: cannot write the audit log: {e.strerror}"
                                ) from None
        finally:
            os.close(fd)
        return entry

    def read(self) -> list[dict[str, Any]]:
        """Every complete entry (a torn last line, if any, is skipped)."""
        try:
            with os.fdopen(self._open(os.O_RDONLY), "rb") as f:
                text = f.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return []
        out = []
        for raw in text.splitlines():
            try:
                entry = untrusted.deep(json.loads(raw))  # a team's log: anyone's text
            except (ValueError, RecursionError):
                continue
            if isinstance(entry, dict):
                out.append(entry)
        return out
