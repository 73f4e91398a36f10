"""The command line. Headless commands import only what they use: `sbtop check --help` must
answer at once on a slow jump box, so httpx, prometheus_client and Textual load lazily."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from sbtop.config import Target

from sbtop import __version__

EXIT_UNKNOWN = 3


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """Usage mistakes exit 3 (the monitoring-plugin 'unknown'), with one line, no traceback."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_UNKNOWN, f"sbtop: {message} (see {self.prog} --help)\n")


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    # On subcommands the defaults are suppressed so `sbtop --config X check` and
    # `sbtop check --config X` both work without one overwriting the other.
    d: dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {}
    g = parser.add_argument_group("target selection")
    g.add_argument("--config", metavar="FILE", help="config file (default: $SBTOP_CONFIG, then "
                   "$XDG_CONFIG_HOME/sbtop/config.toml)", **d)
    g.add_argument("--target", metavar="NAME", help="which [targets.NAME] to use", **d)
    g.add_argument("--url", metavar="BASE", help="backend base URL; metrics at BASE + "
                   "metrics_path, health at BASE + health_path", **d)
    g.add_argument("--dsn", metavar="DSN", help="database DSN (prefer the environment variable "
                   "the target names: a DSN on the command line is visible in ps)", **d)
    g.add_argument("--prometheus-url", metavar="URL", help="read the figures from this "
                   "Prometheus (every instance) instead of scraping one /metrics", **d)
    g.add_argument("--selector", metavar="LABELS", help="with Prometheus: label matchers for "
                   'every metric, e.g. job="studybuddy" (default: the target\'s, else the only '
                   "job exporting the app's metrics)", **d)


