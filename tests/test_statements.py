"""Statement statistics as counters: differences over the window, resets, the means, the
N+1 hint, and CockroachDB's rows read by column name. Pure: worked by hand."""

from __future__ import annotations

import json

import pytest

from sbtop.engine.engine import Engine
from sbtop.engine.observations import Observation
from sbtop.engine.settings import EngineSettings
from sbtop.engine.statements import (
    StatementCounters,
    StatementsPoll,
    StatementsTracker,
    statements_dict,
)
from sbtop.sources.database.statements import crdb_aggregated_poll, crdb_node_poll


def poll(t: float, rows: dict[str, tuple[int, float]], reset: str | None = "r0",
         **kw: object) -> StatementsPoll:
    return StatementsPoll(t, 1_000_000.0 + t, rows=tuple(
        StatementCounters(k, f"SELECT {k}", c, ms) for k, (c, ms) in rows.items()),
        reset_mark=reset, **kw)  # type: ignore[arg-type]


def test_the_first_read_is_a_baseline_and_says_rates_need_a_second() -> None:
    tr = StatementsTracker(60)
    tr.observe(poll(0, {"a": (1000, 5000.0)}))
    v = tr.view(10.0, 5.0)
    assert v.by_total == () and v.reason is not None and "second" in v.reason


def test_rates_and_mean_are_the_differences_over_the_window_not_since_start() -> None:
    tr = StatementsTracker(60)
    # Since the server started: 1000 calls, 5 s (mean 5 ms). In the next 10 s: 200 calls,
    # 4000 ms: 20 calls/s, 400 ms of execution per second, a mean of 20 ms.
    tr.observe(poll(0, {"a": (1000, 5000.0), "b": (10, 10.0)}))
    tr.observe(poll(10, {"a": (1200, 9000.0), "b": (30, 1010.0)}))
    v = tr.view(None, 5.0)
    assert v.window_s == 10
    a = next(s for s in v.by_total if s.id == "a")
    assert (a.calls, a.calls_per_s, a.total_ms_per_s, a.mean_ms) == (200, 20.0, 400.0, 20.0)
    # b: 20 calls, 1000 ms, mean 50 ms: first by mean, second by total.
    assert [s.id for s in v.by_total] == ["a", "b"]
    assert [s.id for s in v.by_mean] == ["b", "a"]
    assert v.by_mean[0].mean_ms == 50.0


def test_a_statement_idle_in_the_window_is_not_listed() -> None:
    tr = StatementsTracker(60)
    tr.observe(poll(0, {"a": (5, 5.0), "b": (7, 7.0)}))
    tr.observe(poll(10, {"a": (6, 6.0), "b": (7, 7.0)}))
    assert [s.id for s in tr.view(None, 5.0).by_total] == ["a"]


def test_calls_going_down_is_a_reset_counted_from_zero() -> None:
    tr = StatementsTracker(60)
    tr.observe(poll(0, {"a": (1000, 5000.0)}))
    tr.observe(poll(10, {"a": (30, 90.0)}))  # reset (or evicted and back): 30 calls since
    v = tr.view(None, 5.0)
    assert v.by_total[0].calls == 30 and v.by_total[0].mean_ms == 3.0
    assert any("reset" in n for n in v.notes)


def test_statements_evicted_at_pg_stat_statements_max_are_said_not_called_a_reset() -> None:
    tr = StatementsTracker(60)
    tr.observe(poll(0, {"a": (1000, 5000.0), "b": (50, 50.0)}, evictions=3,
                    max_statements=100))
    # The table filled up twice between the reads (dealloc 3 -> 5): b was dropped and came
    # back with 4 calls since; c is new. Nothing was reset: the mark is the same.
    tr.observe(poll(10, {"a": (1100, 5500.0), "b": (4, 4.0), "c": (2, 2.0)}, evictions=5,
                    max_statements=100))
    v = tr.view(None, 5.0)
    assert {s.id: s.calls for s in v.by_total} == {"a": 100, "b": 4, "c": 2}
    assert v.notes == ("the statements table was full (pg_stat_statements.max = 100) and "
                       "dropped its least-run statements 2 times in the window: their calls "
                       "are not all counted (raise pg_stat_statements.max)",)
    # The window moves past it: no longer said.
    tr.observe(poll(80, {"a": (1200, 6000.0)}, evictions=5, max_statements=100))
    assert tr.view(None, 5.0).notes == ()


