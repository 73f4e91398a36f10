"""`sbtop timeline FILE`: a Markdown incident timeline from a recording, ready to paste into a
postmortem: threshold crossings, the overall level, alert state changes, sources going down
and coming back, canary steps and actions, the deploy window's phases, providers' status pages
changing state, process restarts with what followed them (the reconnect storm, the pool's
peak), each with its time, the time since the recording began and the value; then the worst
value of each judged figure and when it was seen, and per phase of the deploy window what the
figures did.

A figure's level change is written when the new level has held for SETTLE_TICKS ticks (a
figure that flickers across a threshold for one tick is noise in a postmortem), stamped with
the time it began. Alerts, sources, steps and actions are written as they happened.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any

from sbtop import format, untrusted
from sbtop.engine.history import RESTART_SAME_S
from sbtop.engine.keys import Fig
from sbtop.engine.levels import Level
from sbtop.engine.page_changes import PageWatch
from sbtop.engine.settings import TrendSettings
from sbtop.engine.trends import POOL_LABELS, aftermath, pool_key
from sbtop.recording import plan_events
from sbtop.recording.reader import Recording

SETTLE_TICKS = 3
# Rows listed at most: a postmortem reads dozens; a recording that flaps for days would
# otherwise make a timeline of gigabytes. The rows past it are counted, in a last row.
MAX_ROWS = 20_000


@dataclass(frozen=True, slots=True)
class Row:
    wall: float
    what: str
    value: str = ""


class _Rows(list[Row]):
    """The timeline's rows, up to MAX_ROWS; the rest only counted."""

    left_out = 0

    def append(self, row: Row) -> None:
        if len(self) < MAX_ROWS:
            super().append(row)
        else:
            self.left_out += 1


def rows(rec: Recording) -> list[Row]:
    out = _Rows()
    if not len(rec):
        return out
    # The recorded actions first: whatever the cap leaves out, it is never the deploys and
    # rollbacks a postmortem reads the timeline for (they are few; the ticks' rows are many).
    for ev in rec.events:
        out.append(Row(ev.wall, _event(ev.kind, ev.data),
                       plan_events.value(ev.data) if ev.kind == "plan" else ""))
    for row in page_rows(rec):  # few too: a page changes state a few times a day at most
        out.append(row)
    pending: dict[str, tuple[str, int, float, str]] = {}  # figure -> (level, since i, wall, value)
    shown_level: dict[str, str] = {}
    alerts: dict[str, str] = {}
    sources: dict[str, bool] = {}
    overall: str | None = None
    seen_known = False
    known: set[str] = set()  # figures that have had a known level
    canary_percent: Any = None
    restart_at: Any = None
    for i in range(len(rec)):
        e = rec.encoded(i)
        wall = rec.walls[i]
        restart = _restart_at(e)
        if restart is not None and restart != restart_at:
            # The new process seen just after sbtop's restart is that restart: one row.
            if restart_at is None or not 0 < restart - restart_at <= RESTART_SAME_S:
                who = " by sbtop's restart" if any(
                    ev.kind == "action" and ev.data.get("action") == "restart"
                    and ev.data.get("ok") and abs(ev.wall - restart) <= 1.0
                    for ev in rec.events) else ""
                out.append(Row(restart, f"process restarted{who}; "
                                        f"{_aftermath(rec, restart)}"))
            restart_at = restart
        level = str(e.get("level", "unknown"))
        if level != overall:
            # Unknown until the first window fills is the start, not news.
            if overall is not None and not (overall == "unknown" and not seen_known):
                out.append(Row(wall, f"overall level {_mark(overall)} -> {_mark(level)}"))
            overall = level
        seen_known = seen_known or level != "unknown"
        for key, f in (e.get("figures") or {}).items():
            if not f.get("judged"):
                continue
            lv = str(f.get("level", "unknown"))
            value = _value(key, f)
            if key not in shown_level or (shown_level[key] == "unknown"
                                          and key not in known):
                shown_level[key] = lv  # the first known level is where it starts
                if lv != "unknown":
                    known.add(key)
                continue
            if lv == shown_level[key]:
                pending.pop(key, None)
                continue
            held = pending.get(key)
            if held is None or held[0] != lv:
                pending[key] = held = (lv, i, wall, value)
            if i - held[1] + 1 >= SETTLE_TICKS:
                out.append(Row(held[2], _crossing(key, f, shown_level[key], lv), held[3]))
                shown_level[key] = lv
                known.add(key)
                pending.pop(key)
        listed = set()
        for al in e.get("alerts") or []:
            rule = al.get("rule") or {}
            name = str(rule.get("name", "?"))
            state = str(al.get("state", "?"))
            listed.add(name)
            if alerts.get(name) != state and not (name not in alerts and state == "inactive"):
                nodata = " (no data)" if al.get("no_data") else ""
                fig = (e.get("figures") or {}).get(str(rule.get("figure", "")), {})
                value = al.get("value")
                shown = (format.number(float(value), str(fig.get("unit", "")))
                         if isinstance(value, int | float) else "")
                out.append(Row(wall, f"alert {name} {state}{nodata}", shown))
            alerts[name] = state
        for name in [n for n in alerts if n not in listed]:
            if alerts[name] not in ("inactive", "resolved"):
                # A pending alert whose condition stopped holding leaves the list.
                out.append(Row(wall, f"alert {name} inactive (was {alerts[name]})"))
            del alerts[name]
        for name, s in (e.get("sources") or {}).items():
            up = bool(s.get("up"))
            if name in sources and sources[name] != up:
                out.append(Row(wall, f"source {name} " + ("back up" if up else
                                                          f"DOWN: {s.get('error') or '?'}")))
            sources[name] = up
        canary = rec.canary(i)
        if canary is not None and canary.get("percent") != canary_percent:
            if i > 0 or canary_percent is not None:
                out.append(Row(wall, f"canary flag at {canary.get('percent')} %"))
            canary_percent = canary.get("percent")
    out.sort(key=lambda r: r.wall)
    if out.left_out:
        return [*out, Row(rec.walls[-1], f"... {out.left_out:,} more rows not listed (a "
                                         f"timeline lists at most {MAX_ROWS:,})")]
    return out


