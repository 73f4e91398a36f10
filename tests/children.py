"""Processes a test starts die with the test process, even when pytest itself is killed: they
are started under `setpriv --pdeathsig TERM` (util-linux), so the kernel sends them SIGTERM
when their parent goes and no server or load generator is left running on the machine."""

from __future__ import annotations

import shutil

SETPRIV = shutil.which("setpriv")


def with_parent(argv: list[str]) -> list[str]:
    """`argv`, to die with this process (as it is, where setpriv is missing)."""
    return [SETPRIV, "--pdeathsig", "TERM", "--", *argv] if SETPRIV else argv
