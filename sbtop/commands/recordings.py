"""A recording opened for `timeline` or `replay`, or one line saying why not."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sbtop.commands.usage import UsageError

if TYPE_CHECKING:
    from sbtop.recording.reader import Recording


def open_recording(name: str, *, whole: bool = False, ticks: bool = False) -> Recording:
    """The recording, or one line and exit 3. With `whole`, a line in it that sbtop did not
    write that way refuses it too: a postmortem's timeline is not made from a damaged file.
    With `ticks`, a recording with no tick to show."""
    from sbtop.recording.reader import Recording
    from sbtop.recording.writer import RecordingError

    try:
        rec = Recording(Path(name))
    except RecordingError as e:
        raise UsageError(str(e)) from None
    if whole and rec.malformed:
        rec.close()
        raise UsageError(f"{name}: {rec.malformed}: no timeline is made from a damaged "
                         "recording (sbtop replay plays what is readable)")
    if ticks and not len(rec):
        rec.close()
        raise UsageError(f"{name}: the recording holds no ticks"
                         + (f" that can be read ({rec.problem})" if rec.problem else ""))
    if rec.problem:
        print(f"sbtop: note: {name}: {rec.problem}", file=sys.stderr)
    return rec
