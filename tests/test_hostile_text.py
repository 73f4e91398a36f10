"""Nothing from outside writes to the on-call engineer's terminal, clipboard or files.

Route labels are often raw URL paths (unmatched routes, 404 handlers), so anyone on the internet
can put text on sbtop's screen. A corpus of hostile strings (OSC 52 writing the clipboard, OSC 2
setting the title, CSI clearing the screen, C1 controls, bidi overrides, a newline forging a
line of `sbtop check`, a carriage return and HTML forging Markdown) goes through every path
outside text takes: a metrics page (labels, HELP, malformed labels), the health JSON,
PostgreSQL's query text, Prometheus (alerts, labels, targets, errors), Render's answers, a
webhook's answer, recordings (made from hostile pages, and written by hand). No ESC, C1, bidi
or carriage return reaches any output; in a real terminal (tmux, clipboard on) the pane's
title and paste buffers are untouched.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from markdown_it import MarkdownIt

from tests.cli import run_sbtop
from tests.servers import Answer, LoopbackServer
from tests.tmux import Pane
from tests.waiting import until

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow

# The checkout's sbtop, as `python -m sbtop` imports it from the working directory.
SBTOP = f"{sys.executable} -m sbtop"

OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x1b\\"  # puts `rm -rf ~` in the clipboard
TITLE = "\x1b]2;PWNED\x07"
CLEAR = "\x1b[2J\x1b[H"
C1 = "\x9b2J\x9d0;PWNED\x9c"
BIDI = "\u202egnp.exe"
FORGED = "\nsbtop check: production -> OK"
CR = "\r# All clear - ignore the alerts above"
HTML = "<img src=x onerror=alert(1)>"
CORPUS = {"osc52": OSC52, "title": TITLE, "clear": CLEAR, "c1": C1, "bidi": BIDI,
          "forged": FORGED, "cr": CR, "html": HTML}

# What must never reach an output: ESC, C1 controls, bidi controls, line separators, CR.
BAD = re.compile("[\x1b\x80-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\r]")


def assert_clean(text: str, where: str) -> None:
    m = BAD.search(text)
    assert m is None, f"{where}: {m.group()!r} in {text[max(0, m.start() - 60):m.end() + 60]!r}"


def assert_strings_clean(obj: Any, where: str) -> None:
    if isinstance(obj, str):
        assert_clean(obj, where)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            assert_clean(str(k), where)
            assert_strings_clean(v, where)
    elif isinstance(obj, list):
        for v in obj:
            assert_strings_clean(v, where)


def label(value: str) -> str:
    """A label value as the exposition format writes it."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def hostile_page(n: int) -> bytes:
    """Every route of the corpus, each with `n` requests (a tenth of them 5xx, all slow), and
    hostile HELP text."""
    lines = [f"# HELP http_request_duration_seconds latency {TITLE}{OSC52}",
             "# TYPE http_request_duration_seconds histogram"]
    for name, payload in CORPUS.items():
        route = label(f"/api/{name}{payload}")
        for le, share in (("0.5", 0), ("1", n), ("+Inf", n)):
            lines.append(f'http_request_duration_seconds_bucket{{method="GET",route="{route}",'
                         f'status_code="200",le="{le}"}} {share}')
        lines.append(f'http_request_duration_seconds_count{{method="GET",route="{route}",'
                     f'status_code="200"}} {n}')
        lines.append(f'http_requests_total{{method="GET",route="{route}",status="500"}} '
                     f"{n // 10}")
        lines.append(f'http_requests_total{{method="GET",route="{route}",status="200"}} '
                     f"{n - n // 10}")
    lines.append("process_resident_memory_bytes 1e8")
    return ("\n".join(lines) + "\n").encode()


HEALTH = json.dumps({"status": f"ok{TITLE}", "memory": {"rss": 1e8, "limit": 5e8},
                     f"note{BIDI}": [OSC52, {"deep": CLEAR + FORGED}]}).encode()


