"""The command line's grammar: every subcommand, its options and their checks (sbtop.commands.
argtypes). Standard library only, so `sbtop check --help` answers at once on a slow jump box."""

from __future__ import annotations

import argparse
import difflib
import sys
from typing import Any, NoReturn

from sbtop import __version__
from sbtop.commands import argtypes
from sbtop.commands.usage import EXIT_UNKNOWN


class _Parser(argparse.ArgumentParser):
    """Usage mistakes exit 3 (the monitoring-plugin 'unknown'), with one line, no traceback.
    A mistyped option is named as such: argparse would blame what follows it (`sbtop --thme
    dark` reads "dark" as the command) or list it among "unrecognized arguments"."""

    _argv: list[str] | None = None

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        # Each parser (a subcommand's too) keeps the words it was given, for error() to read.
        self._argv = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        ns, extras = self.parse_known_args(args, namespace)
        if extras:
            # Left over after parsing: said by the subcommand's parser, which knows its options.
            which = self._subcommand(getattr(ns, "command", None)) or self
            which.error(which._unknown(extras) or f"unrecognized arguments: {' '.join(extras)}")
        return ns

    def error(self, message: str) -> NoReturn:
        unknown = self._unknown(self._argv or [])
        if unknown is not None:
            message = unknown
        see = "" if "did you mean" in message else f" (see {self.prog} --help)"
        self.exit(EXIT_UNKNOWN, f"sbtop: {message}{see}\n")

    def _subcommand(self, name: str | None) -> _Parser | None:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and name in action.choices:
                chosen = action.choices[name]
                return chosen if isinstance(chosen, _Parser) else None
        return None

    def _unknown(self, words: list[str]) -> str | None:
        """'unknown option --thme (did you mean --theme?)' for the first option in words that
        this parser does not know (not even as an abbreviation); None when there is none. Words
        from a subcommand's name on are that subcommand's to judge."""
        known = list(self._option_string_actions)
        commands = {name for a in self._actions if isinstance(a, argparse._SubParsersAction)
                    for name in a.choices}
        for word in words:
            if word == "--" or word in commands:
                return None
            if not word.startswith("--") or len(word) < 3:
                continue
            name = word.split("=", 1)[0]
            if any(option.startswith(name) for option in known):
                continue
            # Close enough to be the same option mistyped (--thme, --windw), not --help.
            close = difflib.get_close_matches(
                name, [k for k in known if k.startswith("--") and k != "--help"], n=1,
                cutoff=0.75)
            return f"unknown option {name}" + (f" (did you mean {close[0]}?)" if close else "")
        return None


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
    g.add_argument("--refresh", type=argtypes.refresh, metavar="SECONDS",
                   help="seconds between scrapes (default: ui.refresh_s, 1)", **d)
    g.add_argument("--read-only", action="store_true",
                   help="no actions at all (canary, restart, rollback)", **d)
    g.add_argument("--state-dir", metavar="DIR", help="state and audit directory (default "
                   "$SBTOP_STATE_DIR, then $XDG_STATE_HOME/sbtop)", **d)
    g.add_argument("--record", metavar="FILE", help="also write every tick and action to a "
                   "recording (see sbtop replay, sbtop timeline)", **d)


def _plan_parser(sub: Any) -> None:
    plan = sub.add_parser(
        "plan", help="the deploy window: status, preflight, confirm ITEM, start / pass / "
        "rollback PHASE, reset", description="The deploy window as a plan ([plan] in the config): "
        "status prints where it stands (exit 2 when the phase in hand is failing); preflight "
        "runs the live pre-flight checks (exit 2 when one fails); confirm ITEM records a "
        "person's item; start, pass and rollback PHASE (its name or number) show the plan "
        "first, run the phase's command if it has one, and need the target's name typed on "
        "production. What needs an override (an open pre-flight item, an earlier phase not "
        "passed, a watch not over, a criterion failing) is refused unless --override gives "
        "the reason. reset starts a new deploy window: the old record is archived beside it "
        "(plan-TARGET.<UTC time>.json), refused while a phase's command runs. "
        "Exit 0 done, 1 refused, 2 failed, 3 usage or configuration.")
    _common(plan, suppress=True)
    plan.add_argument("verb", choices=["status", "preflight", "confirm", "start", "pass",
                                       "rollback", "reset"], help="what to do")
    plan.add_argument("name", nargs="?", help="the phase (name or number), or with confirm "
                      "the pre-flight item")
    plan.add_argument("--override", metavar="REASON", help="go ahead though the plan needs "
                      "an override; the reason is recorded in the audit log")
    plan.add_argument("--undo", action="store_true", help="with confirm: take it back")
    plan.add_argument("--window", type=argtypes.window, default=10.0, metavar="SECONDS",
                      help="seconds of figures the criteria are judged on (default 10)")
    plan.add_argument("--json", action="store_true", help="with status: one JSON object")
    _acting_options(plan, "run nothing")
    plan.add_argument("--demo", action="store_true", help="the built-in simulated StudyBuddy "
                      "backend and its plan")


