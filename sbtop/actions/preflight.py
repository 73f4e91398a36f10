"""The pre-flight items sbtop checks live (the runbook's pre-deployment checklist, the part a
machine can see): the target answers, every judged figure is OK now, the canary's baseline is
captured, the database answers, an SQL probe, a command. Each gives (passed, one line). The
items a person confirms are not run here (PlanController.confirm records them)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sbtop.actions.providers import ActionError
from sbtop.engine import words
from sbtop.engine.assessment import Assessment, iso
from sbtop.engine.keys import Fig
from sbtop.engine.levels import Level
from sbtop.engine.window import ItemKind, PreflightSettings


@dataclass(frozen=True)
class PreflightContext:
    """What the live checks look at: the latest assessment (None: no figures yet), the
    canary's baseline as the state file holds it, the database (DSN from the environment)."""

    assessment: Assessment | None
    baseline: Mapping[str, float | None] | None = None
    dsn: str | None = None
    connect_timeout_s: float = 3.0
    # When the baseline was captured, and now: a baseline from an earlier window still
    # counts, but says its age (it may be last week's).
    baseline_wall: float | None = None
    now_wall: float | None = None


async def run_checks(items: Iterable[PreflightSettings], ctx: PreflightContext
                     ) -> dict[str, tuple[bool, str]]:
    """Every live item, concurrently (each bounded by its own timeout)."""
    live = [i for i in items if i.kind is not ItemKind.CONFIRM]
    results = await asyncio.gather(*(_check(i, ctx) for i in live))
    return {i.name: r for i, r in zip(live, results, strict=True)}


async def _check(item: PreflightSettings, ctx: PreflightContext) -> tuple[bool, str]:
    a = ctx.assessment
    if item.kind is ItemKind.TARGET:
        if a is None:
            return False, "no figures yet"
        down = [f"{n}: {s.error}" for n, s in a.sources.items()
                if n in ("metrics", "health") and not s.up]
        seen = [n for n in ("metrics", "health") if n in a.sources]
        if not seen:
            return False, "neither metrics nor health is configured"
        return (not down), ("; ".join(down) if down else f"{' and '.join(seen)} answer")
    if item.kind is ItemKind.FIGURES:
        if a is None:
            return False, "no figures yet"
        bad = [f"{k} {f.level.mark}" for k, f in a.figures.items()
               if f.judged and f.level is not Level.OK]
        return (not bad), ("; ".join(bad) if bad else "every judged figure OK")
    if item.kind is ItemKind.BASELINE:
        p95 = (ctx.baseline or {}).get(Fig.LATENCY_P95_MS)
        if p95 is None:
            return False, "no baseline captured (press B in the console, or the first canary " \
                "step takes one)"
        when = ""
        if ctx.baseline_wall is not None:
            when = f", captured {iso(ctx.baseline_wall)}"
            if ctx.now_wall is not None:
                when += f" ({words.duration(max(0.0, ctx.now_wall - ctx.baseline_wall))} ago)"
        return True, f"baseline p95 {p95:.0f} ms{when}"
    if item.kind is ItemKind.DATABASE:
        db = a.sources.get("db") if a is not None else None
        if db is None:
            return False, "no database configured (dsn_env, --dsn)"
        return db.up, "answers" if db.up else f"down: {db.error}"
    if item.kind is ItemKind.SQL:
        if not ctx.dsn:
            return False, "no database configured (dsn_env, --dsn)"
        from sbtop.sources.database.probe import sql_probe

        return await sql_probe(ctx.dsn, item.sql, connect_timeout_s=ctx.connect_timeout_s,
                               statement_timeout_s=item.timeout_s)
    if item.kind is ItemKind.COMMAND:
        from sbtop.actions.phases import PhaseCommands

        try:
            text = await PhaseCommands({}, timeout_s=item.timeout_s).run_argv(
                item.command, "the command")
        except ActionError as e:
            return False, str(e)
        return True, text
    return False, f"not a live item ({item.kind})"