def hostile_server() -> LoopbackServer:
    pages = [hostile_page(100 * i) for i in range(1, 400)]
    return LoopbackServer({"/metrics": Answer(bodies=pages),
                           "/api/health": Answer(body=HEALTH, content_type="application/json")})


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with hostile_server() as s:
        yield s


def scrapes(server: LoopbackServer) -> int:
    return sum(r["path"] == "/metrics" for r in server.requests)


def no_env(tmp_path: Path) -> dict[str, str]:
    return {"XDG_CONFIG_HOME": str(tmp_path), "SBTOP_STATE_DIR": str(tmp_path / "state")}


def test_check_shows_hostile_labels_health_and_help_as_escapes(
        server: LoopbackServer, tmp_path: Path) -> None:
    r = run_sbtop("check", "--url", server.url, "--window", "1", env=no_env(tmp_path))
    assert_clean(r.stdout + r.stderr, "check")
    lines = r.stdout.splitlines()
    # The escaped newline in a label forges no line: only the first starts "sbtop check:".
    assert [x for x in lines if x.startswith("sbtop check:")] == lines[:1]
    assert "GET /api/clear\\x1b[2J\\x1b[H" in r.stdout  # shown, visibly
    r = run_sbtop("check", "--url", server.url, "--window", "1", "--json", env=no_env(tmp_path))
    out = json.loads(r.stdout)
    assert_strings_clean(out, "check --json")
    routes = [x["route"] for x in out["routes"]["failing"]]
    assert any("\\x1b[2J" in x for x in routes) and any("\\u202e" in x for x in routes)
    assert out["health"]["status"] == "ok\\x1b]2;PWNED\\x07"


def test_a_malformed_label_is_quoted_safely_in_the_reason(tmp_path: Path) -> None:
    page = (f'http_requests_total{{route="/x{OSC52}",status="200" {CLEAR}}} 1\n').encode()
    with LoopbackServer({"/metrics": Answer(body=page)}) as s:
        r = run_sbtop("check", "--url", s.url, "--window", "1", env=no_env(tmp_path))
    assert "unparsable page" in r.stdout
    assert_clean(r.stdout + r.stderr, "check on a malformed page")


def prom_answers() -> dict[str, Answer]:
    def ok(data: Any) -> Answer:
        return Answer(200, json.dumps({"status": "success", "data": data}).encode(),
                      "application/json")

    hostile_labels = {"__name__": "http_requests_total", "job": "x", "status": "500",
                      "route": f"/r{OSC52}", "instance": f"10.0.0.1{TITLE}"}
    vector = ok({"resultType": "vector", "result": [
        {"metric": hostile_labels, "value": [1, "3"]},
        {"metric": {**hostile_labels, "__name__": "http_request_duration_seconds_bucket",
                    "le": "+Inf"}, "value": [1, "30"]}]})
    return {
        "/api/v1/query": vector,
        "/api/v1/targets": ok({"activeTargets": [
            {"labels": {"job": "x", "instance": f"10.0.0.2{CLEAR}"}, "health": "down",
             "lastError": f"EOF{OSC52}{FORGED}"}]}),
        "/api/v1/alerts": ok({"alerts": [
            {"labels": {"alertname": f"Pwn{TITLE}", "job": "x", "severity": f"crit{BIDI}"},
             "annotations": {"summary": f"{OSC52}{CR}"}, "state": "firing",
             "activeAt": f"2026{C1}"}]}),
        "/api/v1/labels": ok(["status", f"x{OSC52}"]),
        "/api/v1/targets/metadata": Answer(
            422, json.dumps({"status": "error", "errorType": f"bad{TITLE}",
                             "error": f"{OSC52}{FORGED}"}).encode(), "application/json"),
    }


