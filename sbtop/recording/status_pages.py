"""The providers' status pages in a recording: each page as last polled (its last good answer,
when it came, the latest attempt and why it failed), written on a tick line as "p" when a
poll changed something and with every whole snapshot, as the canary's "c" is. A replay shows
them as they were at the tick shown, judged at that tick's time (an answer old then is shown
old); the timeline lists when a page changed state.

A page's URL is not written (a recording travels into incident reviews; its name says which
provider). Recordings from before status pages have no "p": they show no pages.
"""

from __future__ import annotations

import math
from typing import Any

from sbtop.engine.status_pages import PageReading, PageState, PageStatus
from sbtop.engine.wellformed import Malformed, shown
from sbtop.recording import checks

MAX_PAGES = 50  # pages in one "p" (a config names a handful)
MAX_AFFECTED = 20


def encode(pages: tuple[PageStatus, ...]) -> list[dict[str, Any]]:
    """The pages for a tick line (text already made safe when it was read)."""
    return [_page(p) for p in pages]


def _page(p: PageStatus) -> dict[str, Any]:
    r = p.reading
    out: dict[str, Any] = {"name": p.name, "answered": p.answered_wall,
                           "checked": p.checked_wall, "error": p.error,
                           "stale_after_s": (p.stale_after_s if math.isfinite(p.stale_after_s)
                                             else None)}
    if r is not None:
        out["reading"] = {"state": r.state.value, "indicator": r.indicator,
                          "description": r.description, "incident": r.incident,
                          "incident_url": r.incident_url, "affected": list(r.affected)}
    return out


def decode(value: Any) -> tuple[PageStatus, ...]:
    """A tick line's "p", checked as sbtop writes it (Malformed, saying what, when not)."""
    if not isinstance(value, list):
        raise Malformed(f"p is {shown(value)}, not a list")
    if len(value) > MAX_PAGES:
        raise Malformed(f"p lists {len(value)} pages, over {MAX_PAGES}")
    return tuple(_decode_page(v, i) for i, v in enumerate(value))


def _decode_page(v: Any, i: int) -> PageStatus:
    where = f"p[{i}]"
    if not isinstance(v, dict):
        raise Malformed(f"{where} is {shown(v)}, not an object")
    name = _text(v.get("name"), f"{where}.name")
    if name is None:
        raise Malformed(f"{where}.name is missing")
    answered = _time(v.get("answered"), f"{where}.answered")
    checked = _time(v.get("checked"), f"{where}.checked")
    stale = v.get("stale_after_s")
    if stale is not None and (isinstance(stale, bool) or not isinstance(stale, int | float)
                              or not 0 < stale < math.inf):
        raise Malformed(f"{where}.stale_after_s is {shown(stale)}, not seconds")
    reading = _reading(v["reading"], f"{where}.reading") if "reading" in v else None
    if reading is not None and answered is None:
        raise Malformed(f"{where} has a reading but no time it was answered")
    return PageStatus(name, "", reading, answered, checked,
                      _text(v.get("error"), f"{where}.error"),
                      float(stale) if stale is not None else math.inf)


def _reading(v: Any, where: str) -> PageReading:
    if not isinstance(v, dict):
        raise Malformed(f"{where} is {shown(v)}, not an object")
    try:
        state = PageState(v.get("state"))
    except ValueError:
        raise Malformed(f"{where}.state is {shown(v.get('state'))}, not a page's state"
                        ) from None
    affected = v.get("affected", [])
    if not isinstance(affected, list) or len(affected) > MAX_AFFECTED or not all(
            isinstance(a, str) for a in affected):
        raise Malformed(f"{where}.affected is {shown(affected)}, not a list of names")
    return PageReading(state, _text(v.get("indicator"), f"{where}.indicator") or "",
                       _text(v.get("description"), f"{where}.description") or "",
                       _text(v.get("incident"), f"{where}.incident"),
                       _text(v.get("incident_url"), f"{where}.incident_url"),
                       tuple(affected))


def _text(v: Any, where: str) -> str | None:
    if v is not None and not isinstance(v, str):
        raise Malformed(f"{where} is {shown(v)}, not text")
    return v


def _time(v: Any, where: str) -> float | None:
    return None if v is None else checks.time(v, where)
