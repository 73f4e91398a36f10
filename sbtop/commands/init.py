"""`sbtop init`: a commented starter config, never over an existing file without --force."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from sbtop.commands import Command
from sbtop.commands.loading import ConfigFile
from sbtop.commands.usage import UsageError


@dataclass(frozen=True)
class InitOptions:
    path: Path | None  # None: the XDG config path
    force: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> InitOptions:
        return cls(Path(args.path) if args.path else None, args.force)


def run(opts: InitOptions, config: ConfigFile) -> int:
    """The config is not read: this writes one."""
    from sbtop import starter
    from sbtop.config import ConfigError, default_path

    path = opts.path or default_path()
    try:
        starter.write(path, opts.force)
    except ConfigError as e:
        raise UsageError(str(e)) from None
    print(f"wrote {path}")
    return 0


COMMAND = Command(InitOptions.from_args, run)
