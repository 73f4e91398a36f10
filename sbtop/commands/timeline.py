"""`sbtop timeline`: a Markdown incident timeline from a recording."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from sbtop.commands import Command
from sbtop.commands.loading import ConfigFile
from sbtop.commands.recordings import open_recording
from sbtop.commands.usage import UsageError


@dataclass(frozen=True)
class TimelineOptions:
    file: str
    output: Path | None  # None: standard output
    force: bool  # replace an existing output file

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> TimelineOptions:
        return cls(args.file, Path(args.output) if args.output else None, args.force)


def run(opts: TimelineOptions, config: ConfigFile) -> int:
    """The config is not read: a timeline is made from the recording alone."""
    from sbtop.recording.timeline import markdown
    from sbtop.recording.writer import RecordingError, write_output

    with open_recording(opts.file, whole=True) as rec:
        try:
            text = markdown(rec)
        except RecordingError as e:  # the file changed while it was read
            raise UsageError(str(e)) from None
    if opts.output is not None:
        try:
            write_output(opts.output, text, force=opts.force)
        except RecordingError as e:
            raise UsageError(str(e)) from None
    else:
        print(text, end="")
    return 0


COMMAND = Command(TimelineOptions.from_args, run)
