"""`sbtop demo`: the console on the built-in simulated StudyBuddy backend (and its providers'
status pages); with --serve, only the backend, until Ctrl-C."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from sbtop.commands import Command
from sbtop.commands.console import ConsoleOptions, console_ready, start_console
from sbtop.commands.loading import ConfigFile
from sbtop.commands.targets import DEMO_SOAK_NOTE, demo_target
from sbtop.commands.usage import UsageError

LEAK_MB_PER_H = 600.0  # the memory-leak scenario's


@dataclass(frozen=True)
class DemoOptions:
    console: ConsoleOptions
    dsn: str | None  # a database to show in the Database panel
    scenario: str  # "good", "bad-canary" or "memory-leak"
    instances: int
    serve: bool  # only the backend, no console
    host: str
    port: int | None  # None: 8099 with --serve, a free one for the console

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DemoOptions:
        return cls(ConsoleOptions.from_args(args), args.dsn, args.scenario, args.instances,
                   args.serve, args.host, args.port)


def run(opts: DemoOptions, config: ConfigFile) -> int:
    from sbtop.demo.backend import fleet
    from sbtop.demo.render_api import API_KEY, SERVICE_ID
    from sbtop.demo.server import CONTROL_PATH
    from sbtop.demo.status_pages import page_url

    ui = None
    if not opts.serve:
        # The demo watches its own backend with the runbook's defaults: only the ui settings
        # come from the config, and a broken file is said, then the defaults used.
        ui = config.ui_or_defaults()
        console_ready(opts.console.theme, ui.theme)
    port = opts.port if opts.port is not None else (8099 if opts.serve else 0)
    try:
        backends = fleet(opts.instances, opts.host, port)
    except OSError as e:
        raise UsageError(str(e)) from None
    for b in backends:
        b.start()
    first = backends[0]
    # Several instances: each scraped on its own and summed, as a listed-URLs target is.
    metrics_urls = [f"{b.url}/metrics" for b in backends] if len(backends) > 1 else None
    try:
        if opts.scenario == "bad-canary":
            # The optimized routes regress from 25 % (served alone too), and are four times
            # as slow before: a slow canary cohort that hardly moves the whole service at 5 %,
            # which the cohort gate catches.
            for b in backends:
                b.set(canary_regresses_at=25, canary_slowdown=4.0)
        elif opts.scenario == "render-incident":
            # Them, not us: Render's page says degraded, and the service is slower for it.
            for b in backends:
                b.set(render_incident=1, latency_scale=1.6)
        elif opts.scenario == "memory-leak":
            for b in backends:  # from 180 MB of 512: warning (80 %) in ~23 min, critical ~31
                b.set(memory_leak_mb_per_h=LEAK_MB_PER_H)
        if ui is not None:
            import tempfile

            # The demo's state and audit log are its own, gone with it, unless --state-dir
            # names a directory (to share it with `sbtop canary` run against the demo).
            with tempfile.TemporaryDirectory(prefix="sbtop-demo-") as state:
                wiring = demo_target(first.url, opts.dsn, metrics_urls, ui)
                where = Path(opts.console.state_dir) if opts.console.state_dir else Path(state)
                return start_console(wiring, opts.console, where, notes=(DEMO_SOAK_NOTE,))
        for i, b in enumerate(backends):
            which = f" (instance {i + 1} of {len(backends)})" if len(backends) > 1 else ""
            print(f"simulated StudyBuddy backend on {b.url}{which}\n"
                  f"  metrics  {b.url}/metrics\n"
                  f"  health   {b.url}/api/health\n"
                  f"  control  {b.url}{CONTROL_PATH}  (POST JSON knobs; POST .../restart)\n"
                  f"  render   {b.url}/v1  (Render's API: service {SERVICE_ID}, "
                  f"API key {API_KEY})\n"
                  f"  status   {page_url(b.url, 'render')}  (Render's status page; "
                  f"vercel too)")
        print("Ctrl-C stops it.", flush=True)
        import threading

        threading.Event().wait()
    finally:
        for b in backends:
            b.stop()
    return 0


COMMAND = Command(DemoOptions.from_args, run)
