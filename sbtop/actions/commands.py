"""The actions on the command line: `sbtop canary ...`, `sbtop restart`, `sbtop rollback`.

Same controller as the console's keys. The plan is printed first; nothing is sent without a
confirmation (the target's name typed for a production target, y for others, or --yes); a
shut gate needs --force. Exit codes: 0 done (or nothing to do), 1 refused (gate, lock, a
running action, no confirmation), 2 the action failed, 3 usage or configuration.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from sbtop import check, format
from sbtop.actions.controller import Controller, Plan
from sbtop.actions.factory import make_controller
from sbtop.actions.providers import ActionError
from sbtop.actions.state import StateDirError
from sbtop.config import Target
from sbtop.engine.figures import Figure

EXIT_DONE, EXIT_REFUSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2, 3


class CommandError(Exception):
    """A usage or configuration problem: one line, exit 3."""


def run_action(target: Target, request: str, *, state_dir: Path, percent: int | None = None,
               yes: bool = False, dry_run: bool = False, force: bool = False,
               window_s: float = 10.0, ask: Callable[[str], str] = input,
               out: Callable[[str], None] = print) -> int:
    controller = _controller(target, state_dir)
    try:
        return asyncio.run(_run(controller, target, request, percent, yes, dry_run, force,
                                window_s, ask, out))
    except StateDirError as e:  # a link planted after the check: one line, not a traceback
        raise CommandError(str(e)) from None


async def _run(c: Controller, target: Target, request: str, percent: int | None, yes: bool,
               dry_run: bool, force: bool, window_s: float, ask: Callable[[str], str],
               out: Callable[[str], None]) -> int:
    try:
        if c.store.problem:
            out(f"warning: {c.store.problem}")
        note = c.recover()
        if note:
            out(f"note: {note}")
        await c.refresh()
        figures: Mapping[str, Figure] = {}
        if request in ("canary next", "canary set", "canary status"):
            out(f"reading the figures for the gate ({window_s:g} s)...")
            figures = (await check.run(target, window_s)).figures
        if request == "canary status":
            _status(c, figures, out)
            return EXIT_DONE
        try:
            plan = await c.prepare(request, figures, percent)
        except ActionError as e:
            out(f"not done: {e}")
            return EXIT_REFUSED
        for line in plan.describe():
            out(line)
        if plan.needs_override and not force:
            outcome = await c.execute(plan)
            out(outcome.text.replace("override to step anyway", "use --force to step anyway"))
            return EXIT_REFUSED
        if not dry_run and not yes and not _confirmed(plan, ask, out):
            out("cancelled: nothing was sent")
            c.audit.append({"target": target.name, "action": plan.request,
                            "params": plan.params, "result": "cancelled at the confirmation",
                            "dry_run": False})
            return EXIT_REFUSED
        outcome = await c.execute(plan, dry_run=dry_run, override=plan.needs_override,
                                  progress=lambda text: out(f"  ... {text}"), figures=figures)
        out(outcome.text)
        if outcome.refused:
            return EXIT_REFUSED
        return EXIT_DONE if outcome.ok else EXIT_FAILED
    finally:
        await c.provider.close()


def _confirmed(plan: Plan, ask: Callable[[str], str], out: Callable[[str], None]) -> bool:
    if not sys.stdin.isatty() and ask is input:
        out("not confirmed: no terminal to ask on (give --yes to act without asking)")
        return False
    try:
        if plan.production:
            typed = ask(f"PRODUCTION: type the target's name ({plan.target}) to go ahead: ")
            return typed.strip() == plan.target
        return ask("go ahead? [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def _status(c: Controller, figures: Mapping[str, Figure], out: Callable[[str], None]) -> None:
    g = c.gate(figures)
    state = c.state.canary
    out(f"canary flag {c.flag}: {'unknown' if g.percent is None else f'{g.percent} %'}")
    if state.step_started_wall is not None:
        out(f"  at this step since {format.duration(c.clock.now()[1] - state.step_started_wall)}"
            " ago")
    if state.baseline:
        base = state.baseline.get("latency_p95_ms")
        out(f"  baseline p95: {'-' if base is None else f'{base:.0f} ms'}")
    out(f"  next step: {'none (top of the ladder)' if g.next_percent is None else g.next_percent}")
    for cr in g.criteria:
        mark = "ok  " if cr.passed else "n/a " if cr.passed is None else "FAIL"
        out(f"  {mark} {cr.shown}")
    out(f"  gate: {'open' if g.open else 'shut'}")


def _controller(target: Target, state_dir: Path) -> Controller:
    controller, reason = make_controller(target, state_dir)
    if controller is None:
        raise CommandError(reason)
    return controller
