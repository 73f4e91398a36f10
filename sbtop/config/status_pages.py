"""The `[[status_pages]]` tables: checked when the file is read, then mapped into the
poller's settings. None configured polls nothing (an SSH jump box may have no way out to the
internet); `sbtop init` and the example config name the runbook's three."""

from __future__ import annotations

from sbtop.config.errors import ConfigError
from sbtop.config.schema import Config, StatusPageConfig
from sbtop.config.values import check_url, did_you_mean
from sbtop.engine.status_pages import ADAPTERS
from sbtop.sources.status_settings import StatusPage, StatusPagesSettings

MIN_INTERVAL_S = 30.0  # a provider's page is not ours to hammer
MAX_INTERVAL_S = 3600.0

# The runbook's "External Dependencies", as `sbtop init` writes them. All three are Atlassian
# Statuspage sites; vercel.com/status is a web page whose Statuspage is www.vercel-status.com.
RUNBOOK_PAGES = (
    ("Render", "https://status.render.com"),
    ("CockroachDB Cloud", "https://status.cockroachlabs.cloud"),
    ("Vercel", "https://www.vercel-status.com"),
)


def validate_status_pages(config: Config) -> None:
    names: set[str] = set()
    for i, p in enumerate(config.status_pages):
        where = f"status_pages[{i}]"
        if not p.name.strip():
            raise ConfigError(f"{where}.name: every status page needs a name")
        if p.name in names:
            raise ConfigError(f"{where}.name: {p.name!r} is used twice")
        names.add(p.name)
        if not p.url:
            raise ConfigError(f"{where}.url: the page's URL is needed "
                              "(e.g. https://status.render.com)")
        check_url(p.url, f"{where}.url")
        if p.kind not in ADAPTERS:
            raise ConfigError(f"{where}.kind: unknown kind {p.kind!r}"
                              f"{did_you_mean(p.kind, ADAPTERS)}; kinds are "
                              f"{', '.join(ADAPTERS)}")
        if not MIN_INTERVAL_S <= p.interval_s <= MAX_INTERVAL_S:
            raise ConfigError(f"{where}.interval_s: between {MIN_INTERVAL_S:g} and "
                              f"{MAX_INTERVAL_S:g} seconds, got {p.interval_s:g}")
        if not 0 < p.timeout_s <= 60:
            raise ConfigError(f"{where}.timeout_s: greater than 0 and at most 60, "
                              f"got {p.timeout_s:g}")
        if not 1 <= p.max_kb <= 10240:
            raise ConfigError(f"{where}.max_kb: between 1 and 10240, got {p.max_kb:g}")


def status_pages_settings(pages: list[StatusPageConfig]) -> StatusPagesSettings:
    return StatusPagesSettings(tuple(
        StatusPage(p.name, p.url, p.kind, p.interval_s, p.timeout_s, int(p.max_kb * 1024))
        for p in pages))
