"""The subcommands, one module each (check, verify, record, replay, timeline, actions for
canary / restart / rollback, rules, init, demo, console for the bare `sbtop`).

Each module holds a frozen dataclass of its options, built from argparse's namespace in one
place (`from_args`), and `run(options, config_file)`; `COMMAND` pairs the two for the
dispatcher in sbtop.cli. Modules import only the standard library at the top: what a command
needs (httpx, Textual, the config) is imported when it runs, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sbtop.commands.loading import ConfigFile

OptionsT = TypeVar("OptionsT")


@dataclass(frozen=True)
class Command(Generic[OptionsT]):
    """A subcommand: its typed options read from the namespace, and what it does with them
    and the run's config file (read at most once, by whichever part needs it first)."""

    options: Callable[[argparse.Namespace], OptionsT]
    run: Callable[[OptionsT, ConfigFile], int]
