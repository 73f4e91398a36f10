"""`sbtop plan status|preflight|confirm ITEM|start|pass|rollback PHASE|reset`: the deploy window,
its plan shown first; exit 0 done, 1 refused, 2 failed, 3 usage or configuration."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sbtop.commands import Command
from sbtop.commands.loading import ConfigFile
from sbtop.commands.targets import TargetOptions, target_for
from sbtop.commands.usage import UsageError

if TYPE_CHECKING:
    from sbtop.engine.assessment import Assessment

NAMED = ("confirm", "start", "pass", "rollback")


@dataclass(frozen=True)
class PlanOptions:
    target: TargetOptions
    verb: str  # status, preflight, confirm, start, pass, rollback, reset
    name: str | None  # the phase (name or number) or the pre-flight item
    override: str | None  # the typed reason
    undo: bool  # confirm: take the confirmation back
    window_s: float
    json: bool
    yes: bool
    dry_run: bool
    state_dir: str | None
    read_only: bool
    demo: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> PlanOptions:
        return cls(TargetOptions.from_args(args), args.verb, args.name, args.override,
                   args.undo, args.window, args.json, args.yes, args.dry_run, args.state_dir,
                   bool(getattr(args, "read_only", False)), args.demo)


def run(opts: PlanOptions, config: ConfigFile) -> int:
    from sbtop.actions import commands as action_commands
    from sbtop.actions import plan_commands
    from sbtop.actions.state import default_state_dir

    if opts.verb in NAMED and not opts.name:
        what = "item" if opts.verb == "confirm" else "phase (its name or number)"
        raise UsageError(f"plan {opts.verb} needs the {what}, e.g. sbtop plan {opts.verb} "
                         + ("'Database backup completed'" if opts.verb == "confirm" else "1"))
    if opts.verb not in NAMED and opts.name:
        raise UsageError(f"plan {opts.verb} takes no name (got {opts.name!r})")
    acting = opts.verb not in ("status",)
    read_only = opts.read_only or (not opts.demo and config.load().ui.read_only)
    if acting and read_only:
        raise UsageError("read-only: the plan's actions are off (ui.read_only or --read-only)")
    if opts.override is not None and not opts.override.strip():
        raise UsageError("--override needs the reason, typed: --override \"why\"")
    with target_for(config, opts.target, opts.demo) as (wiring, _demo):

        async def assess(window_s: float) -> Assessment:
            from sbtop import check

            return await check.run(wiring, window_s)

        try:
            return plan_commands.run_plan(
                wiring, opts.verb, opts.name, state_dir=default_state_dir(opts.state_dir),
                assess=assess, yes=opts.yes, dry_run=opts.dry_run, override=opts.override,
                undo=opts.undo, window_s=opts.window_s, as_json=opts.json,
                read_only=read_only)
        except action_commands.CommandError as e:
            raise UsageError(str(e)) from None


COMMAND = Command(PlanOptions.from_args, run)