def page_rows(rec: Recording) -> list[Row]:
    """When a provider's status page changed state, with the incident's title: "is it us or
    them", for the postmortem. Stamped with the poll that saw it."""
    watch = PageWatch()
    # A poll answered just before the first tick is stamped at the start, not before it.
    return [Row(max(c.wall, rec.walls[0]), f"status page {c.text}")
            for i, pages in rec.status_page_changes()
            for c in watch.update(pages, rec.walls[i])]


def _restart_at(e: dict[str, Any]) -> float | None:
    """The restart the trend figures start after (a new process, whoever restarted it)."""
    figures = e.get("figures") or {}
    for key in (Fig.SOCKET_GROWTH_PER_H, Fig.MEMORY_GROWTH_MB_PER_H):
        at = ((figures.get(key) or {}).get("detail") or {}).get("restart_at")
        if isinstance(at, int | float) and math.isfinite(at):
            return float(at)
    return None


def _aftermath(rec: Recording, restart: float) -> str:
    """The restart's effects, read from the recorded figures as the console read them live:
    the reconnect storm and the pool's peak over the watch after it."""
    walls = list(rec.walls)
    nan = [math.nan] * len(walls)
    sockets = list(rec.series.get(Fig.SOCKET_CONNECTIONS, nan))
    key = pool_key(rec.series) or ""
    pool = list(rec.series.get(key, nan))
    i = bisect.bisect_left(walls, restart)
    before_s = _last_known(sockets[:i])
    before_p = _last_known(pool[:i])
    a = aftermath(restart, walls, sockets, pool, POOL_LABELS.get(key, "db pool"),
                  TrendSettings().after_restart_s, before_s, before_p)
    return a.effects()


def _last_known(values: list[float]) -> float | None:
    return next((v for v in reversed(values) if not math.isnan(v)), None)


