"""`sbtop replay`: the console on a recording: play, pause, seek, speeds."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from sbtop.commands import Command
from sbtop.commands.console import console_ready
from sbtop.commands.loading import ConfigFile
from sbtop.commands.recordings import open_recording


@dataclass(frozen=True)
class ReplayOptions:
    file: str
    speed: int  # times real time
    theme: str | None  # None: ui.theme

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ReplayOptions:
        return cls(args.file, args.speed, args.theme)


def run(opts: ReplayOptions, config: ConfigFile) -> int:
    from sbtop.console.replay import run_replay

    rec = open_recording(opts.file, ticks=True)
    try:
        # Only the theme comes from the config: a broken file is said, and the default used.
        config_theme = config.ui_or_defaults().theme if opts.theme is None else None
        console_ready(opts.theme, config_theme)
    except BaseException:
        rec.close()
        raise
    return run_replay(rec, theme=opts.theme or config_theme, speed=opts.speed)


COMMAND = Command(ReplayOptions.from_args, run)