def test_a_changed_stats_reset_restarts_every_counter() -> None:
    tr = StatementsTracker(60)
    tr.observe(poll(0, {"a": (1000, 5000.0)}, reset="r0"))
    # Reset, then more calls than before: calls did not go down, the reset mark says it.
    tr.observe(poll(10, {"a": (1500, 3000.0)}, reset="r1"))
    v = tr.view(None, 5.0)
    assert v.by_total[0].calls == 1500 and v.by_total[0].total_ms == 3000.0


def test_the_window_keeps_only_the_recent_differences() -> None:
    tr = StatementsTracker(20)
    tr.observe(poll(0, {"a": (0, 0.0)}))
    tr.observe(poll(10, {"a": (100, 100.0)}))
    tr.observe(poll(20, {"a": (110, 110.0)}))
    tr.observe(poll(30, {"a": (120, 120.0)}))
    v = tr.view(None, 5.0)
    assert v.window_s == 20 and v.by_total[0].calls == 20


def test_a_new_statement_past_a_capped_answer_is_not_counted_with_its_history() -> None:
    tr = StatementsTracker(60)
    tr.observe(poll(0, {"a": (10, 10.0)}, capped=1))
    tr.observe(poll(10, {"a": (20, 20.0), "old": (99999, 99999.0)}, capped=1))
    v = tr.view(None, 5.0)
    assert [s.id for s in v.by_total] == ["a"]
    assert any("limit" in n for n in v.notes)


def test_calls_per_request_far_above_one_is_hinted_as_n_plus_one() -> None:
    tr = StatementsTracker(60)
    tr.observe(poll(0, {"n1": (0, 0.0), "once": (0, 0.0)}))
    # 4 requests/s for 10 s; "n1" ran 496 times (12.4 per request), "once" 40 (1 each).
    tr.observe(poll(10, {"n1": (496, 496.0), "once": (40, 400.0)}))
    v = tr.view(4.0, 5.0)
    assert v.hint == "12.4 calls per request: N+1?" and v.hint_id == "n1"
    once = next(s for s in v.by_total if s.id == "once")
    assert once.calls_per_request == 1.0


def test_an_unknown_request_rate_gives_no_hint_and_says_why() -> None:
    tr = StatementsTracker(60)
    tr.observe(poll(0, {"n1": (0, 0.0)}))
    tr.observe(poll(10, {"n1": (500, 500.0)}))
    v = tr.view(None, 5.0, "no requests in the window")
    assert v.hint is None and v.by_total[0].calls_per_request is None
    assert v.hint_reason == "no requests in the window: no N+1 hint"


def test_the_extension_missing_is_a_reason_not_figures() -> None:
    tr = StatementsTracker(60)
    tr.observe(poll(0, {"a": (1, 1.0)}))
    tr.observe(StatementsPoll(10, 10.0, unavailable="pg_stat_statements is not installed"))
    v = tr.view(3.0, 5.0)
    assert v.reason == "pg_stat_statements is not installed" and v.by_total == ()
    d = statements_dict(v)
    assert d["reason"] == v.reason and d["top_total"] == []


def test_check_json_has_the_top_five_with_the_contract_keys() -> None:
    engine = Engine(EngineSettings(window_s=60))
    engine.observe(Observation(0, 0, statements=poll(0, {f"q{i}": (0, 0.0) for i in range(8)})))
    a = engine.observe(Observation(10, 10, statements=poll(
        10, {f"q{i}": (100 * (i + 1), 10.0 * (i + 1)) for i in range(8)})))
    assert a.statements is not None
    d = json.loads(json.dumps(statements_dict(a.statements)))
    assert len(d["top_total"]) == 5 and d["top_total"][0]["id"] == "q7"
    assert set(d["top_total"][0]) >= {"calls_per_s", "mean_ms", "total_ms_per_s",
                                      "calls_per_request", "query"}
    assert d["top_total"][0]["calls_per_s"] == 80.0
    # No metrics were read: no request rate, so no calls per request and no hint, said.
    assert d["top_total"][0]["calls_per_request"] is None
    assert d["hint_reason"] == "no request rate (no metrics read): no N+1 hint"


def test_a_target_without_a_database_has_no_statements_key() -> None:
    from sbtop.engine.assessment import to_dict

    a = Engine(EngineSettings()).observe(Observation(0, 0))
    assert "statements" not in to_dict(a)


AGG_COLS = ["aggregated_ts", "fingerprint_id", "transaction_fingerprint_id", "plan_hash",
            "app_name", "node_id", "agg_interval", "metadata", "statistics", "sampled_plan"]