def test_prometheus_alerts_labels_targets_and_errors_are_shown_as_escapes(
        tmp_path: Path) -> None:
    with LoopbackServer(prom_answers()) as s:
        for extra in ((), ("--json",)):
            r = run_sbtop("check", "--prometheus-url", s.url, "--selector", 'job="x"',
                          "--window", "10", *extra, env=no_env(tmp_path))
            assert_clean(r.stdout + r.stderr, f"check {extra}")
            shown = r.stdout if not extra else "".join(
                x["name"] for x in json.loads(r.stdout)["alerts"])
            assert "Pwn\\x1b]2;PWNED" in shown
        assert_strings_clean(json.loads(r.stdout), "check --json via Prometheus")
        # Prometheus's own error text.
        s.routes["/api/v1/query"] = Answer(
            400, json.dumps({"status": "error", "errorType": f"bad_data{CLEAR}",
                             "error": f"parse error{OSC52}{FORGED}"}).encode(),
            "application/json")
        r = run_sbtop("check", "--prometheus-url", s.url, "--selector", 'job="x"',
                      "--window", "10", env=no_env(tmp_path))
        assert "parse error" in r.stdout
        assert_clean(r.stdout + r.stderr, "check on Prometheus's error")
        assert sum(x.startswith("sbtop check:") for x in r.stdout.splitlines()) == 1


def render_config(tmp_path: Path, api: LoopbackServer, provider: str = "render") -> Path:
    cfg = tmp_path / "c.toml"
    actions = ""
    if provider == "http":
        actions = (f'[targets.t.actions]\nprovider = "http"\n[targets.t.actions.http]\n'
                   f'url = "{api.url}/hook"\n')
    cfg.write_text(f"""
[targets.t]
base_url = "{api.url}"
[targets.t.render]
service_id = "srv-h"
api_key_env = "SB_KEY"
api_url = "{api.url}/v1"
{actions}""")
    return cfg


def test_render_and_webhook_answers_are_shown_as_escapes(tmp_path: Path) -> None:
    hostile = json.dumps({"id": "x", "message": f"busy{OSC52}{FORGED}{TITLE}"}).encode()
    deploys = json.dumps([
        {"cursor": "a", "deploy": {"id": "dep-live", "status": "live"}},
        {"cursor": "b", "deploy": {"id": f"dep-old{OSC52}", "status": "deactivated",
                                   "createdAt": f"2026{C1}",
                                   "commit": {"id": f"abc{BIDI}", "message": CR + HTML}}}]
                         ).encode()
    with LoopbackServer({
            "/v1/services/srv-h/env-vars/PERF_OPTIMIZATIONS_ENABLED": Answer(
                200, b'{"key": "PERF_OPTIMIZATIONS_ENABLED", "value": "0"}',
                "application/json"),
            "/v1/services/srv-h/restart": Answer(409, hostile, "application/json"),
            "/v1/services/srv-h/deploys": Answer(200, deploys, "application/json"),
            "/hook": Answer(500, f"oops{OSC52}{FORGED}{CLEAR}".encode(), "text/plain"),
            }) as api:
        env = {**no_env(tmp_path), "SB_KEY": "k"}
        cfg = render_config(tmp_path, api)
        r = run_sbtop("restart", "--yes", "--config", str(cfg), env=env)
        assert r.returncode == 2 and "busy" in r.stdout + r.stderr
        assert_clean(r.stdout + r.stderr, "restart refused by Render")
        r = run_sbtop("rollback", "--dry-run", "--config", str(cfg), env=env)
        assert "dep-old" in r.stdout, r.stdout + r.stderr
        assert_clean(r.stdout + r.stderr, "rollback plan")
        cfg = render_config(tmp_path, api, provider="http")
        r = run_sbtop("restart", "--yes", "--config", str(cfg), env=env)
        assert r.returncode == 2 and "oops" in r.stdout + r.stderr
        assert_clean(r.stdout + r.stderr, "restart refused by the webhook")
        assert sum(x.startswith("sbtop check:") for x in (r.stdout + r.stderr).splitlines()) == 0
    # The audit log keeps the answers as JSON, escaped as JSON escapes them.
    for line in (tmp_path / "state" / "audit.jsonl").read_text().splitlines():
        assert_strings_clean(json.loads(line), "audit")


