"""Bounded history and the cheap sparkline: gaps stay gaps, bars change once a step."""

from __future__ import annotations

import math

import pytest

from sbtop.console.sparkline import BARS, GAP, sparkline
from sbtop.demo.backend import SimulatedBackend
from sbtop.demo.exposition import text_page
from sbtop.engine.exposition import samples
from sbtop.engine.history import Ring
from sbtop.engine.levels import Threshold


def test_a_ring_keeps_only_its_capacity_oldest_first() -> None:
    ring = Ring(3)
    for i in range(5):
        ring.append(100.0 + i, float(i))
    assert len(ring) == 3
    assert ring.values() == [2.0, 3.0, 4.0]
    assert ring.points(since_wall=103.0) == ([103.0, 104.0], [3.0, 4.0])


def test_buckets_are_aligned_complete_steps_and_empty_ones_are_gaps() -> None:
    ring = Ring(100)
    for t in range(1000, 1017):  # 1000..1016 at 1 s
        ring.append(float(t), None if 1005 <= t < 1010 else float(t - 1000))
    bars = ring.buckets(5.0, 3, max)
    # Complete buckets: [1000, 1005) -> max 4, [1005, 1010) -> no value, [1010, 1015) -> 14;
    # [1015, 1020) is still filling and not drawn.
    assert bars[0] == 4.0 and math.isnan(bars[1]) and bars[2] == 14.0


def test_sparkline_scales_to_the_warning_bound_and_marks_bars_beyond_it() -> None:
    line = sparkline([100.0, 600.0, 1200.0, math.nan], 4, Threshold(500, 1000))
    plain = line.replace("[$warning]", "").replace("[$error]", "").replace("[/]", "")
    assert plain[-1] == GAP
    assert plain[0] == BARS[0]
    assert "[$warning]" in line and "[$error]" in line


@pytest.mark.slow
def test_the_demo_page_writer_agrees_with_prometheus_client() -> None:
    from prometheus_client import generate_latest

    backend = SimulatedBackend(port=0, background=False)
    try:
        backend.advance(30.0)
        registry = backend._inst.registry

        def rows(text: str) -> list[tuple[str, tuple[tuple[str, str], ...], float]]:
            return sorted((s.name, tuple(sorted(s.labels.items())), s.value)
                          for s in samples(text) if not s.name.endswith("_created"))

        assert rows(text_page(registry).decode()) == rows(generate_latest(registry).decode())
    finally:
        backend.stop()
