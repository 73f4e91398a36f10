"""What the status-page poller is told: plain frozen settings, no I/O (the config builds these
without loading an HTTP client)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_INTERVAL_S = 120.0  # a provider's page changes in minutes; asking more often is noise
DEFAULT_TIMEOUT_S = 5.0
DEFAULT_MAX_BYTES = 512 * 1024  # a summary.json is a few kB to a few tens of kB


@dataclass(frozen=True, slots=True)
class StatusPage:
    name: str  # as shown: "Render"
    url: str  # the page ("https://status.render.com") or its JSON ("...summary.json")
    kind: str = "statuspage"  # which adapter reads it (sbtop.engine.status_pages.ADAPTERS)
    interval_s: float = DEFAULT_INTERVAL_S
    timeout_s: float = DEFAULT_TIMEOUT_S  # the whole answer, connect to last byte
    max_bytes: int = DEFAULT_MAX_BYTES

    @property
    def json_url(self) -> str:
        """Where the kind's JSON is: the URL given when it names a .json, else the kind's
        path under it."""
        base = self.url.rstrip("/")
        if base.endswith(".json"):
            return base
        return base + JSON_PATHS.get(self.kind, "")


JSON_PATHS = {"statuspage": "/api/v2/summary.json", "instatus": "/summary.json"}


@dataclass(frozen=True, slots=True)
class StatusPagesSettings:
    pages: tuple[StatusPage, ...] = ()

    def stale_after_s(self, page: StatusPage) -> float:
        """An answer older than this means the poller stopped: two polls missed."""
        return 2 * page.interval_s + page.timeout_s + 5.0