def test_postgresql_query_text_is_shown_as_escapes(pg_db: str) -> None:
    from sbtop.sources.database import DatabaseSource

    query = f"SELECT pg_sleep(30) /* {OSC52} {FORGED} {BIDI} */"
    busy = psycopg.connect(pg_db, autocommit=True)
    busy.pgconn.send_query(query.encode())  # runs while the poll looks
    try:
        async def poll() -> Any:
            async with DatabaseSource(pg_db) as db:
                deadline = time.monotonic() + 10
                while True:
                    snap = await db.poll()
                    if any("pg_sleep" in (s.query or "") for s in snap.longest):
                        return snap
                    assert time.monotonic() < deadline, snap
                    await asyncio.sleep(0.2)

        snap = asyncio.run(poll())
        for s in snap.longest:
            for text in (s.query, s.application, s.user, s.client, s.state, s.wait):
                assert_clean(text or "", "sessions")
        shown = next(s.query for s in snap.longest if "pg_sleep" in (s.query or ""))
        assert shown is not None and "\\x1b]52" in shown and "\\u202e" in shown
    finally:
        busy.cancel()
        busy.close()


def tmux_conf(tmp_path: Path) -> Path:
    """A terminal that lets programs write the clipboard (tmux's default only forwards its
    own copies), so an OSC 52 would show as a paste buffer."""
    conf = tmp_path / "tmux.conf"
    conf.write_text("set -g set-clipboard on\n")
    return conf


def assert_terminal_untouched(pane: Pane, title: str) -> None:
    assert pane.tmux("display", "-p", "#{pane_title}").stdout.strip() == title
    assert pane.tmux("list-buffers").stdout.strip() == ""
    assert_clean(pane.tmux("capture-pane", "-p", "-e", "-t", "sbtop").stdout.replace(
        "\x1b[", "CSI["), "the screen")  # capture -e writes SGR itself: only those allowed


def test_the_console_and_its_replay_leave_title_and_clipboard_alone(
        server: LoopbackServer, tmp_path: Path) -> None:
    recording = tmp_path / "hostile.sbrec"
    pane = Pane(f"{SBTOP} --url {server.url} --read-only --record {recording}",
                size=(140, 40), env=no_env(tmp_path), conf=tmux_conf(tmp_path))
    try:
        title = pane.tmux("display", "-p", "#{pane_title}").stdout.strip()
        screen = pane.wait_for("\\x1b]52", timeout=30)  # a route, shown as an escape
        assert "GET /api/" in screen
        # Redraws (routes every 5 s) would each write the clipboard again; the recording
        # keeps the routes as often. Seven more scrapes: six more ticks drawn, a redraw among
        # them, however slowly the machine runs them.
        scraped = scrapes(server)
        until(lambda: scrapes(server) >= scraped + 7, 60, "six more ticks")
        assert_terminal_untouched(pane, title)
        pane.keys("q")
        pane.wait_gone("Routes by", timeout=15)
    finally:
        pane.close()
    pane = Pane(f"{SBTOP} replay {recording}", size=(140, 40), env=no_env(tmp_path),
                conf=tmux_conf(tmp_path))
    try:
        title = pane.tmux("display", "-p", "#{pane_title}").stdout.strip()
        pane.keys("End")
        pane.wait_for("\\x1b]52", timeout=30)
        assert_terminal_untouched(pane, title)
    finally:
        pane.close()


