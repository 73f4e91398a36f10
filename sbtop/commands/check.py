"""`sbtop check`: one judged snapshot, in text or JSON; exit 0 ok, 1 warning, 2 critical,
3 unknown."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sbtop.commands import Command
from sbtop.commands.loading import ConfigFile
from sbtop.commands.targets import TargetOptions, target_for

if TYPE_CHECKING:
    from sbtop.actions.plan_commands import PlanReport
    from sbtop.engine.assessment import Assessment
    from sbtop.wiring import Wiring


@dataclass(frozen=True)
class CheckOptions:
    target: TargetOptions
    window_s: float  # between the two scrapes
    json: bool
    demo: bool  # the built-in simulated backend instead of a target

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> CheckOptions:
        return cls(TargetOptions.from_args(args), args.window, args.json, args.demo)


def run(opts: CheckOptions, config: ConfigFile) -> int:
    import asyncio

    from sbtop import check

    with target_for(config, opts.target, opts.demo) as (wiring, _demo):
        assessment, pages = asyncio.run(check.run_with_status_pages(wiring, opts.window_s))
    plan = _plan(wiring, assessment)  # the deploy window, when [plan] has phases
    if opts.json:
        # "plan" is always there, null without [plan] phases, as "status_pages" is [].
        print(check.as_json(assessment, pages, wiring.advice,
                            {"plan": plan.json if plan else None}))
    else:
        print(check.as_text(assessment, wiring.base_url, pages, wiring.advice))
        if plan:
            print(f"  plan: {plan.stands}")
    return assessment.level.exit_code


def _plan(wiring: Wiring, a: Assessment) -> PlanReport | None:
    from sbtop.actions.plan_commands import plan_report
    from sbtop.actions.state import default_state_dir

    return plan_report(wiring, a, default_state_dir())


COMMAND = Command(CheckOptions.from_args, run)