def _console_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    d: dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {}
    g = parser.add_argument_group("console")
    g.add_argument("--theme", metavar="NAME", help="console theme (dark, light, high-contrast, "
                   "ansi, or a file of yours in $XDG_CONFIG_HOME/sbtop/themes)", **d)
    g.add_argument("--refresh", type=_positive, metavar="SECONDS",
                   help="seconds between scrapes (default: ui.refresh_s, 1)", **d)
    g.add_argument("--read-only", action="store_true",
                   help="no actions at all (canary, restart, rollback)", **d)
    g.add_argument("--state-dir", metavar="DIR", help="state and audit directory (default "
                   "$SBTOP_STATE_DIR, then $XDG_STATE_HOME/sbtop)", **d)
    g.add_argument("--record", metavar="FILE", help="also write every tick and action to a "
                   "recording (see sbtop replay, sbtop timeline)", **d)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sbtop", description="htop for a web backend mid-rollout: latency, "
                     "errors, database, sockets and memory against the runbook's thresholds.")
    parser.add_argument("--version", action="version", version=f"sbtop {__version__}")
    _common(parser, suppress=False)
    _console_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = sub.add_parser("check", help="one judged snapshot; exit 0 ok, 1 warning, "
                           "2 critical, 3 unknown",
                           description="Scrape the target twice, --window seconds apart, and "
                           "judge every figure. Exit 0 ok, 1 warning, 2 critical, 3 unknown.")
    _common(check, suppress=True)
    check.add_argument("--window", type=_positive, default=10.0, metavar="SECONDS",
                       help="seconds between the two scrapes (default 10)")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.add_argument("--demo", action="store_true",
                       help="check the built-in simulated StudyBuddy backend")

    verify = sub.add_parser("verify", help="the post-deployment checklist; exit 0 all pass, "
                            "2 any fails, 3 some unknown",
                            description="Send the checklist's HTTP probes ([[verify]] in the "
                            "config) at once while a --window of figures is taken, then judge "
                            "the error rate and p95 against the canary's baseline. Exit 0 when "
                            "every item passes, 2 when any fails, 3 when none fails but some "
                            "could not be judged (or on a usage error).")
    _common(verify, suppress=True)
    verify.add_argument("--window", type=_positive, default=10.0, metavar="SECONDS",
                        help="seconds of figures for the metric items (default 10)")
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    verify.add_argument("--state-dir", metavar="DIR", help="where the canary's baseline is "
                        "(default $SBTOP_STATE_DIR, then $XDG_STATE_HOME/sbtop)")
    verify.add_argument("--baseline-p95", type=_positive, metavar="MS",
                        help="the p95 to compare with, instead of the canary's baseline")
    verify.add_argument("--baseline-5xx", type=_percent, metavar="PCT",
                        help="the 5xx share to compare with, instead of the canary's baseline")
    verify.add_argument("--demo", action="store_true",
                        help="verify the built-in simulated StudyBuddy backend")

    record = sub.add_parser("record", help="keep every tick in a file, for replay and timeline",
                            description="Collect as the console does, without the console, and "
                            "write every tick (figures, levels, alerts, routes, database, the "
                            "canary's state) to FILE, gzip-compressed, until --for runs out or "
                            "Ctrl-C / SIGTERM / SIGHUP. Never overwrites a file.")
    _common(record, suppress=True)
    record.add_argument("file", help="the recording to write (e.g. deploy-2026-11-30.sbrec)")
    record.add_argument("--for", dest="for_s", type=_duration, metavar="DURATION",
                        help="stop after this long: 90, 90s, 30m, 2h (default: until stopped)")
    record.add_argument("--refresh", type=_positive, metavar="SECONDS",
                        help="seconds between ticks (default: ui.refresh_s, 1)")
    record.add_argument("--max-mb", type=_positive, default=200.0, metavar="MB",
                        help="stop recording at this size (default 200)")
    record.add_argument("--state-dir", metavar="DIR", help="where the canary's state is read "
                        "(default $SBTOP_STATE_DIR, then $XDG_STATE_HOME/sbtop)")
    record.add_argument("--demo", action="store_true",
                        help="record the built-in simulated StudyBuddy backend")

    replay = sub.add_parser("replay", help="the console on a recording: play, pause, seek, "
                            "speeds", description="Open the console on a recording, every "
                            "panel as it was. space plays or pauses, left/right seek 10 s, "
                            "pageup/pagedown 5 min, home/end the ends, 1 / 2 / 3 play at 1x, "
                            "10x, 60x.")
    replay.add_argument("file", help="a recording (sbtop record, or the console's --record)")
    replay.add_argument("--speed", type=int, choices=[1, 10, 60], default=1,
                        help="playback speed (default 1)")
    replay.add_argument("--theme", metavar="NAME", help="console theme")
    replay.add_argument("--config", metavar="FILE", help=argparse.SUPPRESS)

    timeline = sub.add_parser("timeline", help="a Markdown incident timeline from a recording",
                              description="Write a Markdown timeline of a recording: threshold "
                              "crossings, the overall level, alert state changes, sources down "
                              "and back, canary steps and actions, with times and values; then "
                              "each figure's worst value.")
    timeline.add_argument("file", help="a recording")
    timeline.add_argument("-o", "--output", metavar="FILE",
                          help="write to FILE instead of standard output (a new file)")
    timeline.add_argument("--force", action="store_true", help="replace an existing FILE "
                          "(never a recording, never through a symbolic link)")

    for name, helptext in (("canary", "the canary: status, next, set N, abort"),
                           ("restart", "restart the service"),
                           ("rollback", "roll back to the last deploy that was live")):
        first = helptext[0].upper() + helptext[1:]
        act = sub.add_parser(name, help=helptext, description=f"{first}. The plan is shown "
                             "first; production targets need their name typed. Exit 0 done, "
                             "1 refused, 2 failed, 3 usage or configuration.")
        _common(act, suppress=True)
        if name == "canary":
            act.add_argument("step", choices=["status", "next", "set", "abort"],
                             help="what to do with the canary")
            act.add_argument("percent", nargs="?", type=int, help="with set: the percentage")
            act.add_argument("--force", action="store_true",
                             help="step even though the gate is shut (recorded as an override)")
            act.add_argument("--window", type=_positive, default=10.0, metavar="SECONDS",
                             help="seconds of figures for the gate (default 10)")
        act.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        act.add_argument("--dry-run", action="store_true", help="show and record the plan, "
                         "send nothing")
        act.add_argument("--state-dir", metavar="DIR", help="state and audit directory "
                         "(default $SBTOP_STATE_DIR, then $XDG_STATE_HOME/sbtop)")
        act.add_argument("--read-only", action="store_true", default=argparse.SUPPRESS,
                         help=argparse.SUPPRESS)

    rules = sub.add_parser("rules", help="Prometheus alerting rules from the thresholds",
                           description="Print a Prometheus alerting-rules file generated from "
                           "the configured thresholds and alert rules (promtool check rules "
                           "accepts it), so the pager and the console agree.")
    _common(rules, suppress=True)
    rules.add_argument("--group", default="sbtop", help="the rule group's name")
    rules.add_argument("--no-detect", action="store_true",
                       help="write the rules for the configured metric names without looking "
                       "at the target (by default sbtop reads what the app exports from the "
                       "target's Prometheus or metrics page)")

    init = sub.add_parser("init", help="write a starter config",
                          description="Write a commented starter config (default: the XDG "
                          "config path). Never overwrites without --force.")
    init.add_argument("path", nargs="?", help="where to write it")
    init.add_argument("--force", action="store_true", help="replace an existing file")

    demo = sub.add_parser("demo", help="the console on the built-in simulated StudyBuddy backend",
                          description="Start the simulated StudyBuddy backend on loopback and "
                          "open the console on it; with --serve, only the backend.")
    _console_options(demo, suppress=True)
    demo.add_argument("--dsn", metavar="DSN", default=argparse.SUPPRESS,
                      help="a database to show in the Database panel")
    demo.add_argument("--scenario", choices=["good", "bad-canary"], default="good",
                      help="bad-canary: the optimized routes regress from the 25 %% step")
    demo.add_argument("--instances", type=_instances, default=1, metavar="N",
                      help="run N instances (1 to 8), scraped at once and summed, each shown "
                      "on its own")
    demo.add_argument("--serve", action="store_true",
                      help="only serve the simulated backend (no console) until Ctrl-C")
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on")
    demo.add_argument("--port", type=int, default=None,
                      help="port (default: 8099 with --serve, a free one for the console)")
    return parser