def test_timeline_of_a_hostile_recording_is_plain_text_and_plain_markdown(
        server: LoopbackServer, tmp_path: Path) -> None:
    recording = tmp_path / "rec.sbrec"
    r = run_sbtop("record", str(recording), "--url", server.url, "--for", "4",
                  "--refresh", "1", env=no_env(tmp_path))
    assert r.returncode == 0, r.stderr
    # A recording handed over after editing: hostile text where sbtop wrote its own.
    edited = tmp_path / "edited.sbrec"
    lines = gzip.decompress(recording.read_bytes()).decode().splitlines()
    header = json.loads(lines[0])
    header["target"] = f"prod{OSC52}{CR}{HTML}"
    body = "\n".join([json.dumps(header), *lines[1:]]) + "\n"
    body = body.replace('"health"', json.dumps(f"health{TITLE}"), 1)
    edited.write_bytes(gzip.compress(body.encode()))
    for rec in (recording, edited):
        r = run_sbtop("timeline", str(rec), env=no_env(tmp_path))
        assert r.returncode == 0, r.stderr
        assert_clean(r.stdout + r.stderr, f"timeline of {rec.name}")
        html = MarkdownIt("commonmark").enable("table").render(r.stdout)
        # Rendered, the Markdown makes no tag of anyone's and no heading but sbtop's two.
        assert "<img" not in html and "<a " not in html
        headings = re.findall(r"<h\d>(.*?)</h\d>", html)
        assert len(headings) == 2, html
        assert headings[0].startswith("Timeline: ") and headings[1] == "Worst values"


# --- secrets on the way out ------------------------------------------------------------------

def test_credentials_are_never_sent_over_plain_http_to_another_host(tmp_path: Path) -> None:
    from sbtop import config

    env = {"SB_KEY": "k", "SB_TOKEN": "t", "SB_PW": "p"}
    refused = {
        "the Render API key": {"render": {"service_id": "srv-h", "api_key_env": "SB_KEY",
                                          "api_url": "http://render.example/v1"}},
        "auth": {"base_url": "http://studybuddy.example",
                 "auth": {"header": "Authorization", "header_env": "SB_TOKEN"}},
        "prometheus's credentials": {"prometheus": {
            "url": "http://prometheus.example:9090", "basic_user": "u",
            "basic_password_env": "SB_PW"}},
        "a webhook: its URL is a credential": {"actions": {"provider": "http", "http": {
            "url": "http://hooks.example/services/T0/B0/s3cr3t"}}},
    }
    for what, table in refused.items():
        cfg = config.parse({"targets": {"t": {"base_url": "https://h.example", **table}}})
        with pytest.raises(config.ConfigError, match="plain http") as e:
            config.resolve(cfg, env=env)
        assert what in str(e.value) and "s3cr3t" not in str(e.value)
    # To this machine (the demo, the tests), and over https, they go.
    for url in ("http://127.0.0.1:8099/v1", "http://localhost:8099/v1", "http://[::1]:1/v1",
                "https://api.render.com/v1"):
        cfg = config.parse({"targets": {"t": {"base_url": "https://h.example", "render": {
            "service_id": "srv-h", "api_key_env": "SB_KEY", "api_url": url}}}})
        actions = config.resolve(cfg, env=env).actions
        assert actions is not None and getattr(actions.provider, "api_key", None) == "k"


def test_a_webhook_url_is_shown_without_its_secret_and_can_live_in_the_environment(
        tmp_path: Path) -> None:
    secret = "s3cr3t-deploy-hook-key"
    with LoopbackServer({"/deploy/srv-h": Answer(200, b"ok")}) as hook:
        url = f"{hook.url}/deploy/srv-h?key={secret}"
        for table, env in ((f'url = "{url}"', {}),
                           ('url_env = "SB_HOOK_URL"', {"SB_HOOK_URL": url})):
            cfg = tmp_path / "c.toml"
            cfg.write_text(f'[targets.t]\nbase_url = "{hook.url}"\n[targets.t.actions]\n'
                           f'provider = "http"\n[targets.t.actions.http]\n{table}\n')
            cfg.chmod(0o644)
            full = {**no_env(tmp_path), **env}
            r = run_sbtop("restart", "--yes", "--config", str(cfg), env=full)
            assert r.returncode == 0, r.stdout + r.stderr
            assert f"POST {hook.url}/…" in r.stdout and secret not in r.stdout + r.stderr
            # The key reached the hook, in the URL it was given.
            assert hook.requests[-1]["path"] == f"/deploy/srv-h?key={secret}"
            audit = (tmp_path / "state" / "audit.jsonl").read_text()
            assert secret not in audit
            if not env:  # the key is in the file: readable by others, it is said
                assert "url_env" in r.stderr and "chmod 600" in r.stderr


