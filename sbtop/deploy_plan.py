"""StudyBuddy's deploy window (the runbook's sections 1, 2 and 9) as `[plan]`: the
pre-deployment checklist, the five phases with their durations, risks, watch periods and
rollbacks, and the escalation contacts. One place: written by `sbtop init`, copied into
config.example.toml (a test keeps the copy equal), and, with harmless commands and short
watches, the demo's.

Commands are argv lists run without a shell: where the runbook's rollback needs one (a
redirection, `$DATABASE_URL` expanded) or is a person's job (revert a commit and push), it is
a note instead."""

from __future__ import annotations

import copy
from typing import Any

# The runbook's section 9, as the [contacts] table (shown in the help and with the plan).
CONTACTS: dict[str, str] = {"primary": "[Your Name]", "secondary": "[Team Member]",
                            "escalation": "[Tech Lead]", "slack_channel": "#studybuddy-alerts",
                            "status_page": "status.studybuddy.com"}

PREFLIGHT: list[dict[str, Any]] = [
    {"name": "All tests passing locally"},
    {"name": "Database backup completed"},
    {"name": "Monitoring dashboard accessible", "check": "target"},
    {"name": "Rollback plan documented"},
    {"name": "Team notified of deployment window"},
    {"name": "Figures OK now", "check": "figures"},
    {"name": "Baseline captured", "check": "baseline",
     "note": "the p95 the canary is judged against; the runbook's load test baseline too"},
    {"name": "Database answers", "check": "database"},
    {"name": "Database answers a read-only query", "check": "sql",
     "sql": "SELECT count(*) > 0 FROM information_schema.tables", "timeout_s": 10},
    {"name": "Index migration present", "check": "command",
     "command": ["test", "-f", "infra/migrations/001_add_indexes.sql"], "timeout_s": 10,
     "note": "a path relative to where sbtop runs: the app's repository"},
]

# The watches the runbook gives: 10 minutes for phase 1 ("monitor for 10 minutes"), 15 for
# phase 3 ("monitor error rates for 15 minutes"). It gives none for phases 2, 4 and 5 ("deploy
# and verify", "monitor chat functionality manually", "test in browser"): phases 4 and 5 are
# watched for their expected duration, phase 2 for 5 minutes (its 2 are a deploy's restart;
# the pool settles after). Nor does it give phase 5 a rollback: a note says the obvious one.
PHASES: list[dict[str, Any]] = [
    {"name": "Database indexes", "risk": "low", "duration": ["5m", "10m"], "watch": "10m",
     "figures": ["error_rate_5xx_pct", "db_connections_pct"],
     "criteria": [
         # "Watch for increased latency during index build": it may rise, but must be back.
         {"figure": "latency_p95_ms", "op": "<", "value": 500, "judged": "end"},
         {"figure": "error_rate_5xx_pct", "op": "<", "value": 1, "judged": "during"}],
     "run": ["npx", "prisma", "db", "execute", "--file",
             "infra/migrations/001_add_indexes.sql"],
     "rollback": ["npx", "prisma", "db", "execute", "--file",
                  "infra/rollback/drop_indexes.sql"],
     "rollback_note": "drops the indexes (DROP INDEX CONCURRENTLY IF EXISTS ...); then npx "
                      "prisma migrate resolve --rolled-back 001_add_indexes",
     "note": "indexes are created concurrently (non-blocking)"},
    {"name": "Prisma singleton", "risk": "low", "duration": "2m", "watch": "5m",
     "figures": ["db_connections_pct", "memory_pct", "error_rate_5xx_pct"],
     "rollback_note": "revert the git commit (git revert HEAD; git push origin main: Render "
                      "auto-deploys)",
     "note": "deploy server/lib/prisma.ts and the route imports, then curl /api/health"},
    {"name": "Optimized routes", "risk": "medium", "duration": "15m", "watch": "15m",
     "figures": ["error_rate_5xx_pct", "latency_p95_ms"],
     "criteria": [{"figure": "error_rate_5xx_pct", "op": "<", "value": 1,
                   "judged": "during"}],
     "canary": True,
     "rollback": ["git", "checkout", "HEAD~1", "--", "server/routes/friends.ts"],
     "rollback_note": "then commit and push; set the flag to 0 first (sbtop canary abort)",
     "note": "one route at a time behind PERF_OPTIMIZATIONS_ENABLED: the canary ladder"},
    {"name": "Socket.IO handlers", "risk": "medium", "duration": "10m", "watch": "10m",
     "figures": ["socket_connections", "error_rate_5xx_pct"],
     "rollback": ["git", "checkout", "HEAD~1", "--", "server/socket/handlers.ts"],
     "rollback_note": "then commit and push",
     "note": "test with node tests/ws/ws_bench.js BASE 10 10; check chat by hand"},
    {"name": "Frontend", "risk": "low", "duration": "5m", "watch": "5m",
     "figures": ["error_rate_5xx_pct"],
     "run": ["npm", "run", "build"],
     "rollback_note": "redeploy the previous frontend build (client-side only)",
     "note": "check for reduced re-renders with React DevTools"},
]


def runbook_plan() -> dict[str, Any]:
    """The `[plan]` table for a real deploy."""
    return {"timeout_s": 600,
            "preflight": copy.deepcopy(PREFLIGHT), "phases": copy.deepcopy(PHASES)}


def demo_plan() -> dict[str, Any]:
    """The same window for the demo: every command harmless (echo), watches of a minute, the
    SQL and the file check left out (the demo has no database of its own, nor the repo), and
    so the database's figures not watched (never read, they would leave each watch unjudged)."""
    plan = runbook_plan()
    plan["preflight"] = [i for i in plan["preflight"] if i.get("check") not in
                         ("sql", "command", "database")]
    plan["preflight"].append({"name": "Demo control plane answers", "check": "command",
                              "command": ["echo", "ok"], "timeout_s": 10})
    for p in plan["phases"]:
        p["watch"] = "1m"
        p["figures"] = [f for f in p["figures"] if f != "db_connections_pct"]
        for key in ("run", "rollback"):
            if key in p:
                p[key] = ["echo", "demo:", *p[key]]
    return plan