def _agg_row(fp: bytes, app: str, cnt: int, mean_s: float, query: str,
             hour: str = "2026-12-07 01:00:00") -> list[object]:
    return [hour, fp, b"\x00", b"\x01", app, 1, None,
            {"query": query, "db": "app"},
            {"statistics": {"cnt": cnt, "svcLat": {"mean": mean_s, "sqDiff": 0.0}}}, None]


def _by_id(p: StatementsPoll) -> dict[str, tuple[int, float]]:
    out: dict[str, tuple[int, float]] = {}
    for r in p.rows:
        c, ms = out.get(r.id, (0, 0.0))
        out[r.id] = (c + r.calls, ms + r.total_ms)
    return out


def test_cockroachdb_aggregated_statistics_are_read_by_column_name_per_fingerprint() -> None:
    rows = [_agg_row(b"\xab\xcd", "app", 10, 0.002, "SELECT * FROM t WHERE id = $1"),
            _agg_row(b"\xab\xcd", "app", 30, 0.004, "SELECT * FROM t WHERE id = $1",
                     hour="2026-12-07 02:00:00"),
            _agg_row(b"\x01\x02", "$ internal-stats", 99, 1.0, "SELECT internal")]
    p = crdb_aggregated_poll(AGG_COLS, rows, 1.0, 2.0)
    assert p.source == "crdb_internal.statement_statistics"
    # 10 x 2 ms + 30 x 4 ms = 140 ms over 40 calls; the internal statement left out.
    assert _by_id(p) == {"abcd": (40, pytest.approx(140.0))}
    assert {r.text for r in p.rows} == {"SELECT * FROM t WHERE id = $1"}


def test_cockroachdb_an_hour_aging_out_takes_nothing_away() -> None:
    q = "SELECT * FROM t WHERE id = $1"
    tr = StatementsTracker(60)
    tr.observe(crdb_aggregated_poll(AGG_COLS, [
        _agg_row(b"\x01", "app", 1000, 0.002, q, hour="00:00"),
        _agg_row(b"\x01", "app", 10, 0.002, q, hour="01:00")], 0, 0))
    # The 00:00 row is gone (aged out), 01:00 grew by 50 calls: 50 calls in the window,
    # not a reset counted from zero, nor a negative rate.
    tr.observe(crdb_aggregated_poll(AGG_COLS, [
        _agg_row(b"\x01", "app", 60, 0.002, q, hour="01:00")], 10, 10))
    (s,) = tr.view(None, 5.0).by_total
    assert s.calls == 50 and s.mean_ms == pytest.approx(2.0)


def test_cockroachdb_aggregated_statistics_as_json_text_are_read_too() -> None:
    row = _agg_row(b"\x0f", "app", 4, 0.5, "UPDATE t SET x = $1")
    row[7], row[8] = json.dumps(row[7]), json.dumps(row[8])
    (r,) = crdb_aggregated_poll(list(reversed(AGG_COLS)), [list(reversed(row))], 0, 0).rows
    assert (r.calls, r.total_ms) == (4, 2000.0)


NODE_COLS = ["node_id", "application_name", "flags", "statement_id", "key", "anonymized",
             "count", "first_attempt_count", "max_retries", "rows_avg", "service_lat_avg",
             "service_lat_var", "implicit_txn", "database_name"]


def test_cockroachdb_node_statistics_before_22_1_are_read_by_column_name() -> None:
    rows = [[1, "app", "", "s1", "SELECT 1", None, 50, 50, 0, 1.0, 0.001, 0.0, True, "app"],
            [1, "other", "", "s1", "SELECT 1", None, 50, 50, 0, 1.0, 0.003, 0.0, True, "app"],
            [1, "$ internal-x", "", "s2", "SELECT 2", None, 5, 5, 0, 1.0, 9.0, 0.0, True, "x"]]
    p = crdb_node_poll(NODE_COLS, rows, 0, 0)
    assert p.source == "crdb_internal.node_statement_statistics"
    assert _by_id(p) == {"s1": (100, pytest.approx(200.0))}
    assert {r.text for r in p.rows} == {"SELECT 1"}


def test_a_fingerprint_standing_in_for_a_missing_statement_id_is_made_safe_too() -> None:
    """Before 22.1 a row without statement_id is known by its fingerprint: outside text that
    reaches check's JSON and text as the statement's id."""
    key = "SELECT '\x1b]52;c;aGk=\x07'\n" + "x" * 500
    rows = [[1, "app", "", None, key, None, 50, 50, 0, 1.0, 0.001, 0.0, True, "app"]]
    (r,) = crdb_node_poll(NODE_COLS, rows, 0, 0).rows
    # Cut at 200 characters (the escapes shown for the controls make it a little longer).
    assert not any(c in r.id for c in "\x1b\x07\n") and len(r.id) < 260 < len(key)


