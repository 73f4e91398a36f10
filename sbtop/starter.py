"""`sbtop init`: a commented starter config, written with tomli-w, never over an existing file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

import tomli_w

from sbtop.checklist import STUDYBUDDY
from sbtop.config import ConfigError
from sbtop.config.status_pages import RUNBOOK_PAGES
from sbtop.deploy_plan import CONTACTS, runbook_plan

# (comment, table) pairs: tomli-w writes the tables, the comments go above them.
_SECTIONS: list[tuple[str, dict[str, Any] | str]] = [
    ("sbtop configuration (sbtop init). Every key is described in config.example.toml.\n"
     "Secrets never go in this file: it names the environment variables that hold them.",
     {"default_target": "production"}),
    ("The backend to watch. `production = true` puts a PRODUCTION marker on the console and\n"
     "asks for the target's name before any action.",
     {"targets": {"production": {
         "base_url": "https://your-backend.onrender.com",
         "metrics_path": "/metrics",
         "health_path": "/api/health",
         "production": True,
         "dsn_env": "DATABASE_URL",
         "memory_limit_mb": 512,
     }}}),
    ("A protected /metrics: the runbook's curl sends a session cookie. Uncomment and name the\n"
     "environment variable that holds it.",
     {}),
    ("Render's API, for the canary, restart and rollback actions.",
     {"targets": {"production": {"render": {
         "service_id": "srv-xxxxx",
         "api_key_env": "RENDER_API_KEY",
     }}}}),
    ("The runbook's thresholds (these are the defaults): warning and critical bounds.",
     {"thresholds": {
         "latency_p95_ms": {"warning": 500, "critical": 1000},
         "error_rate_5xx_pct": {"warning": 1, "critical": 5},
         "db_connections_pct": {"warning": 80, "critical": 95},
         "memory_pct": {"warning": 80, "critical": 95},
         "socket_connections": {"warning": 1000, "critical": 2000},
     }}),
    ("The canary plan: the feature flag and its steps.",
     {"canary": {"flag": "PERF_OPTIMIZATIONS_ENABLED", "steps": [0, 5, 25, 100]}}),
    ("Who knows: the bell and a desktop notification (OSC 777/9, over SSH too) when an alert\n"
     "fires or resolves, the canary gate turns red or an action finishes; key m mutes them.\n"
     "For #studybuddy-alerts: webhook_url_env = \"SLACK_WEBHOOK_URL\", that variable holding\n"
     "a Slack incoming webhook's URL (a secret: never in this file).",
     {"notify": {"bell": True, "desktop": True, "webhook_url_env": ""}}),
    ("The runbook's contacts and escalation (section 9), shown in the console's help (?).",
     {"contacts": dict(CONTACTS)}),
    ("The runbook's post-deployment checklist (`sbtop verify`, key v in the console). The\n"
     "login probe's body reads $STUDYBUDDY_VERIFY_EMAIL and $STUDYBUDDY_VERIFY_PASSWORD (a test\n"
     "account); the others send the session cookie in $STUDYBUDDY_SESSION_COOKIE.",
     {"verify": STUDYBUDDY}),
    ("Is it us or them: the runbook's providers' status pages, shown in the header and in\n"
     "`sbtop check`. Delete them on a box with no way out to the internet.",
     # As [[status_pages]] tables: tomli-w writes short ones as an inline array, which after
     # the [[verify]] tables above would belong to the last of them.
     "\n\n".join("[[status_pages]]\n" + tomli_w.dumps({"name": n, "url": u}).rstrip("\n")
                 for n, u in RUNBOOK_PAGES)),
    ("The deploy window as a plan (the runbook's pre-deployment checklist and its five phases;\n"
     "the contacts above are shown with it): sbtop plan status | preflight | confirm ITEM |\n"
     "start | pass | rollback PHASE. Every key is described in config.example.toml.",
     {"plan": runbook_plan()}),
]

_AUTH_EXAMPLE = """\
# [targets.production.auth]
# cookie = "connect.sid"
# cookie_env = "STUDYBUDDY_SESSION_COOKIE"
"""


def starter_text() -> str:
    parts = []
    for comment, table in _SECTIONS:
        parts.append("\n".join(f"# {line}" if line else "#" for line in comment.split("\n")))
        if isinstance(table, str):
            parts.append(table)
        elif table:
            parts.append(tomli_w.dumps(table).rstrip("\n"))
        else:
            parts.append(_AUTH_EXAMPLE.rstrip("\n"))
        parts.append("")
    return "\n".join(parts)


def write(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; not overwriting it (use --force to replace it)")
    if path.is_dir():
        raise ConfigError(f"{path} is a directory")
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # An unguessable name created O_EXCL beside it (nothing planted there is written
        # through), 0600: the file names secret variables, and people add cookies to it by
        # mistake. The rename replaces a link at `path` rather than writing through it.
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(starter_text())
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise ConfigError(f"{path}: cannot write: {e.strerror}") from None
