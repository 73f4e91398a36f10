"""The terminal's own notifications as bytes: the bell, OSC 777 and OSC 9, wrapped for tmux.

They travel inside the same stream as the screen, so over SSH they reach the engineer's own
terminal (and desktop). Their text comes partly from outside (alert summaries from Prometheus,
an action's answer): anything that could end the sequence early or start another (ESC, BEL, C0,
C1, DEL), reorder what is shown (bidi controls) or split OSC 777's fields (`;`) is taken out,
and the length is bounded, before a byte of it is written."""

from __future__ import annotations

import unicodedata

from sbtop.engine.transitions import Event

ESC = "\x1b"
BEL = "\x07"
TITLE_MAX = 60
BODY_MAX = 200


def clean(text: str, limit: int) -> str:
    """Printable text only, on one line, without `;`, at most `limit` characters."""
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in "\t\n\r" or cat in ("Zl", "Zp"):
            out.append(" ")
        elif cat.startswith("C"):
            # Cc (C0, DEL, C1), Cf (the bidi controls, zero-width joiners), Cs, Co, Cn:
            # none has a place in a notification.
            continue
        elif ch == ";":
            out.append(",")  # OSC 777 splits title and body at `;`; ConEmu reads `9;N;`
        else:
            out.append(ch)
    text = " ".join("".join(out).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def osc777(title: str, body: str) -> str:
    return f"{ESC}]777;notify;{clean(title, TITLE_MAX)};{clean(body, BODY_MAX)}{BEL}"


def osc9(title: str, body: str) -> str:
    # One field only: the title leads the body.
    text = clean(title, TITLE_MAX) + (f": {clean(body, BODY_MAX)}" if body else "")
    return f"{ESC}]9;{text}{BEL}"


def tmux_passthrough(seq: str) -> str:
    """Inside tmux an OSC reaches the outer terminal only through DCS passthrough, every ESC
    in it doubled (and tmux 3.3+ needs `set -g allow-passthrough on`)."""
    return f"{ESC}Ptmux;{seq.replace(ESC, ESC + ESC)}{ESC}\\"


def sequences(event: Event, *, bell: bool, desktop: tuple[str, ...], tmux: bool) -> str:
    """What to write for `event`: the bell (plain: tmux has its own bell handling) and each
    desktop notification asked for."""
    out = BEL if bell else ""
    for kind in desktop:
        seq = osc777(event.title, event.body) if kind == "777" else osc9(event.title, event.body)
        out += tmux_passthrough(seq) if tmux else seq
    return out
