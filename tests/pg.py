"""A real PostgreSQL for the tests: $SBTOP_TEST_DSN, else the local server on 127.0.0.1:5432,
else a throwaway cluster started from the machine's PostgreSQL binaries (as an unprivileged
user when run as root). When none of these works, the tests fail saying what to install."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg

LOCAL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _reachable(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def _bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Cluster:
    """A throwaway PostgreSQL cluster in a temporary directory."""

    def __init__(self, max_connections: int = 100, preload: str = "",
                 settings: dict[str, str] | None = None) -> None:
        """`preload`: shared_preload_libraries (e.g. 'pg_stat_statements', which the machine's
        own server does not load); `settings`: more server settings (name: value)."""
        initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError("no PostgreSQL server binaries: apt-get install postgresql")
        self.dir = Path(tempfile.mkdtemp(prefix="sbtop-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.user: str | None = None
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root.
            self.user = "nobody"
            shutil.chown(self.dir, user=self.user)
            self.dir.chmod(0o755)
        self._run([initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync"])
        opts = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories="
                f"{self.dir} -c max_connections={max_connections} -c fsync=off")
        if preload:
            opts += f" -c shared_preload_libraries={preload}"
        for name, value in (settings or {}).items():
            opts += f" -c {name}={value}"
        self.pg_ctl = pg_ctl
        # The free port is released before the server binds it: another worker's server may
        # take it in between, so a start that finds it taken tries again on another.
        for attempt in range(5):
            try:
                self._run([pg_ctl, "-D", str(self.data), "-o", opts, "-l",
                           str(self.dir / "log"), "-w", "-t", "30", "start"])
                break
            except subprocess.CalledProcessError:
                log = (self.dir / "log").read_text(errors="replace")
                if attempt == 4 or "Address already in use" not in log:
                    raise
                taken = self.port
                self.port = _free_port()
                opts = opts.replace(f"-c port={taken} ", f"-c port={self.port} ")
                (self.dir / "log").write_text("")
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, argv: list[str]) -> None:
        if self.user:
            argv = ["runuser", "-u", self.user, "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, cwd="/")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def server_dsn() -> Iterator[str]:
    env = os.environ.get("SBTOP_TEST_DSN")
    if env:
        yield env
        return
    if _reachable(LOCAL):
        yield LOCAL
        return
    try:
        cluster = Cluster()
    except (RuntimeError, subprocess.CalledProcessError, KeyError, OSError) as e:
        raise RuntimeError(
            "no PostgreSQL for the tests: set SBTOP_TEST_DSN, start the local server "
            "(pg_ctlcluster --skip-systemctl-redirect 15 main start), or install the server "
            f"binaries (apt-get install postgresql): {e}") from None
    try:
        yield cluster.dsn
    finally:
        cluster.stop()


def with_database(dsn: str, name: str) -> str:
    return psycopg.conninfo.make_conninfo(dsn, dbname=name)


@contextlib.contextmanager
def fresh_database(server: str) -> Iterator[str]:
    """A new database for one test, dropped afterwards (with whatever sessions remain)."""
    name = f"sbtop_t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server, name)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
            for _ in range(50):
                try:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
                    break
                except psycopg.errors.ObjectInUse:
                    time.sleep(0.1)