def _acting_options(p: argparse.ArgumentParser, dry_run: str) -> None:
    """The options of every command that acts on production: the deploy actions and the plan."""
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--dry-run", action="store_true", help=f"show and record the plan, {dry_run}")
    p.add_argument("--state-dir", metavar="DIR", help="state and audit directory (default "
                   "$SBTOP_STATE_DIR, then $XDG_STATE_HOME/sbtop)")
    # Accepted (so a wrapper may always pass it) and hidden: it refuses every action.
    p.add_argument("--read-only", action="store_true", default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)


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
                           "judge every figure that has a threshold (the others are shown). "
                           "Exit 0 ok, 1 warning, 2 critical, 3 unknown.")
    _common(check, suppress=True)
    check.add_argument("--window", type=argtypes.window, default=10.0, metavar="SECONDS",
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
    verify.add_argument("--window", type=argtypes.window, default=10.0, metavar="SECONDS",
                        help="seconds of figures for the metric items (default 10)")
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    verify.add_argument("--state-dir", metavar="DIR", help="where the canary's baseline is "
                        "(default $SBTOP_STATE_DIR, then $XDG_STATE_HOME/sbtop)")
    verify.add_argument("--baseline-p95", type=argtypes.latency_ms, metavar="MS",
                        help="the p95 to compare with, in milliseconds, instead of the "
                        "canary's baseline")
    verify.add_argument("--baseline-5xx", type=argtypes.percent, metavar="PCT",
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
    record.add_argument("--for", dest="for_s", type=argtypes.duration, metavar="DURATION",
                        help="stop after this long: 90, 90s, 30m, 2h (default: until stopped)")
    record.add_argument("--refresh", type=argtypes.refresh, metavar="SECONDS",
                        help="seconds between ticks (default: ui.refresh_s, 1)")
    record.add_argument("--max-mb", type=argtypes.max_mb, default=200.0, metavar="MB",
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
    replay.add_argument("--speed", type=argtypes.speed, default=1, metavar="{1,10,60}",
                        help="playback speed, times real time (default 1)")
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
            act.add_argument("percent", nargs="?", type=argtypes.canary_percent,
                             help="with set: the percentage (0 to 100)")
            act.add_argument("--force", action="store_true",
                             help="step even though the gate is shut (recorded as an override)")
            act.add_argument("--window", type=argtypes.window, default=10.0, metavar="SECONDS",
                             help="seconds of figures for the gate (default 10)")
        _acting_options(act, "send nothing")

    _plan_parser(sub)

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
    demo.add_argument("--scenario",
                      choices=["good", "bad-canary", "render-incident", "memory-leak"],
                      default="good",
                      help="bad-canary: the optimized routes are 4x slower from the first "
                      "step (the canary cohort shows it at 5 %%) and regress from the 25 %% "
                      "step; render-incident: Render's status page says degraded and the "
                      "service is slower (them, not us); memory-leak: memory grows 600 MB/h "
                      "until a restart (r)")
    demo.add_argument("--instances", type=argtypes.instances, default=1, metavar="N",
                      help="run N instances (1 to 8), scraped at once and summed, each shown "
                      "on its own")
    demo.add_argument("--serve", action="store_true",
                      help="only serve the simulated backend (no console) until Ctrl-C")
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on")
    demo.add_argument("--port", type=argtypes.port, default=None,
                      help="port (default: 8099 with --serve, a free one for the console)")
    return parser

