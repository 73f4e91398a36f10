"""`a`: the action log, newest first: one row per action with its result (the audit file's
'started' line and its result line make one row), the parameters rounded, readable at 120
columns (the result, last, takes what the screen has left)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from sbtop import format

SHOWN = 500  # the newest actions listed
# The columns before the result, and their widths (the result gets the rest of the screen).
COLUMNS = (("time (UTC)", 14), ("user", 8), ("action", 15), ("parameters", 22), ("took", 5))


@dataclass(frozen=True, slots=True)
class Row:
    time: str
    user: str
    action: str
    params: str
    took: str
    result: str  # after what marks it (override, dry run, refused), in capitals


def rows(entries: list[dict[str, Any]]) -> list[Row]:
    """One row per action, oldest first. A 'started' line is folded into the line that
    closes the same action (same target and action, the next one in the file); a started
    line never closed (sbtop killed mid-action) stays, and says so."""
    out: list[Row] = []
    open_at: dict[tuple[Any, Any], int] = {}  # (target, action) -> its started row
    for e in entries:
        key = (e.get("target"), e.get("action"))
        result = str(e.get("result", ""))
        if result == "started":
            open_at[key] = len(out)
            out.append(_row(e, "started; no result recorded (sbtop stopped?)"))
            continue
        started = open_at.pop(key, None)
        if started is not None:
            first = out[started]
            out[started] = _row(e, result, time=first.time)
        else:
            out.append(_row(e, result))
    return out


def _row(e: Mapping[str, Any], result: str, *, time: str | None = None) -> Row:
    notes = [word for word, on in (("DRY RUN", e.get("dry_run")), ("OVERRIDE", e.get("override")),
                                  ("REFUSED", e.get("refused"))) if on]
    took = e.get("duration_s")
    ok = e.get("ok")
    params = e.get("params")
    flag = params.get("flag") if isinstance(params, Mapping) else None
    if flag and result.startswith(f"{flag}=") and ": " in result:
        result = result.split(": ", 1)[1]  # 'FLAG=5: deploy live': the step is in parameters
    if ok is False and not result.startswith(("failed", "interrupted")):
        result = f"failed: {result}"
    # 2026-12-06T22:23:31Z -> 12-06 22:23:31 (the year is the heading's business).
    return Row(time=time or str(e.get("time", ""))[5:].replace("T", " ").rstrip("Z"),
               user=str(e.get("user", "")), action=str(e.get("action", "")),
               params=params_text(params),
               took=format.duration(float(took)) if isinstance(took, int | float) else "",
               result=" ".join([*notes, result]))


def params_text(params: object) -> str:
    """The parameters as a person reads them: a step as 'from → to %', figures rounded with
    their units, the flag's name left out (the config names it; it never changes)."""
    if not isinstance(params, Mapping):
        return "" if params is None else str(params)
    p = dict(params)
    parts: list[str] = []
    if "percent" in p:
        to, was = p.pop("percent"), p.pop("from", None)
        parts.append(f"{'?' if was is None else was} → {to} %" if "flag" in p or was is not None
                     else f"{to} %")
    p.pop("flag", None)
    for key, label, unit in (("latency_p95_ms", "p95", " ms"),
                             ("previous_p95_ms", "was p95", " ms"),
                             ("error_rate_5xx_pct", "5xx", " %")):
        if key in p:
            value = p.pop(key)
            parts.append(f"{label} {_number(value, unit)}")
    if "target" in p:
        parts.append(f"to {p.pop('target')}")
    if "skip" in p:
        skip = p.pop("skip")
        if skip:
            parts.append(f"skipping {len(skip) if isinstance(skip, list) else skip}")
    parts.extend(f"{k} {_number(v, '')}" for k, v in p.items())
    return ", ".join(parts)


def _number(value: object, unit: str) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, float):
        return f"{value:.2f}{unit}" if unit == " %" else f"{value:.0f}{unit}"
    return f"{value}{unit}"


class ActionLogScreen(Screen[None]):
    DEFAULT_CSS = """
    ActionLogScreen DataTable { height: 1fr; }
    ActionLogScreen #log-head { height: auto; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,q,a", "app.pop_screen", "Back")]

    def __init__(self, entries: list[dict[str, Any]], path: str) -> None:
        super().__init__()
        self.entries = entries
        self.path = path
        self.rows = rows(entries)[-SHOWN:][::-1]

    def compose(self) -> ComposeResult:
        n = len(self.rows)
        head = f"Action log ({self.path}), newest first: {n} action{'' if n == 1 else 's'}"
        if not self.rows:
            head = f"Action log ({self.path}): none"
        yield Static(Text(head), id="log-head")
        table: DataTable[Text] = DataTable(cursor_type="row")
        # The columns before the result keep their widths; the result has the rest (at 120
        # columns, 120 less those and the table's cell padding).
        fixed = sum(w for _, w in COLUMNS) + 2 * (len(COLUMNS) + 1)
        result_w = max(20, self.app.size.width - fixed - 2)
        for name, width in COLUMNS:
            table.add_column(name, width=width)
        table.add_column("result", width=result_w)
        for r in self.rows:
            table.add_row(*(Text(v, no_wrap=True, overflow="ellipsis") for v in (
                r.time, r.user, r.action, r.params, r.took, r.result)))
        yield table
        yield Footer()