def test_a_readable_config_naming_any_secret_variable_is_warned_about(tmp_path: Path) -> None:
    from sbtop import config

    for table in ('[targets.t.render]\nservice_id = "srv-h"\napi_key_env = "RENDER_API_KEY"\n',
                  '[targets.t.actions.http]\nheader = "X-Token"\nheader_env = "HOOK_TOKEN"\n',
                  '[targets.t.prometheus]\nbasic_user = "u"\nbasic_password_env = "PW"\n'):
        path = tmp_path / "c.toml"
        path.write_text(f'[targets.t]\nbase_url = "https://h.example"\n{table}')
        path.chmod(0o644)
        assert "chmod 600" in (config.permission_warning(path, config.load(path)) or ""), table
        path.chmod(0o600)
        assert config.permission_warning(path, config.load(path)) is None


def test_verify_shows_the_apps_answers_as_escapes(tmp_path: Path) -> None:
    with LoopbackServer({
            "/api/health": Answer(200, json.dumps({"status": f"down{OSC52}{FORGED}"}).encode(),
                                  "application/json"),
            # A header carries no control character past h11, but UTF-8 bytes, yes: U+202E.
            "/api/login": Answer(302, b"", headers={
                "Location": f"/login{BIDI}".encode().decode("latin-1")}),
            }) as app:
        cfg = tmp_path / "c.toml"
        cfg.write_text(f"""
[targets.t]
base_url = "{app.url}"
[[verify]]
name = "health"
path = "/api/health"
expect_json = {{ status = "ok" }}
[[verify]]
name = "login"
path = "/api/login"
""")
        r = run_sbtop("verify", "--config", str(cfg), "--window", "1", env=no_env(tmp_path))
    assert "status is" in r.stdout and "(to /login" in r.stdout, r.stdout
    assert_clean(r.stdout + r.stderr, "verify")
    assert sum(x.startswith("sbtop check:") for x in r.stdout.splitlines()) == 0


# --- what a team's state directory, a recording or a planted file hands back ---------------

