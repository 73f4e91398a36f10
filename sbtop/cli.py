"""The command line's entry point: parse, pick the subcommand's module in sbtop.commands, run
it with the run's config file, and turn what goes wrong into one line and an exit code.

Headless commands import only what they use: `sbtop check --help` must answer at once on a slow
jump box, so httpx, prometheus_client and Textual load lazily (in the commands' `run`)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sbtop import gc_hold
from sbtop.commands.loading import ConfigFile
from sbtop.commands.parser import build_parser
from sbtop.commands.usage import EXIT_UNKNOWN, UsageError

if TYPE_CHECKING:
    from sbtop.commands import Command

__all__ = ["EXIT_UNKNOWN", "UsageError", "build_parser", "main"]

# Each subcommand's module in sbtop.commands (None: `sbtop` alone, the console).
_MODULES: dict[str | None, str] = {
    None: "console",
    "check": "check",
    "verify": "verify",
    "record": "record",
    "replay": "replay",
    "timeline": "timeline",
    "canary": "actions",
    "restart": "actions",
    "rollback": "actions",
    "plan": "plan",
    "rules": "rules",
    "init": "init",
    "demo": "demo",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _guard_streams(args.command)
    if args.command in _CONSOLES and not getattr(args, "serve", False):
        gc_hold.hold()  # until the console's first full screen (sbtop.gc_hold)
    try:
        code = _run(args)
        sys.stdout.flush()  # here, where a failure can still be said, not at exit
        return code
    except KeyboardInterrupt:
        return 130
    except UsageError as e:
        print(f"sbtop: {e}", file=sys.stderr)
        return EXIT_UNKNOWN
    except BrokenPipeError:  # `sbtop check --json | head -1`: the reader left; not an error
        _stdout_to_devnull()
        return EXIT_UNKNOWN
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EIO, errno.EPIPE):
            raise
        # The output could not be written (`> /dev/full`, a full disk): one line, and the
        # monitoring-plugin "unknown", never a traceback or a reassuring 0.
        _stdout_to_devnull()
        print(f"sbtop: cannot write the output: {e.strerror}", file=sys.stderr)
        return EXIT_UNKNOWN
    finally:
        gc_hold.release()


def _run(args: argparse.Namespace) -> int:
    """The subcommand, its module imported only now (what it needs loads with it), given its
    typed options and the config file, which it reads at most once."""
    module = importlib.import_module(f"sbtop.commands.{_MODULES[args.command]}")
    command: Command[Any] = module.COMMAND
    # The top-level parser gives --config a default, so it is there whatever the subcommand.
    return command.run(command.options(args), ConfigFile(args.config))


def _stdout_to_devnull() -> None:
    """What is left in stdout's buffer goes nowhere: flushing it again at exit would fail
    again, with Python's own 'Exception ignored' message."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):
        os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


# Commands whose stdout is the console's terminal, written by Textual.
_CONSOLES = (None, "demo", "replay")


def _guard_streams(command: str | None) -> None:
    """The text faces' stdout and stderr show any control character left in what they print
    as an escape (sbtop.untrusted): the last line of defence, behind the boundary where
    outside text enters. The console's stdout is Textual's own, and stays untouched."""
    from sbtop.untrusted import TerminalGuard

    if not isinstance(sys.stderr, TerminalGuard):
        sys.stderr = TerminalGuard(sys.stderr)
    if command not in _CONSOLES and not isinstance(sys.stdout, TerminalGuard):
        sys.stdout = TerminalGuard(sys.stdout)