def _instances(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= n <= 8:
        raise argparse.ArgumentTypeError(f"{n}: between 1 and 8")
    return n


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text}: a percentage is between 0 and 100")
    return value


def _duration(text: str) -> float:
    from sbtop.config import ConfigError, duration_seconds

    try:
        seconds = duration_seconds(text.strip() if not text.strip().replace(".", "").isdigit()
                                   else float(text))
    except ConfigError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90, 90s, 30m, 2h)"
                                         ) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text}: must be longer than 0")
    return seconds


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError("must be between 0 and 3600 seconds")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    commands: dict[str | None, Callable[[argparse.Namespace], int]] = {
        "check": _cmd_check,
        "init": _cmd_init,
        "demo": _cmd_demo,
        "rules": _cmd_rules,
        "verify": _cmd_verify,
        "record": _cmd_record,
        "replay": _cmd_replay,
        "timeline": _cmd_timeline,
        "canary": _cmd_action,
        "restart": _cmd_action,
        "rollback": _cmd_action,
    }
    _guard_streams(args.command)
    try:
        if args.command is None:
            return _cmd_console(args)
        code = commands[args.command](args)
        sys.stdout.flush()  # here, where a failure can still be said, not at exit
        return code
    except KeyboardInterrupt:
        return 130
    except UsageError as e:
        print(f"sbtop: {e}", file=sys.stderr)
        return EXIT_UNKNOWN
    except BrokenPipeError:  # `sbtop check --json | head -1`: the reader left; not an error
        _stdout_to_devnull()
        return EXIT_UNKNOWN
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EIO, errno.EPIPE):
            raise
        # The output could not be written (`> /dev/full`, a full disk): one line, and the
        # monitoring-plugin "unknown", never a traceback or a reassuring 0.
        _stdout_to_devnull()
        print(f"sbtop: cannot write the output: {e.strerror}", file=sys.stderr)
        return EXIT_UNKNOWN


