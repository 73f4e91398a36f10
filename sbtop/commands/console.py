"""`sbtop` with no subcommand: the console on the target. Also what `demo` and `replay` share
with it: the console options, the checks made before a console starts, and starting one."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sbtop.commands import Command
from sbtop.commands.loading import ConfigFile
from sbtop.commands.targets import TargetOptions, resolve_target
from sbtop.commands.usage import UsageError

if TYPE_CHECKING:
    from sbtop.wiring import Wiring


@dataclass(frozen=True)
class ConsoleOptions:
    """The console group: each, when given, over the config's ui settings."""

    theme: str | None = None
    refresh_s: float | None = None
    read_only: bool = False
    state_dir: str | None = None
    record: str | None = None  # also write a recording here

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ConsoleOptions:
        return cls(args.theme, args.refresh, bool(args.read_only), args.state_dir, args.record)


@dataclass(frozen=True)
class ConsoleCommandOptions:
    target: TargetOptions
    console: ConsoleOptions

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ConsoleCommandOptions:
        return cls(TargetOptions.from_args(args), ConsoleOptions.from_args(args))


def run(opts: ConsoleCommandOptions, config: ConfigFile) -> int:
    wiring = resolve_target(config.load(), opts.target)
    console_ready(opts.console.theme, wiring.console.theme)
    return start_console(wiring, opts.console)


def start_console(wiring: Wiring, opts: ConsoleOptions, state_dir: Path | None = None,
                  notes: tuple[str, ...] = ()) -> int:
    """The console on the target: the command line's options over the config's ui; `notes`
    are said once at start."""
    from sbtop.actions.state import default_state_dir
    from sbtop.console.app import run as run_console

    ui = wiring.console
    return run_console(wiring, theme=opts.theme or ui.theme,
                       refresh_s=opts.refresh_s or ui.refresh_s,
                       history_s=ui.history_s,
                       read_only=opts.read_only or ui.read_only,
                       state_dir=state_dir or default_state_dir(opts.state_dir),
                       record=opts.record, notes=notes)


def console_ready(theme_option: str | None, config_theme: str | None) -> None:
    """Refuse, in one line and before anything starts, a console that would start wrong: in a
    theme that does not exist (it would open in another, with a notice gone in seconds), or
    without a terminal (it would write escape codes into a file or a pipe for ever)."""
    import os

    theme, where = ((theme_option, "--theme") if theme_option
                    else (config_theme, "ui.theme"))
    if theme is not None:
        from sbtop.console.themes import theme_problem

        problem = theme_problem(theme)
        if problem:
            raise UsageError(f"{where}: {problem}")
    for fd, stream in ((1, "stdout"), (0, "stdin"), (2, "stderr")):
        if not os.isatty(fd):
            raise UsageError(f"the console needs a terminal, and its {stream} is not one (for "
                             "text, use sbtop check; to collect unattended, sbtop record)")


COMMAND = Command(ConsoleCommandOptions.from_args, run)
