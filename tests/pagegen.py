"""Build exposition pages for tests: a histogram and counters with chosen counts."""

from __future__ import annotations

from dataclasses import dataclass, field

from sbtop.engine.exposition import Page, scan
from sbtop.engine.names import wanted_samples
from sbtop.engine.observations import HealthProbe, MetricsScrape, Observation
from sbtop.engine.settings import MetricNames

H = "http_request_duration_seconds"


def _labels(d: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in d.items()) + "}" if d else ""


@dataclass
class PageText:
    lines: list[str] = field(default_factory=list)

    def histogram(self, labels: dict[str, str], cumulative: dict[float, float],
                  name: str = H) -> PageText:
        """`cumulative` maps upper bounds (use float('inf') for +Inf) to cumulative counts."""
        for le, count in sorted(cumulative.items()):
            le_text = "+Inf" if le == float("inf") else repr(le)
            self.lines.append(f"{name}_bucket{_labels({**labels, 'le': le_text})} {count}")
        total = cumulative.get(float("inf"), 0)
        self.lines.append(f"{name}_count{_labels(labels)} {total}")
        self.lines.append(f"{name}_sum{_labels(labels)} {total * 0.1}")
        return self

    def sample(self, name: str, labels: dict[str, str], value: float | str) -> PageText:
        self.lines.append(f"{name}{_labels(labels)} {value}")
        return self

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def page(self, names: MetricNames | None = None) -> Page:
        return scan(self.text(), wanted_samples(names or MetricNames()))


def obs(t: float, page: Page | None, *, error: str | None = None,
        health: HealthProbe | None = None) -> Observation:
    wall = 1_800_000_000.0 + t
    scrape = MetricsScrape(t, wall, page, error if page is None else None)
    return Observation(t, wall, scrape, health)


def ok_health(t: float, body: object = None, status: int = 200) -> HealthProbe:
    return HealthProbe(t, 1_800_000_000.0 + t, status, body)
