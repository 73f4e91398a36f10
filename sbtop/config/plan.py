"""[plan]: the deploy window's phases and pre-flight items, checked once when the file is read
(one line naming the key on any mistake) and turned into sbtop.engine.window.PlanSettings."""

from __future__ import annotations

from typing import Any

from sbtop import untrusted
from sbtop.config.errors import ConfigError
from sbtop.config.schema import PlanConfig, PlanPhaseConfig
from sbtop.config.values import did_you_mean, duration, kind
from sbtop.engine.settings import FIGURE_UNITS
from sbtop.engine.window import (
    OPS,
    CriterionSettings,
    ItemKind,
    PhaseSettings,
    PlanSettings,
    PreflightSettings,
    Risk,
    When,
)

_RISKS = tuple(str(r) for r in Risk)
_KINDS = tuple(str(k) for k in ItemKind)
_WHEN = tuple(str(w) for w in When)


def validate_plan(plan: PlanConfig) -> None:
    if plan.timeout_s <= 0:
        raise ConfigError("plan.timeout_s: must be greater than 0")
    names: set[str] = set()
    canaries = 0
    for i, p in enumerate(plan.phases):
        where = f"plan.phases[{i}]"
        if not p.name.strip():
            raise ConfigError(f"{where}.name: every phase needs a name")
        if p.name.lower() in names:
            raise ConfigError(f"{where}.name: {p.name!r} is used twice")
        if p.name.isdigit():
            raise ConfigError(f"{where}.name: {p.name!r} would read as a phase's number")
        _printable(p.name, f"{where}.name")
        names.add(p.name.lower())
        if p.risk not in _RISKS:
            raise ConfigError(f"{where}.risk: expected {', '.join(_RISKS)}, got {kind(p.risk)}")
        _expected(p, where)
        for f in p.figures:
            _figure(f, f"{where}.figures")
        for j, c in enumerate(p.criteria):
            cw = f"{where}.criteria[{j}]"
            _figure(c.figure, f"{cw}.figure")
            if c.op not in OPS:
                raise ConfigError(f"{cw}.op: expected one of {', '.join(OPS)}, got {c.op!r}")
            if c.judged not in _WHEN:
                raise ConfigError(f"{cw}.judged: expected during or end, got {kind(c.judged)}")
        for key in ("run", "rollback"):
            argv = getattr(p, key)
            if argv and not argv[0].strip():
                raise ConfigError(f"{where}.{key}: the first word is the program to run")
            _argv(argv, f"{where}.{key}")
        canaries += p.canary
    if canaries > 1:
        raise ConfigError("plan.phases: only one phase can be the canary (canary = true)")
    items: set[str] = set()
    for i, item in enumerate(plan.preflight):
        where = f"plan.preflight[{i}]"
        if not item.name.strip():
            raise ConfigError(f"{where}.name: every pre-flight item needs a name")
        if item.name.lower() in items or item.name.isdigit():
            raise ConfigError(f"{where}.name: {item.name!r} is used twice or is a number")
        items.add(item.name.lower())
        _printable(item.name, f"{where}.name")
        if item.check not in _KINDS:
            raise ConfigError(f"{where}.check: expected one of {', '.join(_KINDS)}, got "
                              f"{kind(item.check)}{did_you_mean(item.check, _KINDS)}")
        if item.check == "sql" and not item.sql.strip():
            raise ConfigError(f"{where}.sql: check = \"sql\" needs the query")
        if item.check == "command" and not item.command:
            raise ConfigError(f"{where}.command: check = \"command\" needs the argv")
        if item.sql and item.check != "sql":
            raise ConfigError(f"{where}.sql: only with check = \"sql\"")
        if item.command and item.check != "command":
            raise ConfigError(f"{where}.command: only with check = \"command\"")
        _argv(item.command, f"{where}.command")
        if item.timeout_s <= 0:
            raise ConfigError(f"{where}.timeout_s: must be greater than 0")


def _printable(name: str, where: str) -> None:
    """A name is the record's key: one with a control character (a tab, a newline) is read
    back escaped, as every string of the record is, and would lose its phase's record."""
    if untrusted.line(name) != name:
        raise ConfigError(f"{where}: {untrusted.line(name, 60)!r} holds a control character "
                          "(a tab, a newline): names are one plain line")


def _argv(argv: list[str], where: str) -> None:
    """No program can be handed a NUL byte: said now, not when the phase starts."""
    for i, word in enumerate(argv):
        if "\x00" in word:
            raise ConfigError(f"{where}[{i}]: holds a NUL byte")


def _figure(name: str, where: str) -> None:
    if name not in FIGURE_UNITS:
        raise ConfigError(f"{where}: unknown figure {name!r}{did_you_mean(name, FIGURE_UNITS)}")


def _expected(p: PlanPhaseConfig, where: str) -> tuple[float | None, float | None]:
    d: Any = p.duration
    if d is None:
        return None, None
    if isinstance(d, list):
        if len(d) != 2:
            raise ConfigError(f"{where}.duration: one duration (\"2m\") or two, the least and "
                              "the most ([\"5m\", \"10m\"])")
        low, high = duration(d[0], f"{where}.duration[0]"), duration(d[1], f"{where}.duration[1]")
        if low > high:
            raise ConfigError(f"{where}.duration: the least is more than the most")
        return low, high
    one = duration(d, f"{where}.duration")
    return one, one


def plan_settings(plan: PlanConfig, contacts: tuple[str, ...] = ()) -> PlanSettings | None:
    """The plan, or None when no phase is configured; `contacts`: who to call, shown with it
    (the [contacts] table's lines: one place for them, the help shows the same)."""
    if not plan.phases and not plan.preflight:
        return None
    phases = []
    for i, p in enumerate(plan.phases):
        low, high = _expected(p, f"plan.phases[{i}]")
        phases.append(PhaseSettings(
            name=p.name, risk=Risk(p.risk), duration_min_s=low, duration_max_s=high,
            watch_s=float(p.watch), figures=tuple(p.figures),
            criteria=tuple(CriterionSettings(c.figure, c.op, c.value, When(c.judged))
                           for c in p.criteria),
            run=tuple(p.run), rollback=tuple(p.rollback), rollback_note=p.rollback_note,
            canary=p.canary, note=p.note))
    items = tuple(PreflightSettings(i.name, ItemKind(i.check), i.sql, tuple(i.command),
                                    i.timeout_s, i.note) for i in plan.preflight)
    return PlanSettings(tuple(phases), items, plan.timeout_s, contacts)