def test_statement_text_from_the_database_is_made_safe_to_show() -> None:
    rows = [_agg_row(b"\x01", "app", 1, 0.1, "SELECT '\x1b[31mred\x1b[0m'\nFROM t")]
    (r,) = crdb_aggregated_poll(AGG_COLS, rows, 0, 0).rows
    assert r.text is not None and "\x1b" not in r.text and "\n" not in r.text


def _two_reads() -> Engine:
    engine = Engine(EngineSettings(window_s=60))
    engine.observe(Observation(0, 0, statements=poll(0, {"a": (0, 0.0), "b": (0, 0.0)})))
    return engine


def test_a_recording_keeps_the_statements_as_the_console_showed_them() -> None:
    from sbtop.engine import codec

    a = _two_reads().observe(Observation(10, 10, statements=poll(
        10, {"a": (600, 1200.0), "b": (3, 3000.0)})))
    back = codec.decode_assessment(json.loads(json.dumps(codec.encode_assessment(a))))
    assert back.statements == a.statements


def test_check_text_names_the_top_statement_the_slowest_and_the_hint() -> None:
    from sbtop.engine.statements import statement_lines

    tr = StatementsTracker(60)
    tr.observe(poll(0, {"a": (0, 0.0), "b": (0, 0.0)}))
    # 6 requests/s; a: 60 calls/s (10 per request), 1200 ms; b: 0.6 calls/s, 3000 ms.
    tr.observe(poll(10, {"a": (600, 1200.0), "b": (6, 3000.0)}))
    assert statement_lines(tr.view(6.0, 5.0)) == [
        "statements: most time 300 ms/s, 0.6 calls/s, mean 500.0 ms, 0.1 per request: "
        "SELECT b",
        "statements: 10.0 calls per request: N+1? SELECT a",
    ]  # b is both the most time and the highest mean: said once
    # Over 20 s: a 1200 calls, 4000 ms; b nothing more.
    tr.observe(poll(20, {"a": (1200, 4000.0), "b": (6, 3000.0)}))
    assert statement_lines(tr.view(None, 5.0))[:2] == [
        "statements: most time 200 ms/s, 60.0 calls/s, mean 3.3 ms: SELECT a",
        "statements: highest mean 150 ms/s, 0.3 calls/s, mean 500.0 ms: SELECT b",
    ]


def test_while_the_database_is_away_the_statements_say_so_not_the_last_figures() -> None:
    from sbtop.engine.observations import DbSnapshot

    engine = _two_reads()
    a = engine.observe(Observation(10, 10, db=DbSnapshot(10, 10, error="connection refused"),
                                   statements=None))
    assert a.statements is not None and a.statements.by_total == ()
    assert a.statements.reason == "database unavailable: connection refused"


def test_between_reads_the_view_is_kept_as_made_so_a_recording_holds_it_once() -> None:
    engine = _two_reads()
    a = engine.observe(Observation(10, 10, statements=poll(10, {"a": (60, 60.0)})))
    b = engine.observe(Observation(11, 11))  # a tick without a read
    assert b.statements is a.statements
    c = engine.observe(Observation(20, 20, statements=poll(20, {"a": (90, 90.0)})))
    assert c.statements is not None and c.statements.by_total[0].calls == 90


def test_cockroachdb_statements_of_sbtops_own_application_are_left_out() -> None:
    # CockroachDB keeps no comment in a fingerprint: sbtop's own reads (application_name
    # 'sbtop', 'sbtop preflight') were listed as the load it watches.
    agg = [_agg_row(b"\x01", "app", 10, 0.002, "SELECT * FROM t WHERE id = $1"),
           _agg_row(b"\x02", "sbtop", 500, 0.010, "SELECT * FROM crdb_internal.x"),
           _agg_row(b"\x03", "sbtop preflight", 5, 0.010, "SELECT count(*) FROM t")]
    assert set(_by_id(crdb_aggregated_poll(AGG_COLS, agg, 0, 0))) == {"01"}
    node = [[1, "app", "", "s1", "SELECT 1", None, 50, 50, 0, 1.0, 0.001, 0.0, True, "app"],
            [1, "sbtop", "", "s2", "SELECT 2", None, 50, 50, 0, 1.0, 0.001, 0.0, True, "app"]]
    assert set(_by_id(crdb_node_poll(NODE_COLS, node, 0, 0))) == {"s1"}