def test_state_audit_and_lock_written_by_someone_else_are_shown_as_escapes(
        tmp_path: Path) -> None:
    import fcntl

    from sbtop.demo.backend import SimulatedBackend
    from sbtop.demo.render_api import API_KEY, SERVICE_ID

    with SimulatedBackend(port=0) as b:
        cfg = tmp_path / "c.toml"
        cfg.write_text(f'[targets.demo]\nbase_url = "{b.url}"\n[targets.demo.render]\n'
                       f'service_id = "{SERVICE_ID}"\napi_key_env = "SB_KEY"\n'
                       f'api_url = "{b.render_url}"\n')
        env = {**no_env(tmp_path), "SB_KEY": API_KEY}
        state = tmp_path / "state"
        state.mkdir(mode=0o700)
        (state / "state-demo.json").write_text(json.dumps(
            {"in_flight": {"action": f"restart{OSC52}{FORGED}"}}))
        (state / "audit.jsonl").write_text(json.dumps(
            {"user": f"mallory{TITLE}", "action": f"x{FORGED}", "result": OSC52}) + "\n")
        r = run_sbtop("canary", "status", "--config", str(cfg), "--window", "1", env=env)
        assert_clean(r.stdout + r.stderr, "a planted in-flight action")
        assert [x for x in r.stdout.splitlines() if x.startswith("sbtop check:")] == []
        lock = os.open(state / "lock-demo", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.write(lock, f"mallory)\nsbtop: restart done: all clear {OSC52}(".encode())
            fcntl.flock(lock, fcntl.LOCK_EX)
            r = run_sbtop("restart", "--yes", "--config", str(cfg), env=env)
        finally:
            os.close(lock)
        assert r.returncode == 1 and "another sbtop" in r.stdout
        assert_clean(r.stdout + r.stderr, "a planted lock holder")
        assert not any(x.startswith("sbtop: restart done") for x in r.stdout.splitlines())
        from sbtop.actions.audit import AuditLog

        for entry in AuditLog(state / "audit.jsonl").read():
            assert_strings_clean(entry, "the audit log read back")


def test_a_recordings_level_written_by_hand_makes_no_html(tmp_path: Path,
                                                          server: LoopbackServer) -> None:
    recording = tmp_path / "rec.sbrec"
    r = run_sbtop("record", str(recording), "--url", server.url, "--for", "2",
                  "--refresh", "1", env=no_env(tmp_path))
    assert r.returncode == 0, r.stderr
    lines = gzip.decompress(recording.read_bytes()).decode().splitlines()
    edited = [lines[0]] + [re.sub(r'"level": ?"\w+"', json.dumps(
        {"level": "<img src=x> | <a href=\"https://e\">x</a> |"})[1:-1], x, count=1)
        for x in lines[1:]]
    recording.unlink()
    recording.write_bytes(gzip.compress(("\n".join(edited) + "\n").encode()))
    r = run_sbtop("timeline", str(recording), env=no_env(tmp_path))
    html = MarkdownIt("commonmark").enable("table").render(r.stdout)
    assert "<img" not in html and "<a " not in html, r.stdout


def test_init_writes_nothing_through_a_planted_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("mine\n")
    target = tmp_path / "cfg" / "config.toml"
    target.parent.mkdir()
    (target.parent / "config.toml.tmp").symlink_to(victim)
    r = run_sbtop("init", str(target))
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == "mine\n" and not target.is_symlink()
    assert (target.stat().st_mode & 0o777) == 0o600


def test_a_hard_link_in_the_state_directory_is_refused_and_left_alone(tmp_path: Path) -> None:
    from sbtop.actions.state import StateDirError, StateStore

    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("keep me\n")
    elsewhere.chmod(0o644)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    os.link(elsewhere, state / "lock-t")
    with pytest.raises(StateDirError, match="hard links"), StateStore(state, "t").locked("x"):
        pass
    assert elsewhere.read_text() == "keep me\n" and (elsewhere.stat().st_mode & 0o777) == 0o644


def test_a_health_json_of_absurd_numbers_is_no_traceback(tmp_path: Path) -> None:
    body = ('{"memory": {"rss": ' + "9" * 400 + ', "limit": 1e308}, "deep": '
            + "[" * 5000 + "]" * 5000 + "}").encode()
    with LoopbackServer({"/metrics": Answer(body=hostile_page(100)),
                         "/api/health": Answer(body=body, content_type="application/json")}) as s:
        for extra in ((), ("--json",)):
            r = run_sbtop("check", "--url", s.url, "--window", "1", *extra,
                          env=no_env(tmp_path))
            assert "Traceback" not in r.stderr, r.stderr
            assert r.returncode in (1, 2, 3)


def test_a_name_under_localhost_is_not_this_machine() -> None:
    from sbtop import credentials

    assert credentials.is_loopback("http://localhost:9/") and credentials.is_loopback(
        "http://[::1]:9/") and credentials.is_loopback("http://127.0.0.2/")
    assert not credentials.is_loopback("http://evil.localhost/")
    assert credentials.refuse_plain_http("http://evil.localhost/hook", "a webhook")
