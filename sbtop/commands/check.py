"""`sbtop check`: one judged snapshot, in text or JSON; exit 0 ok, 1 warning, 2 critical,
3 unknown."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from sbtop.commands import Command
from sbtop.commands.loading import ConfigFile
from sbtop.commands.targets import TargetOptions, target_for


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
    if opts.json:
        print(check.as_json(assessment, pages, wiring.advice))
    else:
        print(check.as_text(assessment, wiring.base_url, pages, wiring.advice))
    return assessment.level.exit_code


COMMAND = Command(CheckOptions.from_args, run)
