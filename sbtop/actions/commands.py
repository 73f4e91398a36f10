"""The actions on the command line: `sbtop canary ...`, `sbtop restart`, `sbtop rollback`.

Same controller as the console's keys. The plan is printed first; nothing is sent without a
confirmation (the target's name typed for a production target, y for others, or --yes); a
shut gate needs --force. Exit codes: 0 done (or nothing to do), 1 refused (gate, lock, a
running action, no confirmation), 2 the action failed, 3 usage or configuration.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sbtop import format
from sbtop.actions.audit import AuditLog
from sbtop.actions.controller import Controller
from sbtop.actions.factory import build_controller
from sbtop.actions.plan import Plan
from sbtop.actions.providers import ActionError
from sbtop.actions.requests import Request
from sbtop.actions.settings import ActionsSettings
from sbtop.actions.state import StateDirError
from sbtop.engine.figures import Figure
from sbtop.engine.keys import Fig
from sbtop.engine.transitions import action_finished
from sbtop.notify.settings import NotifySettings
from sbtop.notify.team import tell_team
from sbtop.wiring import TargetIdentity

EXIT_DONE, EXIT_REFUSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2, 3
T = TypeVar("T")
# The figures the gate is judged on, over a window of so many seconds (the command reads them
# as `sbtop check` does).
Figures = Callable[[float], Awaitable[Mapping[str, Figure]]]


class CommandError(Exception):
    """A usage or configuration problem: one line, exit 3."""


def run_action(actions: ActionsSettings | None, identity: TargetIdentity, request: str, *,
               state_dir: Path, read_figures: Figures, percent: int | None = None,
               yes: bool = False, dry_run: bool = False, force: bool = False,
               window_s: float = 10.0, ask: Callable[[str], str] = input,
               out: Callable[[str], None] = print,
               notify: NotifySettings | None = None) -> int:
    """Plan, confirm, act. The confirmation is asked with no event loop running, so Ctrl-C at
    the prompt stops sbtop at once (nothing sent, nothing written, exit 130); while an action
    runs, SIGTERM and SIGHUP stop it as the console's quitting does (its command's process
    group stopped, the audit saying interrupted, exit 143 / 129). An action done or failed
    (not refused, not a dry run) is told to `notify`'s webhook, as the console's are."""
    controller = _controller(actions, identity, state_dir)
    try:
        planned = _in_loop(_plan(controller, read_figures, request, percent, force, window_s, out))
        if isinstance(planned, int):
            return planned
        plan, figures = planned
        if not dry_run and not yes:
            stopped = confirm_or_stop(plan, ask, out, controller.audit, "nothing was sent", {
                "target": identity.name, "action": plan.request, "params": plan.params.whole()})
            if stopped is not None:
                return stopped
        return _in_loop(_act(controller, plan, figures, dry_run, out, notify or NotifySettings(),
                             identity.name))
    except StateDirError as e:  # a link planted after the check: one line, not a traceback
        raise CommandError(str(e)) from None
    finally:
        with contextlib.suppress(Exception):
            asyncio.run(controller.provider.close())


EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports it
_STOPPING = (signal.SIGTERM, signal.SIGHUP)


def _in_loop(work: Coroutine[Any, Any, T]) -> T | int:
    """Run `work`; SIGTERM or SIGHUP cancel it (whatever it runs stops and records that it
    was interrupted) and give 128 + the signal's number, as a shell reports it."""
    async def guarded() -> T | int:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        got: list[int] = []

        def stop(sig: int) -> None:
            got.append(sig)
            task.cancel()

        for sig in _STOPPING:
            loop.add_signal_handler(sig, stop, sig)
        try:
            return await work
        except asyncio.CancelledError:
            if got:
                return 128 + got[0]
            raise
        finally:
            for sig in _STOPPING:
                loop.remove_signal_handler(sig)

    return asyncio.run(guarded())


