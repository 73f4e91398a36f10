"""`sbtop record`: every tick to a file, without the console, until --for runs out or a
signal."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from sbtop.commands import Command
from sbtop.commands.loading import ConfigFile
from sbtop.commands.targets import TargetOptions, target_for
from sbtop.commands.usage import UsageError


@dataclass(frozen=True)
class RecordOptions:
    target: TargetOptions
    file: Path
    for_s: float | None  # None: until stopped
    refresh_s: float | None  # None: ui.refresh_s (1 s for the demo)
    max_mb: float
    state_dir: str | None  # where the canary's state is read
    demo: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RecordOptions:
        return cls(TargetOptions.from_args(args), Path(args.file), args.for_s, args.refresh,
                   args.max_mb, args.state_dir, args.demo)


def run(opts: RecordOptions, config: ConfigFile) -> int:
    import asyncio

    from sbtop import record
    from sbtop.actions.state import StateDirError, StateStore, default_state_dir
    from sbtop.recording.writer import RecordingError

    with target_for(config, opts.target, opts.demo) as (wiring, demo):
        refresh = opts.refresh_s or (1.0 if demo else wiring.console.refresh_s)
        path = opts.file
        # The canary is recorded only where there is one: a target with a provider. A state
        # directory others can write in is refused before the recording is begun.
        state_dir = (default_state_dir(opts.state_dir)
                     if not demo and wiring.actions is not None else None)
        try:
            if state_dir is not None:
                StateStore(state_dir, wiring.name).check()
        except StateDirError as e:
            raise UsageError(str(e)) from None
        print(f"sbtop: recording {wiring.name} every {refresh:g}s to {path}"
              + (f" for {opts.for_s:g}s" if opts.for_s else " until Ctrl-C"), file=sys.stderr)
        try:
            summary = asyncio.run(record.run(
                wiring, path, for_s=opts.for_s, refresh_s=refresh,
                max_bytes=int(opts.max_mb * 1024 * 1024), state_dir=state_dir))
        except (RecordingError, StateDirError) as e:
            raise UsageError(str(e)) from None
    print(summary.text(path))
    return 0


COMMAND = Command(RecordOptions.from_args, run)
