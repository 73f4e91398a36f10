"""The garbage collector held off over a console's start, until its first full screen.

A console's start makes a few hundred thousand objects that live on (its modules, widgets and
their styles) and hardly any garbage: the collector walked them again and again, about a
seventh of the time to the first frame. `sbtop` holds it before importing the console and the
console lets it go once its first full screen is drawn (or the command ends first). Only a
hold taken here is let go: a collector someone else turned off stays off.
"""

from __future__ import annotations

import gc

_held: set[str] = set()  # "held" while this module holds the collector off


def hold() -> None:
    if gc.isenabled():
        gc.disable()
        _held.add("held")


def release() -> None:
    if "held" in _held:
        _held.discard("held")
        gc.enable()
