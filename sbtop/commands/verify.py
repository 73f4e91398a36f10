"""`sbtop verify`: the post-deployment checklist; exit 0 all pass, 2 any fails, 3 some
unknown."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sbtop.commands import Command
from sbtop.commands.loading import ConfigFile
from sbtop.commands.targets import TargetOptions, target_for
from sbtop.commands.usage import UsageError
from sbtop.engine.keys import Fig

if TYPE_CHECKING:
    from sbtop.verify import Baseline


@dataclass(frozen=True)
class VerifyOptions:
    target: TargetOptions
    window_s: float  # of figures for the metric items
    json: bool
    demo: bool
    state_dir: str | None  # where the canary's baseline is
    baseline_p95_ms: float | None  # given instead of the canary's baseline
    baseline_5xx_pct: float | None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> VerifyOptions:
        return cls(TargetOptions.from_args(args), args.window, args.json, args.demo,
                   args.state_dir, args.baseline_p95, args.baseline_5xx)


def run(opts: VerifyOptions, config: ConfigFile) -> int:
    import asyncio

    from sbtop import check, verify
    from sbtop.config import ConfigError

    with target_for(config, opts.target, opts.demo) as (wiring, _demo):
        try:
            baseline = _baseline(opts, wiring.name)
            window = check.run(wiring, opts.window_s)
            report = asyncio.run(verify.run(wiring.verify, window, baseline))
        except ConfigError as e:  # a checklist variable holding what a header cannot carry
            raise UsageError(f"config error: {e}") from None
    print(verify.as_json(report) if opts.json else verify.as_text(report, wiring.base_url))
    return report.exit_code


def _baseline(opts: VerifyOptions, target: str) -> Baseline | None:
    """What the metric items compare with: the flags, else the canary's baseline in the state
    directory (taken before the first step), else None (then the thresholds judge)."""
    from sbtop.actions.state import StateDirError, StateStore, default_state_dir
    from sbtop.engine.assessment import iso
    from sbtop.verify import Baseline

    if opts.baseline_p95_ms is not None or opts.baseline_5xx_pct is not None:
        return Baseline({Fig.LATENCY_P95_MS: opts.baseline_p95_ms,
                         Fig.ERROR_RATE_5XX_PCT: opts.baseline_5xx_pct},
                        "given on the command line")
    if opts.demo:
        return None
    store = StateStore(default_state_dir(opts.state_dir), target)
    try:
        canary = store.load().canary
    except StateDirError as e:
        raise UsageError(str(e)) from None
    if store.problem:
        print(f"sbtop: warning: {store.problem}", file=sys.stderr)
    if not canary.baseline:
        return None
    return Baseline(dict(canary.baseline),
                    f"the canary's, taken {iso(canary.baseline_wall) or 'at an unknown time'}")


COMMAND = Command(VerifyOptions.from_args, run)
