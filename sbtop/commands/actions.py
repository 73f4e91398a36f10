"""`sbtop canary`, `sbtop restart`, `sbtop rollback`: a deploy action, its plan shown first;
exit 0 done, 1 refused, 2 failed, 3 usage or configuration."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sbtop.commands import Command
from sbtop.commands.loading import ConfigFile
from sbtop.commands.targets import TargetOptions, resolve_target
from sbtop.commands.usage import UsageError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sbtop.engine.figures import Figure


@dataclass(frozen=True)
class ActionOptions:
    target: TargetOptions
    request: str  # "canary status", "canary next", "canary set", "canary abort", "restart", ...
    percent: int | None  # canary set's
    force: bool  # step though the gate is shut (canary)
    window_s: float  # seconds of figures for the gate (canary)
    yes: bool
    dry_run: bool
    state_dir: str | None
    read_only: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ActionOptions:
        canary = args.command == "canary"
        return cls(
            target=TargetOptions.from_args(args),
            request=f"canary {args.step}" if canary else args.command,
            percent=args.percent if canary and args.step == "set" else None,
            force=args.force if canary else False,
            window_s=args.window if canary else 10.0,
            yes=args.yes, dry_run=args.dry_run, state_dir=args.state_dir,
            read_only=bool(args.read_only))


def run(opts: ActionOptions, config: ConfigFile) -> int:
    from sbtop.actions import commands as action_commands
    from sbtop.actions.state import default_state_dir

    if opts.read_only or config.load().ui.read_only:
        raise UsageError("read-only: the actions are off (ui.read_only or --read-only)")
    if opts.request == "canary set" and opts.percent is None:
        raise UsageError("canary set needs a percentage, e.g. sbtop canary set 25")
    wiring = resolve_target(config.load(), opts.target)

    async def figures(window_s: float) -> Mapping[str, Figure]:
        from sbtop import check

        return (await check.run(wiring, window_s)).figures

    try:
        return action_commands.run_action(
            wiring.actions, wiring.identity, opts.request,
            state_dir=default_state_dir(opts.state_dir), read_figures=figures,
            percent=opts.percent, yes=opts.yes, dry_run=opts.dry_run, force=opts.force,
            window_s=opts.window_s, notify=wiring.notify)
    except action_commands.CommandError as e:
        raise UsageError(str(e)) from None


COMMAND = Command(ActionOptions.from_args, run)