async def _plan(c: Controller, read: Figures, request: str, percent: int | None, force: bool,
                window_s: float, out: Callable[[str], None]
                ) -> tuple[Plan, Mapping[str, Figure]] | int:
    """The plan, shown; or the exit code when there is nothing to confirm."""
    if c.store.problem:
        out(f"warning: {c.store.problem}")
    note = c.recover()
    if note:
        out(f"note: {note}")
    await c.refresh()
    figures: Mapping[str, Figure] = {}
    if request in ("canary next", "canary set", "canary status"):
        out(f"reading the figures for the gate ({window_s:g} s)...")
        figures = await read(window_s)
    if request == "canary status":
        return _status(c, figures, out)
    try:
        plan = await c.prepare(Request(request), figures, percent)
    except ActionError as e:
        out(f"not done: {e}")
        return EXIT_REFUSED
    for line in plan.describe():
        out(line)
    if plan.needs_override and not force:
        outcome = await c.execute(plan)
        out(outcome.text.replace("override to step anyway", "use --force to step anyway"))
        return EXIT_REFUSED
    return plan, figures


async def _act(c: Controller, plan: Plan, figures: Mapping[str, Figure], dry_run: bool,
               out: Callable[[str], None], notify: NotifySettings, target: str) -> int:
    outcome = await c.execute(plan, dry_run=dry_run, override=plan.needs_override,
                              progress=lambda text: out(f"  ... {text}"), figures=figures)
    out(outcome.text)
    if not dry_run and not outcome.refused:
        await tell_team(notify, action_finished(str(plan.request), outcome.ok, outcome.text,
                                                target), lambda t: out(f"note: {t}"))
    if outcome.refused:
        return EXIT_REFUSED
    return EXIT_DONE if outcome.ok else EXIT_FAILED


class Confirmable(Protocol):
    """What the confirmation asks about: a canary's plan or a deploy window phase's."""

    @property
    def production(self) -> bool: ...

    @property
    def target(self) -> str: ...


def confirmed(plan: Confirmable, ask: Callable[[str], str], out: Callable[[str], None]
              ) -> bool:
    """The person's go-ahead: the target's name typed on production, y elsewhere; never
    without a terminal to ask on."""
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


def confirm_or_stop(plan: Confirmable, ask: Callable[[str], str], out: Callable[[str], None],
                    audit: AuditLog, nothing: str, entry: dict[str, Any]) -> int | None:
    """Ask for the go-ahead: None to go on, else the exit code, said ("cancelled: `nothing`")
    and, for a refusal, audited (`entry` with the result): every acting command stops alike."""
    try:
        go = confirmed(plan, ask, out)
    except KeyboardInterrupt:
        out(f"\ncancelled: {nothing}")
        return EXIT_INTERRUPTED
    if go:
        return None
    out(f"cancelled: {nothing}")
    audit.append({**entry, "result": "cancelled at the confirmation", "dry_run": False})
    return EXIT_REFUSED


def _status(c: Controller, figures: Mapping[str, Figure], out: Callable[[str], None]) -> int:
    """The step, its soak and the gate; exit 2 when the flag cannot be read (a status that
    cannot say the step must not read as fine to a script)."""
    g = c.gate(figures)
    state = c.state.canary
    if state.read_error:
        out(f"canary flag {c.flag}: unknown: it cannot be read ({state.read_error})")
        out("  next step: unknown until the flag can be read; an abort (sbtop canary abort) "
            "still sets it to 0")
        return EXIT_FAILED
    out(f"canary flag {c.flag}: {'unknown' if g.percent is None else f'{g.percent} %'}")
    if state.step_started_wall is not None:
        out(f"  at this step since {format.duration(c.clock.now()[1] - state.step_started_wall)}"
            " ago")
    if state.baseline:
        base = state.baseline.get(Fig.LATENCY_P95_MS)
        out(f"  baseline p95: {'-' if base is None else f'{base:.0f} ms'}")
    out(f"  next step: {'none (top of the ladder)' if g.next_percent is None else g.next_percent}")
    for cr in g.criteria:
        mark = ("ok  " if cr.passed else "n/a " if cr.passed is None else
                "wait" if cr.waiting else "FAIL")
        out(f"  {mark} {cr.shown}")
    out(f"  gate: {'open' if g.open else 'shut'}")
    return EXIT_DONE


def _controller(actions: ActionsSettings | None, identity: TargetIdentity,
                state_dir: Path) -> Controller:
    controller, reason = build_controller(actions, identity, state_dir)
    if controller is None:
        raise CommandError(reason)
    return controller
