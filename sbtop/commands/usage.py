"""How a command refuses: one line on stderr and the monitoring-plugin 'unknown' exit code."""

from __future__ import annotations

EXIT_UNKNOWN = 3


class UsageError(Exception):
    """A mistake in what the command was asked (an option, the config, a file): said in one
    line, `sbtop: ...`, and the command exits 3."""
