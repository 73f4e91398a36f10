"""The pre-flight's live items against real components: the SQL probe on the real PostgreSQL
(read-only, bounded by its statement timeout, never showing the password), a command, and the
command line's one-line refusals."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import psycopg
import pytest

from sbtop.actions.preflight import PreflightContext, run_checks
from sbtop.engine.window import ItemKind, PreflightSettings
from sbtop.sources.database.probe import sql_probe
from tests.cli import run_sbtop
from tests.pgproxy import Proxy

pytestmark = pytest.mark.slow


def test_the_sql_probe_passes_on_a_true_first_column_and_fails_otherwise(pg_db: str) -> None:
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute('CREATE TABLE "DirectMessage" (id int)')
        conn.execute('CREATE INDEX idx_direct_message_conversation ON "DirectMessage" (id)')
    exists = ("SELECT count(*) = 1 FROM pg_indexes "
              "WHERE indexname = 'idx_direct_message_conversation'")
    assert asyncio.run(sql_probe(pg_db, exists)) == (True, "first column: True")
    ok, text = asyncio.run(sql_probe(pg_db, exists.replace("= 1", "= 2")))
    assert not ok and text == "first column: False"
    ok, text = asyncio.run(sql_probe(pg_db, "SELECT 1 WHERE false"))
    assert not ok and text == "no row returned"


def test_the_sql_probe_is_read_only_and_bounded(pg_db: str) -> None:
    ok, text = asyncio.run(sql_probe(pg_db, "CREATE TABLE planted (id int)"))
    assert not ok and "read-only transaction" in text
    with psycopg.connect(pg_db) as conn:
        assert conn.execute("SELECT to_regclass('planted')").fetchone() == (None,)
    ok, text = asyncio.run(sql_probe(pg_db, "SELECT pg_sleep(5)", statement_timeout_s=0.2))
    assert not ok and "statement timeout" in text


def test_a_probe_that_cannot_connect_says_why_without_the_password() -> None:
    dsn = "postgresql://sbtop:s3cret-pw@127.0.0.1:9/nodb"
    ok, text = asyncio.run(sql_probe(dsn, "SELECT true", connect_timeout_s=1))
    assert not ok and "s3cret-pw" not in text and text


def test_the_live_items_run_together_and_a_command_item_needs_exit_0() -> None:
    items = [PreflightSettings("ok", ItemKind.COMMAND, command=("true",)),
             PreflightSettings("bad", ItemKind.COMMAND, command=("false",)),
             PreflightSettings("person"),
             PreflightSettings("figures", ItemKind.FIGURES),
             PreflightSettings("db", ItemKind.SQL, sql="SELECT true")]
    got = asyncio.run(run_checks(items, PreflightContext(None)))
    assert got["ok"][0] and not got["bad"][0] and "exited 1" in got["bad"][1]
    assert "person" not in got  # a person's item is confirmed, not run
    assert got["figures"] == (False, "no figures yet")
    assert got["db"] == (False, "no database configured (dsn_env, --dsn)")


def test_the_command_line_refuses_in_one_line(tmp_path: Path) -> None:
    env = {"SBTOP_STATE_DIR": str(tmp_path / "state")}
    r = run_sbtop("plan", "start", "--demo", env=env)
    assert r.returncode == 3 and r.stderr.strip().startswith("sbtop: plan start needs the "
                                                             "phase")
    bad = tmp_path / "bad.toml"
    bad.write_text('[targets.x]\nbase_url = "http://127.0.0.1:9"\n'
                   '[[plan.phases]]\nname = "a"\nrisk = "extreme"\n')
    r = run_sbtop("--config", str(bad), "plan", "status", env=env)
    assert r.returncode == 3 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        f"sbtop: config error: {bad}: plan.phases[0].risk: expected low, medium, high, got "
        "the string 'extreme'"]
    none = tmp_path / "none.toml"
    none.write_text('[targets.x]\nbase_url = "http://127.0.0.1:9"\n')
    r = run_sbtop("--config", str(none), "plan", "confirm", "x", env=env)
    assert r.returncode == 3 and "no deploy plan configured" in r.stderr


def test_check_json_carries_the_plan_and_its_text_a_line(tmp_path: Path) -> None:
    import json

    env = {"SBTOP_STATE_DIR": str(tmp_path / "state")}
    r = run_sbtop("check", "--demo", "--json", "--window", "0.3", env=env)
    assert r.returncode in (0, 1, 3), r.stderr
    plan = json.loads(r.stdout)["plan"]
    assert len(plan["phases"]) == 5 and plan["phases"][0]["name"] == "Database indexes"
    assert plan["stands"].startswith("pre-flight: ") and plan["current"] is None
    assert {"watch_left_s", "criteria", "status", "risk", "expected_s"} <= set(
        plan["phases"][0])
    assert not (tmp_path / "state").exists()  # check only reads: no directory made
    r = run_sbtop("check", "--demo", "--window", "0.3", env=env)
    assert "  plan: pre-flight: " in r.stdout


def test_check_json_says_plan_null_without_a_plan_as_status_pages_says_empty(
        tmp_path: Path) -> None:
    import json

    none = tmp_path / "none.toml"
    none.write_text('[targets.x]\nbase_url = "http://127.0.0.1:9"\n')
    r = run_sbtop("--config", str(none), "check", "--json", "--window", "0.1",
                  env={"SBTOP_STATE_DIR": str(tmp_path / "state")})
    d = json.loads(r.stdout)
    assert "plan" in d and d["plan"] is None and d["status_pages"] == []


def test_a_baseline_item_says_when_the_baseline_was_captured() -> None:
    # Last week's baseline still counts as captured, but it must not read as today's.
    item = [PreflightSettings("Baseline captured", ItemKind.BASELINE)]
    ctx = PreflightContext(None, {"latency_p95_ms": 213.0}, baseline_wall=1_800_000_000.0,
                           now_wall=1_800_000_000.0 + 3 * 86400)
    ok, text = asyncio.run(run_checks(item, ctx))["Baseline captured"]
    assert ok and text == "baseline p95 213 ms, captured 2027-01-15T08:00:00Z (72h00m ago)"


@pytest.mark.parametrize("escape", [
    "COMMIT; CREATE TABLE escaped (id int)",
    "SET default_transaction_read_only = off; CREATE TABLE escaped (id int)",
    "BEGIN READ WRITE; CREATE TABLE escaped (id int)",
    "ROLLBACK; BEGIN READ WRITE; CREATE TABLE escaped (id int); COMMIT",
    "DO $$ BEGIN SET LOCAL transaction_read_only = off; CREATE TABLE escaped (id int); END $$",
])
def test_the_sql_probe_cannot_leave_its_read_only_transaction_whatever_its_text(
        pg_db: str, escape: str) -> None:
    ok, _ = asyncio.run(sql_probe(pg_db, escape))
    assert not ok
    with psycopg.connect(pg_db) as conn:
        assert conn.execute("SELECT to_regclass('escaped')").fetchone() == (None,)


def test_the_sql_probe_runs_one_statement_only(pg_db: str) -> None:
    ok, text = asyncio.run(sql_probe(pg_db, "SELECT true; SELECT true"))
    assert not ok and "multiple commands" in text


def test_the_sql_probe_ends_at_its_bound_on_a_database_that_stops_answering(
        pg_db: str) -> None:
    # The connection made, the server hangs in the middle of the query (a dead network path):
    # psycopg's cancel of the query on the server held the probe 10 s past its bound (12.5 s
    # for a 0.5 s statement timeout). Now the connection is dropped at the bound.
    info = psycopg.conninfo.conninfo_to_dict(pg_db)
    proxy = Proxy(int(info.get("port") or 5432), freeze_on=b"sbtop-probe-hangs-here")
    proxy.start()
    dsn = psycopg.conninfo.make_conninfo(pg_db, host="127.0.0.1", port=proxy.port)
    slack = 6.0  # scheduling on a busy machine; well under the 10 s the defect added
    try:
        started = time.monotonic()
        ok, text = asyncio.run(sql_probe(dsn, "SELECT true /* sbtop-probe-hangs-here */",
                                         connect_timeout_s=2.0, statement_timeout_s=0.5))
        took = time.monotonic() - started
        hung = proxy.frozen.is_set()  # the hang came after the connection, inside the query
    finally:
        proxy.stop()
    assert hung
    assert (ok, text) == (False, "no answer within 0.5 s")
    assert took < 0.5 + 2.0 + slack, took
