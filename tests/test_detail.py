"""A figure's detail is typed, and still written as it always was: the same keys in the same
order in `check --json`, the same object in a recording, read back to the same value."""

from __future__ import annotations

import dataclasses
import json

from sbtop.engine import codec, wellformed
from sbtop.engine.assessment import Assessment, figure_dict
from sbtop.engine.detail import Detail
from sbtop.engine.figures import Figure
from sbtop.engine.levels import Level
from sbtop.engine.routes import Routes

EVERY = Detail(errors=1.0, requests=100.5, metric="m", status_label="code",
               bucket_ms=(100.0, None), rss_bytes=3e8, limit_bytes=1e9, rss_from="page",
               limit_from="config", elapsed_ms=7.3, active=1, idle=2, idle_in_transaction=3,
               idle_in_transaction_aborted=4, waiting=5, other=6, hidden=7, sessions=8,
               capacity=100, capacity_from="max_connections", pool_size=20,
               objective_pct=99.5, span_s=300.0, bound_ms=500.0, age_s=3.0, page_at=14.4,
               source="prometheus", partial="1 of 2 instances", stable_requests=2000.0,
               verdict="fail", test="mann-whitney", said="canary p95 +48 %",
               to_warning_s=7800.0, to_critical_s=10800.0, restart_at=1.8e9, surge=840.0,
               surge_s=40.0)


def test_check_json_keeps_each_figures_order_of_keys() -> None:
    # As the engine built them before the detail was typed (dicts in insertion order).
    rate = Figure("requests_per_s", 10.5, Level.OK, "/s",
                  detail=Detail(requests=105.0, metric="http_requests_total"))
    errors = Figure("error_rate_5xx_pct", 1.0, Level.OK, "%",
                    detail=Detail(metric="http_requests_total", status_label="status",
                                  requests=100.0, errors=1.0, partial="1 of 2 instances"))
    memory = Figure("memory_pct", 30.0, Level.OK, "%",
                    detail=Detail(limit_from="config memory_limit_mb", rss_bytes=3e8,
                                  limit_bytes=1e9, rss_from="process_resident_memory_bytes"))
    assert list(figure_dict(rate)) == ["value", "level", "judged", "unit", "metric", "requests"]
    assert list(figure_dict(errors)) == ["value", "level", "judged", "unit", "errors", "requests",
                                         "metric", "status_label", "partial"]
    assert list(figure_dict(memory)) == ["value", "level", "judged", "unit", "rss_bytes",
                                         "limit_bytes", "rss_from", "limit_from"]
    # A field left None is not written at all, as a None in the old dict was not.
    assert "status_label" not in figure_dict(dataclasses.replace(
        errors, detail=dataclasses.replace(errors.detail, status_label=None)))


def _assessment(**figures: Figure) -> Assessment:
    return Assessment("t", 1, 1.0, 1_800_000_000.0, Level.OK, figures, Routes(), (), {})


def test_every_detail_field_survives_a_recording() -> None:
    a = _assessment(latency_p95_ms=Figure("latency_p95_ms", 1.0, Level.OK, "ms", detail=EVERY),
                    memory_pct=Figure("memory_pct", None, Level.UNKNOWN, "%", reason="no"))
    line = json.loads(json.dumps(codec.encode_assessment(a), allow_nan=False))
    wellformed.checker(Assessment)(line)
    back = codec.decode_assessment(line)
    assert back.figures["latency_p95_ms"].detail == EVERY
    # Every field set, so none was forgotten by the codec.
    assert all(getattr(EVERY, f.name) is not None for f in dataclasses.fields(Detail))
    assert back.figures["memory_pct"].detail == Detail()
    assert "detail" not in line["figures"]["memory_pct"]  # an empty detail is not written


def test_a_detail_recorded_as_a_dict_reads_back_typed() -> None:
    # What a recording held before the detail was typed: the keys the engine wrote, None too.
    old = {"key": "db_sessions", "value": 6.0, "level": "ok", "judged": False,
           "detail": {"active": 2, "idle": 1, "idle_in_transaction": 2,
                      "idle_in_transaction_aborted": 1, "waiting": None}}
    wellformed.checker(Figure)(old)
    f = codec.decode(Figure, old)
    assert f.detail == Detail(active=2, idle=1, idle_in_transaction=2,
                              idle_in_transaction_aborted=1)
    assert codec.encode(f)["detail"] == {k: v for k, v in old["detail"].items()
                                         if v is not None}