def markdown(rec: Recording) -> str:
    h = rec.header
    name = str(h.get("target", "?"))
    prod = " (PRODUCTION)" if h.get("production") else ""
    lines = [f"# Timeline: {_cell(name)}{prod}", ""]
    if not len(rec):
        lines.append(f"The recording {_cell(rec.path.name)} holds no ticks.")
        return "\n".join(lines) + "\n"
    start, end = rec.walls[0], rec.walls[-1]
    lines.append(f"Recording {_cell(rec.path.name)}: {_when(start)} to {_when(end)} UTC "
                 f"({format.duration(end - start)}, {len(rec)} ticks every "
                 f"{_cell(h.get('refresh_s', '?'))} s, figures over "
                 f"{_cell(h.get('window_s', '?'))} s windows).")
    if rec.problem:
        lines.append(f"Note: {_cell(rec.problem)}.")
    lines += ["", "| time (UTC) | since start | what | value |", "| --- | --- | --- | --- |"]
    first = rec.encoded(0)
    lines.append(f"| {_clock(start)} | 0s | recording starts; overall level "
                 f"{_mark(str(first.get('level')))} | |")
    for r in rows(rec):
        lines.append(f"| {_clock(r.wall)} | {format.duration(r.wall - start)} | "
                     f"{_cell(r.what)} | {_cell(r.value)} |")
    last = rec.encoded(len(rec) - 1)
    lines.append(f"| {_clock(end)} | {format.duration(end - start)} | recording ends; overall "
                 f"level {_mark(str(last.get('level')))} | |")
    lines += ["", "## Worst values", "", "| figure | worst | at (UTC) | threshold |",
              "| --- | --- | --- | --- |"]
    lines += _worst(rec)
    lines += plan_events.section(rec, _cell, _clock)
    return "\n".join(lines) + "\n"


def _worst(rec: Recording) -> list[str]:
    out = []
    figures = rec.encoded(len(rec) - 1).get("figures") or {}
    for key, series in rec.series.items():
        e = figures.get(key) or {}
        if not e.get("judged") or key == Fig.HEALTH:
            continue
        th = e.get("threshold") or {}
        below = th.get("above") is False
        best_i = None
        for i, v in enumerate(series):
            if math.isnan(v):  # unknown at that tick
                continue
            if best_i is None or (v < series[best_i] if below else v > series[best_i]):
                best_i = i
        label = _cell(format.LABELS.get(key, key))
        bounds = _cell(", ".join(f"{n} {'<' if below else '>'} {th[n]:g}"
                                 for n in ("warning", "critical")
                                 if isinstance(th.get(n), int | float)))
        if best_i is None:
            out.append(f"| {label} | never known | | {bounds} |")
            continue
        value = _cell(format.number(series[best_i], str(e.get("unit", ""))))
        out.append(f"| {label} | {value} | {_clock(rec.walls[best_i])} | {bounds} |")
    return out


def _crossing(key: str, f: dict[str, Any], old: str, new: str) -> str:
    label = format.LABELS.get(key, key)
    if new == Level.UNKNOWN.value:
        return f"{label} unknown: {f.get('reason') or 'no value'}"
    th = f.get("threshold") or {}
    bound = th.get(new) if new in ("warning", "critical") else None
    side = "<" if th.get("above") is False else ">"
    what = f" ({side} {bound:g})" if isinstance(bound, int | float) else ""
    return f"{label} {_mark(old)} -> {_mark(new)}{what}"


def _value(key: str, f: dict[str, Any]) -> str:
    v = f.get("value")
    if not isinstance(v, int | float):
        return ""
    if key == Fig.HEALTH:
        return f"HTTP {v:.0f}"
    return format.number(float(v), str(f.get("unit", "")))


def _event(kind: str, d: dict[str, Any]) -> str:
    if kind == "action":
        verdict = "refused" if d.get("refused") else ("ok" if d.get("ok") else "FAILED")
        override = ", override" if d.get("override") else ""
        return f"action {d.get('action', '?')} ({verdict}{override}): {d.get('result', '')}"
    if kind == "note":
        return str(d.get("text", ""))
    if kind == "plan":
        return plan_events.text(d)
    return f"{kind}: {d}"


def _mark(level: str) -> str:
    try:
        return Level(level).mark
    except ValueError:
        return _cell(level)  # not a level sbtop writes: someone else's text


def _clock(wall: float) -> str:
    return dt.datetime.fromtimestamp(wall, dt.UTC).strftime("%H:%M:%S")


def _when(wall: float) -> str:
    return dt.datetime.fromtimestamp(wall, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


# Characters Markdown or HTML give meaning to anywhere in a line: emphasis, code, links and
# images, raw HTML and entities, table cells, strikethrough. A backslash before any ASCII
# punctuation makes it a plain character (CommonMark), so the text renders as it reads.
_MARKDOWN = re.compile(r"([\\`*_\[\]<&|~!#])")


def _cell(text: object) -> str:
    """Text for a Markdown line or table cell: one line (control characters shown as escapes,
    as everywhere outside text is shown), nothing in it read as Markdown or HTML."""
    return _MARKDOWN.sub(r"\\\1", untrusted.line(text, 2000))
