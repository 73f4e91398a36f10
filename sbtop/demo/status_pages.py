"""Providers' status pages for the demo: Atlassian Statuspage's `/api/v2/summary.json`, as
Render's and Vercel's pages serve it (trimmed to the keys sbtop reads and a few beside),
under /__sbtop/status/<page> on the backend's own port.

Render's page follows the `render_incident` knob: 0 all operational, 1 degraded with an
incident (the `render-incident` scenario), 2 a major outage. Vercel's stays operational: a
second page, so the header's "(+N)" and the check's list have something to count.
"""

from __future__ import annotations

import json
import time
from typing import Any

PREFIX = "/__sbtop/status/"
SUMMARY = "/api/v2/summary.json"
# The demo's pages by the path segment after PREFIX: (name shown, components).
PAGES = {"render": ("Render", ("Web Services", "Deploys", "PostgreSQL", "Dashboard")),
         "vercel": ("Vercel", ("Edge Network", "Builds", "Dashboard"))}
INCIDENT = "Elevated latency for web services in Oregon"


def page_url(base_url: str, page: str) -> str:
    """The page's URL as a config names it (the JSON is SUMMARY under it)."""
    return f"{base_url}{PREFIX}{page}"


def answer(path: str, render_incident: int, started_wall: float) -> bytes | None:
    """The summary.json at `path`, or None when the path is not a demo page's."""
    if not path.startswith(PREFIX) or not path.endswith(SUMMARY):
        return None
    page = path[len(PREFIX):-len(SUMMARY)]
    if page not in PAGES:
        return None
    level = render_incident if page == "render" else 0
    return json.dumps(summary(page, level, started_wall)).encode()


def _iso(wall: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(wall))


def summary(page: str, level: int, started_wall: float) -> dict[str, Any]:
    """Level 0: all operational; 1: degraded, an incident under investigation; 2: an outage."""
    name, components = PAGES[page]
    indicator, words, status = {
        0: ("none", "All Systems Operational", "operational"),
        1: ("minor", "Minor Service Outage", "degraded_performance"),
    }.get(level, ("major", "Partial System Outage", "major_outage"))
    incidents = [] if level == 0 else [{
        "id": "demo0001", "name": INCIDENT if level == 1 else "Web services unavailable in Oregon",
        "status": "investigating", "impact": indicator,
        "created_at": _iso(started_wall), "updated_at": _iso(started_wall),
        "shortlink": "https://stspg.io/sbtopdemo",
        "incident_updates": [{"status": "investigating", "body": "We are investigating."}]}]
    return {
        "page": {"id": f"demo-{page}", "name": name, "url": f"https://status.{page}.example",
                 "time_zone": "Etc/UTC", "updated_at": _iso(started_wall)},
        "status": {"indicator": indicator, "description": words},
        "components": [{"id": f"c{i}", "name": c, "group": False,
                        "status": status if i == 0 else "operational"}
                       for i, c in enumerate(components)],
        "incidents": incidents,
        "scheduled_maintenances": [],
    }