def _stdout_to_devnull() -> None:
    """What is left in stdout's buffer goes nowhere: flushing it again at exit would fail
    again, with Python's own 'Exception ignored' message."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):
        os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


# Commands whose stdout is the console's terminal, written by Textual.
_CONSOLES = (None, "demo", "replay")


def _guard_streams(command: str | None) -> None:
    """The text faces' stdout and stderr show any control character left in what they print
    as an escape (sbtop.untrusted): the last line of defence, behind the boundary where
    outside text enters. The console's stdout is Textual's own, and stays untouched."""
    from sbtop.untrusted import TerminalGuard

    if not isinstance(sys.stderr, TerminalGuard):
        sys.stderr = TerminalGuard(sys.stderr)
    if command not in _CONSOLES and not isinstance(sys.stdout, TerminalGuard):
        sys.stdout = TerminalGuard(sys.stdout)


def _demo_target(url: str, dsn: str | None = None,
                 metrics_urls: list[str] | None = None) -> Target:
    """The simulated backend with the runbook's defaults, whatever the user's config says.
    Its database is only the one given with --dsn: never $DATABASE_URL from the shell, which
    may well be production's. Its deploy actions go to the backend's own Render-shaped API."""
    import dataclasses
    import os

    from sbtop import config
    from sbtop.checklist import STUDYBUDDY
    from sbtop.demo.app_api import DEMO_EMAIL, DEMO_PASSWORD, DEMO_SESSION
    from sbtop.demo.render_api import API_KEY, SERVICE_ID

    # Loopback: compressing the page would cost both ends CPU and save nothing.
    demo = config.TargetConfig(
        base_url=url, gzip=False, dsn_env="", metrics_urls=metrics_urls or [],
        render=config.RenderConfig(service_id=SERVICE_ID, api_key_env="SBTOP_DEMO_RENDER_KEY",
                                   api_url=url + "/v1"))
    env = {**os.environ, "SBTOP_DEMO_RENDER_KEY": API_KEY}
    # StudyBuddy's checklist, logged in as the simulation's test account.
    cfg = dataclasses.replace(config.parse({"verify": STUDYBUDDY}), targets={"demo": demo})
    target = config.resolve(cfg, dsn=dsn, env=env)
    return dataclasses.replace(target, probe_env={
        "STUDYBUDDY_VERIFY_EMAIL": DEMO_EMAIL, "STUDYBUDDY_VERIFY_PASSWORD": DEMO_PASSWORD,
        "STUDYBUDDY_SESSION_COOKIE": DEMO_SESSION})


def _load_config(args: argparse.Namespace) -> Any:
    """The config file the arguments name (or none), read once, its permissions warned about."""
    from sbtop import config

    try:
        path = config.find_config(getattr(args, "config", None))
        cfg = config.load(path)
    except config.ConfigError as e:
        raise UsageError(f"config error: {e}") from None
    if path is not None:
        warning = config.permission_warning(path, cfg)
        if warning:
            print(f"sbtop: {warning}", file=sys.stderr)
    return cfg


def _load_target(args: argparse.Namespace, *, selector: bool = True, cfg: Any = None) -> Target:
    from sbtop import config

    if cfg is None:
        cfg = _load_config(args)
    try:
        target = config.resolve(cfg, getattr(args, "target", None),
                                url=getattr(args, "url", None),
                                dsn=getattr(args, "dsn", None),
                                prometheus_url=getattr(args, "prometheus_url", None),
                                selector=getattr(args, "selector", None) if selector else None)
    except config.ConfigError as e:
        raise UsageError(f"config error: {e}") from None
    for w in target.warnings:
        print(f"sbtop: {w}", file=sys.stderr)
    return target


@contextlib.contextmanager
def _target_for(args: argparse.Namespace) -> Iterator[tuple[Target, bool]]:
    """The target the arguments name and whether it is the demo: with --demo, a simulated
    backend started for as long as the command runs."""
    if not getattr(args, "demo", False):
        yield _load_target(args), False
        return
    from sbtop.demo.backend import SimulatedBackend

    backend = SimulatedBackend(port=0).start()
    try:
        yield _demo_target(backend.url, getattr(args, "dsn", None)), True
    finally:
        backend.stop()


def _cmd_check(args: argparse.Namespace) -> int:
    import asyncio

    from sbtop import check

    with _target_for(args) as (target, _demo):
        assessment = asyncio.run(check.run(target, args.window))
    if args.json:
        print(check.as_json(assessment))
    else:
        print(check.as_text(assessment, target.base_url))
    return assessment.level.exit_code


def _cmd_verify(args: argparse.Namespace) -> int:
    import asyncio

    from sbtop import verify
    from sbtop.config import ConfigError

    with _target_for(args) as (target, _demo):
        try:
            baseline = _baseline(args, target.name)
            report = asyncio.run(verify.run(target, args.window, baseline))
        except ConfigError as e:  # a checklist variable holding what a header cannot carry
            raise UsageError(f"config error: {e}") from None
    print(verify.as_json(report) if args.json else verify.as_text(report, target.base_url))
    return report.exit_code


def _baseline(args: argparse.Namespace, target: str) -> Any:
    """What the metric items compare with: the flags, else the canary's baseline in the state
    directory (taken before the first step), else None (then the thresholds judge)."""
    from sbtop.actions.state import StateDirError, StateStore, default_state_dir
    from sbtop.engine.assessment import iso
    from sbtop.verify import Baseline

    if args.baseline_p95 is not None or args.baseline_5xx is not None:
        return Baseline({"latency_p95_ms": args.baseline_p95,
                         "error_rate_5xx_pct": args.baseline_5xx}, "given on the command line")
    if args.demo:
        return None
    store = StateStore(default_state_dir(getattr(args, "state_dir", None)), target)
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


def _cmd_record(args: argparse.Namespace) -> int:
    import asyncio

    from sbtop import record
    from sbtop.actions.state import StateDirError, StateStore, default_state_dir
    from sbtop.recording.writer import RecordingError

    with _target_for(args) as (target, demo):
        refresh = args.refresh or (1.0 if demo else _ui(args).refresh_s)
        path = Path(args.file)
        # The canary is recorded only where there is one: a target with a provider. A state
        # directory others can write in is refused before the recording is begun.
        state_dir = default_state_dir(args.state_dir) if not demo and target.actions_kind else None
        try:
            if state_dir is not None:
                StateStore(state_dir, target.name).check()
        except StateDirError as e:
            raise UsageError(str(e)) from None
        print(f"sbtop: recording {target.name} every {refresh:g}s to {path}"
              + (f" for {args.for_s:g}s" if args.for_s else " until Ctrl-C"), file=sys.stderr)
        try:
            summary = asyncio.run(record.run(
                target, path, for_s=args.for_s, refresh_s=refresh,
                max_bytes=int(args.max_mb * 1024 * 1024), state_dir=state_dir))
        except (RecordingError, StateDirError) as e:
            raise UsageError(str(e)) from None
    print(summary.text(path))
    return 0


def _open_recording(name: str, *, whole: bool = False, ticks: bool = False) -> Any:
    """The recording, or one line and exit 3. With `whole`, a line in it that sbtop did not
    write that way refuses it too: a postmortem's timeline is not made from a damaged file.
    With `ticks`, a recording with no tick to show."""
    from sbtop.recording.reader import Recording
    from sbtop.recording.writer import RecordingError

    try:
        rec = Recording(Path(name))
    except RecordingError as e:
        raise UsageError(str(e)) from None
    if whole and rec.malformed:
        rec.close()
        raise UsageError(f"{name}: {rec.malformed}: no timeline is made from a damaged "
                         "recording (sbtop replay plays what is readable)")
    if ticks and not len(rec):
        rec.close()
        raise UsageError(f"{name}: the recording holds no ticks"
                         + (f" that can be read ({rec.problem})" if rec.problem else ""))
    if rec.problem:
        print(f"sbtop: note: {name}: {rec.problem}", file=sys.stderr)
    return rec


def _cmd_timeline(args: argparse.Namespace) -> int:
    from sbtop.recording.timeline import markdown
    from sbtop.recording.writer import RecordingError, write_output

    with _open_recording(args.file, whole=True) as rec:
        try:
            text = markdown(rec)
        except RecordingError as e:  # the file changed while it was read
            raise UsageError(str(e)) from None
    if args.output:
        try:
            write_output(Path(args.output), text, force=args.force)
        except RecordingError as e:
            raise UsageError(str(e)) from None
    else:
        print(text, end="")
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from sbtop.console.replay import run_replay

    rec = _open_recording(args.file, ticks=True)
    config_theme = None
    if args.theme is None:
        from sbtop import config

        with contextlib.suppress(config.ConfigError):
            config_theme = config.load(config.find_config(args.config)).ui.theme
    _console_ready(args, config_theme)
    return run_replay(rec, theme=args.theme or config_theme, speed=args.speed)


def _cmd_action(args: argparse.Namespace) -> int:
    from sbtop.actions import commands
    from sbtop.actions.state import default_state_dir

    if getattr(args, "read_only", False) or _ui(args).read_only:
        raise UsageError("read-only: the actions are off (ui.read_only or --read-only)")
    request = args.command
    percent = None
    if args.command == "canary":
        request = f"canary {args.step}"
        if args.step == "set":
            if args.percent is None:
                raise UsageError("canary set needs a percentage, e.g. sbtop canary set 25")
            if not 0 <= args.percent <= 100:
                raise UsageError(f"canary set: {args.percent} is not a percentage (0 to 100)")
            percent = args.percent
    target = _load_target(args)
    try:
        return commands.run_action(
            target, request, state_dir=default_state_dir(args.state_dir), percent=percent,
            yes=args.yes, dry_run=args.dry_run, force=getattr(args, "force", False),
            window_s=getattr(args, "window", 10.0))
    except commands.CommandError as e:
        raise UsageError(str(e)) from None


def _cmd_rules(args: argparse.Namespace) -> int:
    from sbtop import config, rules
    from sbtop.engine.promql import SelectorError, selector_matchers

    selector = getattr(args, "selector", None) or ""
    cfg = _load_config(args)
    given = any(getattr(args, k, None) for k in ("target", "url", "prometheus_url"))
    target = _load_target(args, selector=False, cfg=cfg) if given or cfg.targets else None
    try:
        selector_matchers(selector)
    except SelectorError as e:
        raise UsageError(f"--selector: {e}") from None
    settings = target.engine if target is not None else config.engine_settings(cfg)
    if target is not None and target.prometheus is not None and not selector:
        selector = target.prometheus.selector
    shape, source = None, ""
    if target is not None and not args.no_detect:
        import asyncio

        from sbtop import detect

        try:
            shape, selector, source = asyncio.run(detect.shape(target, selector))
        except detect.DetectError as e:
            # Rules for names the app may not export would never fire: say so, write none.
            raise UsageError(f"cannot tell what the app exports: {e} (--no-detect writes the "
                             "rules for the configured metric names)") from None
    print(rules.rules_yaml(settings, args.group, selector, shape, source), end="")
    return 0


def _cmd_init(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sbtop import config, starter

    path = Path(args.path) if args.path else config.default_path()
    try:
        starter.write(path, args.force)
    except config.ConfigError as e:
        raise UsageError(str(e)) from None
    print(f"wrote {path}")
    return 0


def _console(target: Target, args: argparse.Namespace, ui: Any,
             state_dir: Path | None = None) -> int:
    from sbtop.actions.state import default_state_dir
    from sbtop.console.app import run

    return run(target, theme=getattr(args, "theme", None) or ui.theme,
               refresh_s=getattr(args, "refresh", None) or ui.refresh_s,
               history_s=ui.history_s,
               read_only=bool(getattr(args, "read_only", False)) or ui.read_only,
               state_dir=state_dir or default_state_dir(getattr(args, "state_dir", None)),
               record=getattr(args, "record", None))


def _console_ready(args: argparse.Namespace, config_theme: str | None) -> None:
    """Refuse, in one line and before anything starts, a console that would start wrong: in a
    theme that does not exist (it would open in another, with a notice gone in seconds), or
    without a terminal (it would write escape codes into a file or a pipe for ever)."""
    import os

    given = getattr(args, "theme", None)
    theme, where = (given, "--theme") if given else (config_theme, "ui.theme")
    if theme is not None:
        from sbtop.console.themes import theme_problem

        problem = theme_problem(theme)
        if problem:
            raise UsageError(f"{where}: {problem}")
    for fd, stream in ((1, "stdout"), (0, "stdin"), (2, "stderr")):
        if not os.isatty(fd):
            raise UsageError(f"the console needs a terminal, and its {stream} is not one (for "
                             "text, use sbtop check; to collect unattended, sbtop record)")


def _ui(args: argparse.Namespace) -> Any:
    from sbtop import config

    try:
        return config.load(config.find_config(getattr(args, "config", None))).ui
    except config.ConfigError as e:
        raise UsageError(f"config error: {e}") from None


def _cmd_console(args: argparse.Namespace) -> int:
    target = _load_target(args)
    ui = _ui(args)
    _console_ready(args, ui.theme)
    return _console(target, args, ui)


def _demo_ui(args: argparse.Namespace) -> Any:
    from sbtop import config

    try:
        return config.load(config.find_config(getattr(args, "config", None))).ui
    except config.ConfigError:
        return config.UiConfig()  # the demo runs on defaults whatever the file says


def _cmd_demo(args: argparse.Namespace) -> int:
    from sbtop.demo.backend import CONTROL_PATH, fleet

    ui = None
    if not args.serve:
        ui = _demo_ui(args)
        _console_ready(args, ui.theme)
    port = args.port if args.port is not None else (8099 if args.serve else 0)
    try:
        backends = fleet(args.instances, args.host, port)
    except OSError as e:
        raise UsageError(str(e)) from None
    for b in backends:
        b.start()
    first = backends[0]
    # Several instances: each scraped on its own and summed, as a listed-URLs target is.
    metrics_urls = [f"{b.url}/metrics" for b in backends] if len(backends) > 1 else None
    try:
        if ui is not None:
            if args.scenario == "bad-canary":
                for b in backends:  # the optimized routes regress from 25 %
                    b.set(canary_regresses_at=25)
            import tempfile

            # The demo's state and audit log are its own, gone with it.
            with tempfile.TemporaryDirectory(prefix="sbtop-demo-") as state:
                target = _demo_target(first.url, getattr(args, "dsn", None), metrics_urls)
                return _console(target, args, ui, Path(state))
        for i, b in enumerate(backends):
            which = f" (instance {i + 1} of {len(backends)})" if len(backends) > 1 else ""
            print(f"simulated StudyBuddy backend on {b.url}{which}\n"
                  f"  metrics  {b.url}/metrics\n"
                  f"  health   {b.url}/api/health\n"
                  f"  control  {b.url}{CONTROL_PATH}  (POST JSON knobs; POST .../restart)")
        print("Ctrl-C stops it.", flush=True)
        import threading

        threading.Event().wait()
    finally:
        for b in backends:
            b.stop()
    return 0
