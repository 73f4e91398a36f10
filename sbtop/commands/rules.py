"""`sbtop rules`: a Prometheus alerting-rules file from the configured thresholds and alert
rules, for the metric names the app really exports (unless --no-detect)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from sbtop.commands import Command
from sbtop.commands.loading import ConfigFile
from sbtop.commands.targets import TargetOptions, resolve_target
from sbtop.commands.usage import UsageError


@dataclass(frozen=True)
class RulesOptions:
    target: TargetOptions
    group: str  # the rule group's name
    no_detect: bool  # the configured names, without looking at the target

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RulesOptions:
        return cls(TargetOptions.from_args(args), args.group, args.no_detect)


def run(opts: RulesOptions, config: ConfigFile) -> int:
    from sbtop import config as config_module
    from sbtop import rules
    from sbtop.engine.selector import SelectorError, selector_matchers

    selector = opts.target.selector or ""
    cfg = config.load()
    target = (resolve_target(cfg, opts.target, selector=False)
              if opts.target.given or cfg.targets else None)
    try:
        selector_matchers(selector)
    except SelectorError as e:
        raise UsageError(f"--selector: {e}") from None
    settings = target.engine if target is not None else config_module.engine_settings(cfg)
    if target is not None and target.collector.prometheus is not None and not selector:
        selector = target.collector.prometheus.selector
    shape, source = None, ""
    if target is not None and not opts.no_detect:
        import asyncio

        from sbtop import detect

        try:
            shape, selector, source = asyncio.run(detect.shape(target.collector, selector))
        except detect.DetectError as e:
            # Rules for names the app may not export would never fire: say so, write none.
            raise UsageError(f"cannot tell what the app exports: {e} (--no-detect writes the "
                             "rules for the configured metric names)") from None
    print(rules.rules_yaml(settings, opts.group, selector, shape, source), end="")
    return 0


COMMAND = Command(RulesOptions.from_args, run)
