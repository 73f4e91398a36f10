"""Configuration: the documented example, the runbook's defaults, and clear one-line errors."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from sbtop import config, starter
from sbtop.actions.settings import RenderSettings
from sbtop.engine.levels import Level, Threshold
from sbtop.sources.settings import DbSettings
from sbtop.wiring import ConsoleSettings, TargetIdentity
from tests.cli import EXAMPLE, run_sbtop

ROOT = Path(__file__).resolve().parents[1]


def _paths(table: Any, prefix: str = "") -> set[str]:
    out: set[str] = set()
    if isinstance(table, dict):
        for k, v in table.items():
            path = f"{prefix}.{k}" if prefix else k
            out.add(path)
            out |= _paths(v, path)
    elif isinstance(table, list) and table and isinstance(table[0], dict):
        for item in table:
            out |= _paths(item, prefix + "[]")
    return out


def test_the_example_config_loads_and_documents_every_key() -> None:
    cfg = config.load(EXAMPLE)
    assert set(cfg.targets) == {"production", "staging"}
    data = tomllib.loads(EXAMPLE.read_text())
    present = _paths(data)
    # Targets appear under their names; the schema says targets.*.
    present |= {re.sub(r"^(targets|thresholds)\.[a-z0-9_]+\.", r"\1.*.", p) for p in present}
    missing = [p for p in config.schema_paths() if p not in present]
    assert missing == []


def test_without_a_file_the_runbooks_thresholds_and_alerts_apply() -> None:
    t = config.resolve(config.Config(), url="http://127.0.0.1:9")
    th = t.engine.thresholds
    assert th["latency_p95_ms"] == Threshold(500, 1000)
    assert th["error_rate_5xx_pct"] == Threshold(1, 5)
    assert th["db_connections_pct"] == Threshold(80, 95)
    assert th["memory_pct"] == Threshold(80, 95)
    assert th["socket_connections"] == Threshold(1000, 2000)
    assert [a.name for a in t.engine.alerts] == ["HighLatency", "HighErrorRate"]
    assert t.collector.metrics_url == "http://127.0.0.1:9/metrics"
    assert t.collector.health_url == "http://127.0.0.1:9/api/health"


def test_targets_url_override_and_per_target_metric_names() -> None:
    cfg = config.load(EXAMPLE)
    prod = config.resolve(cfg, "production", url="http://127.0.0.1:8099/")
    assert prod.base_url == "http://127.0.0.1:8099" and prod.production
    assert prod.engine.names.route_labels == ("route",)
    assert prod.engine.memory_limit_bytes == 512 * 1024 * 1024
    staging = config.resolve(cfg, "staging")
    assert staging.engine.names.route_labels == ("route", "path", "handler")
    assert not staging.production


def test_durations_and_replaced_alerts() -> None:
    cfg = config.parse({"alerts": [{"name": "Slow", "figure": "latency_p99_ms", "value": 2000,
                                    "for": "1h30m", "severity": "critical"}],
                        "targets": {"x": {"base_url": "http://h"}}})
    rule = config.resolve(cfg).engine.alerts[0]
    assert rule.for_s == 5400 and rule.severity is Level.CRITICAL


def test_secrets_come_from_the_environment_and_a_missing_one_is_warned_about() -> None:
    cfg = config.parse({"targets": {"p": {"base_url": "https://h", "auth": {
        "cookie": "connect.sid", "cookie_env": "SB_COOKIE",
        "header": "Authorization", "header_env": "SB_TOKEN"}}}})
    t = config.resolve(cfg, env={"SB_COOKIE": "s3cr3t", "DATABASE_URL": "postgres://x"})
    assert t.collector.http.cookies == {"connect.sid": "s3cr3t"}
    assert t.collector.http.headers == {}
    assert t.collector.dsn == "postgres://x"
    assert any("$SB_TOKEN" in w for w in t.warnings)
    assert "s3cr3t" not in repr(t) and "postgres://x" not in repr(t)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"targets": {"p": {"base_url": "http://h", "timeout": 5}}},
         "targets.p.timeout: unknown key (did you mean 'timeout_s'?)"),
        ({"targets": {"p": {"base_url": "http://h", "timeout_s": "5"}}},
         "targets.p.timeout_s: expected a number, got the string '5'"),
        ({"ui": {"read_only": "yes"}}, "ui.read_only: expected true or false"),
        ({"thresholds": {"latency_p95": {"warning": 1}}},
         "thresholds.latency_p95: unknown figure (did you mean 'latency_p95_ms'?)"),
        ({"thresholds": {"memory_pct": {"warning": 90, "critical": 80}}},
         "warning 90 is beyond critical 80"),
        ({"targets": {"p": {"base_url": "ftp://h"}}}, "targets.p.base_url: expected an http"),
        ({"targets": {"p": {"base_url": "https://u:pw@h"}}}, "credentials in the URL"),
        ({"targets": {"p": {"base_url": "http://h", "render": {
            "api_key_env": "rnd_AbC123-xyz.456"}}}}, "looks like a secret"),
        ({"targets": {"p": {"base_url": "http://h", "dsn_env": "postgres://u:p@h/db"}}},
         "targets.p.dsn_env: must name an environment variable"),
        ({"alerts": [{"name": "X", "figure": "latency_p95_ms", "for": "5 minutes"}]},
         "alerts[0].for: expected a duration"),
        ({"default_target": "prod", "targets": {"production": {"base_url": "http://h"}}},
         "default_target: no target named 'prod' (did you mean 'production'?)"),
        ({"canary": {"steps": [0, 25, 5]}}, "canary.steps: expected rising percentages"),
        ({"metrics": {"socket_gauges": "active_websocket_connections"}},
         "metrics.socket_gauges: expected a list"),
        ({"targets": {"p": {"metrics": {"histogram": "x"}}}},
         "targets.p.metrics.histogram: unknown key"),
    ],
)
def test_mistakes_name_the_key_path_and_the_problem(data: dict[str, Any], message: str) -> None:
    with pytest.raises(config.ConfigError) as e:
        config.resolve(config.parse(data))
    assert message in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # A table's key msgspec does not name: the one whose value is wrong, not the first.
        ({"targets": {"a": {}, "p": {"timeout_s": True}}},
         "targets.p.timeout_s: expected a number, got true"),
        ({"targets": {"p": {"max_samples": 1.5}}},
         "targets.p.max_samples: expected a whole number, got the number 1.5"),
        ({"targets": {"p": {"gzip": 1}}},
         "targets.p.gzip: expected true or false, got the number 1"),
        ({"targets": {"p": {"auth": {"heder": "x"}}}},
         "targets.p.auth.heder: unknown key (did you mean 'header'?)"),
        ({"targets": {"p": 5}}, "targets.p: expected a table, got the number 5"),
        ({"targets": {"p": {"metrics_urls": ["http://a", 3]}}},
         "targets.p.metrics_urls[1]: expected a string, got the number 3"),
        ({"targets": {"p": {"metrics": {"route_labels": ["x", 1]}}}},
         "targets.p.metrics.route_labels[1]: expected a string, got the number 1"),
        ({"thresholds": {"memory_pct": {"warning": float("nan")}}},
         "thresholds.memory_pct.warning: expected a finite number, got nan"),
        ({"thresholds": {"memory_pct": {"warning": "x"}}},
         "thresholds.memory_pct.warning: expected a number, got the string 'x'"),
        ({"alerts": [{"name": "a"}, {"for": -5}]}, "alerts[1].for: must not be negative"),
        ({"alerts": [{"name": "a"}, {"for_s": 5}]},
         "alerts[1].for_s: unknown key (did you mean 'for'?)"),
        ({"alerts": [5]}, "alerts[0]: expected a table, got the number 5"),
        ({"canary": {"steps": [0, "5"]}},
         "canary.steps[1]: expected a whole number, got the string '5'"),
        ({"ui": []}, "ui: expected a table, got a list"),
        ({"uii": {}}, "uii: unknown key (did you mean 'ui'?)"),
    ],
)
def test_every_type_mistake_is_one_line_with_its_key_path(data: dict[str, Any],
                                                          message: str) -> None:
    """The binder's library (msgspec) checks the types; what it says is turned into these
    lines: the dotted path, a table's key found, what was expected in words, what was there."""
    with pytest.raises(config.ConfigError) as e:
        config.parse(data)
    assert str(e.value) == message


def test_a_webhook_url_in_the_schema_never_shows_in_its_repr() -> None:
    http = config.parse({"targets": {"p": {"actions": {"http": {
        "url": "https://hooks.example/deploy?key=k3y"}}}}}).targets["p"].actions.http
    assert "k3y" not in repr(http) and "url=<set>" in repr(http)


def test_an_env_key_with_a_trailing_line_break_is_refused() -> None:
    with pytest.raises(config.ConfigError, match="must name an environment variable"):
        config.parse({"targets": {"p": {"auth": {"header": "X", "header_env": "TOKEN\n"}}}})


def test_a_secret_pasted_into_an_env_key_is_not_echoed() -> None:
    with pytest.raises(config.ConfigError) as e:
        config.parse({"targets": {"p": {"dsn_env": "postgres://u:hunter2@h/db"}}})
    assert "hunter2" not in str(e.value)


def test_choosing_a_missing_target_lists_the_known_ones() -> None:
    cfg = config.load(EXAMPLE)
    with pytest.raises(config.ConfigError, match=r"no target named 'prodution' \(did you mean "
                       r"'production'\?\) \(targets: production, staging\)"):
        config.resolve(cfg, "prodution")


@pytest.mark.slow
def test_config_errors_exit_3_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[targets.p]\nbase_url = "http://h"\nmetrics_pth = "/m"\n')
    r = run_sbtop("check", "--config", str(bad))
    assert r.returncode == 3
    assert r.stdout == ""
    assert r.stderr.strip().count("\n") == 0
    assert "targets.p.metrics_pth: unknown key (did you mean 'metrics_path'?)" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'[targets.p\nbase_url = "x"\n', "invalid TOML"),
        (b"\xff\xfe[ui]\n", "not UTF-8"),
    ],
)
def test_unreadable_files_exit_3_with_one_line(tmp_path: Path, content: bytes,
                                               message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(content)
    r = run_sbtop("check", "--config", str(path))
    assert r.returncode == 3 and message in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_a_missing_config_file_exits_3(tmp_path: Path) -> None:
    r = run_sbtop("check", "--config", str(tmp_path / "nope.toml"))
    assert r.returncode == 3 and "no such file" in r.stderr


def test_config_is_found_by_flag_then_environment_then_xdg(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    xdg = tmp_path / "xdg"
    (xdg / "sbtop").mkdir(parents=True)
    (xdg / "sbtop" / "config.toml").write_text("")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    monkeypatch.delenv("SBTOP_CONFIG", raising=False)
    assert config.find_config(None) == xdg / "sbtop" / "config.toml"
    monkeypatch.setenv("SBTOP_CONFIG", str(tmp_path / "env.toml"))
    assert config.find_config(None) == tmp_path / "env.toml"
    assert config.find_config(str(tmp_path / "flag.toml")) == tmp_path / "flag.toml"


@pytest.mark.slow
def test_init_writes_a_commented_starter_that_loads_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    r = run_sbtop("init", str(path))
    assert r.returncode == 0, r.stderr
    text = path.read_text()
    assert text.startswith("# sbtop configuration")
    assert (path.stat().st_mode & 0o777) == 0o600
    cfg = config.load(path)
    assert cfg.targets["production"].production
    assert config.resolve(cfg).engine.thresholds["latency_p95_ms"] == Threshold(500, 1000)
    from sbtop.checklist import STUDYBUDDY
    assert [v.name for v in cfg.verify] == [item["name"] for item in STUDYBUDDY]
    path.write_text("# mine\n")
    r = run_sbtop("init", str(path))
    assert r.returncode == 3 and "--force" in r.stderr
    assert path.read_text() == "# mine\n"
    r = run_sbtop("init", str(path), "--force")
    assert r.returncode == 0 and path.read_text() == starter.starter_text()


@pytest.mark.slow
def test_init_defaults_to_the_xdg_path(tmp_path: Path) -> None:
    r = run_sbtop("init", env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert r.returncode == 0
    assert (tmp_path / "sbtop" / "config.toml").exists()


def test_a_world_readable_config_naming_secrets_is_warned_about(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[targets.p]\nbase_url = "http://127.0.0.1:9"\n'
                    '[targets.p.auth]\ncookie = "sid"\ncookie_env = "SB_COOKIE"\n')
    path.chmod(0o644)
    assert "chmod 600" in (config.permission_warning(path, config.load(path)) or "")
    path.chmod(0o600)
    assert config.permission_warning(path, config.load(path)) is None


def test_a_bound_given_alone_keeps_the_runbooks_other_bound() -> None:
    cfg = config.parse({"thresholds": {"latency_p95_ms": {"warning": 800}},
                        "targets": {"p": {"base_url": "http://h"}}})
    assert config.resolve(cfg).engine.thresholds["latency_p95_ms"] == Threshold(800, 1000)
    with pytest.raises(config.ConfigError, match="warning 2000 is beyond critical 1000"):
        config.parse({"thresholds": {"latency_p95_ms": {"warning": 2000}}})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"targets": {"p": {"base_url": "http://h", "max_page_mb": float("inf")}}},
         "expected a finite number"),
        ({"targets": {"p": {"base_url": "http://h", "timeout_s": float("nan")}}},
         "expected a finite number"),
        ({"targets": {"p": {"base_url": "http://127.0.0.1:99999"}}}, "not a valid URL"),
        ({"targets": {"p": {"base_url": "http://h", "metrics_path": "", "health_path": ""}}},
         "nothing to watch"),
        ({"engine": {"top_routes": 0}}, "engine.top_routes: must be at least 1"),
        ({"targets": {"p": {"base_url": "http://h", "ca_bundle": "/nonexistent.pem"}}},
         "targets.p.ca_bundle: cannot load /nonexistent.pem"),
    ],
)
def test_values_that_would_break_later_are_refused_now(data: dict[str, Any], message: str) -> None:
    with pytest.raises(config.ConfigError, match=re.escape(message)):
        config.resolve(config.parse(data))


def test_a_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(config.ConfigError) as e:
        config.resolve(config.Config(), url="http://user:pa55w0rd@127.0.0.1:9")
    assert "credentials" in str(e.value) and "pa55w0rd" not in str(e.value)


def test_a_secret_with_a_line_break_is_refused_without_echoing_it() -> None:
    cfg = config.parse({"targets": {"p": {"base_url": "http://h", "auth": {
        "header": "X-Token", "header_env": "TOK"}}}})
    with pytest.raises(config.ConfigError) as e:
        config.resolve(cfg, env={"TOK": "s3cret-token\n"})
    assert "$TOK" in str(e.value) and "s3cret" not in str(e.value)


def test_only_the_composition_root_and_the_commands_read_the_config() -> None:
    """The import-linter contract `config-read-once` (pyproject.toml): no subsystem or face
    imports sbtop.config, directly or through another module; they are handed their settings
    (sbtop.wiring). Run here too so the suite fails, not only the linter, when one does."""
    r = subprocess.run([sys.executable, "-c",
                        "from importlinter.cli import lint_imports_command as c; c()",
                        "--contract", "config-read-once", "--no-cache", "--no-logo"],
                       check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "KEPT" in r.stdout and "BROKEN" not in r.stdout


def test_each_subsystem_is_given_only_its_settings_and_no_secret_shows() -> None:
    """The composition root maps the config once: the collector's Prometheus and database
    settings, the provider's with its key, the recording header's and the console's, each
    from its table; the DSN and every credential out of every repr."""
    cfg = config.parse({
        "ui": {"theme": "light", "refresh_s": 2.0, "read_only": True},
        "db": {"statement_timeout_s": 1.5, "only_database": True, "pool_user": "app",
               "allow_cancel": True},
        "canary": {"flag": "FLAG", "steps": [0, 10, 100], "soak": {"10": "5m"}},
        "verification": {"p95_tolerance_pct": 5.0},
        "targets": {"p": {
            "base_url": "http://127.0.0.1:9", "production": True, "dsn_env": "SB_DSN",
            "render": {"service_id": "srv-1", "api_key_env": "SB_KEY",
                       "api_url": "http://127.0.0.1:9/v1"},
            "prometheus": {"url": "http://127.0.0.1:9090", "selector": 'job="x"',
                           "header": "Authorization", "header_env": "SB_PROM"}}}})
    env = {"SB_DSN": "postgres://u:pw@h/db", "SB_KEY": "rnd_k3y", "SB_PROM": "Bearer pr0m"}
    w = config.resolve(cfg, env=env)
    assert w.identity == TargetIdentity("p", True, "http://127.0.0.1:9")
    c = w.collector
    assert c.dsn == "postgres://u:pw@h/db" and c.engine is w.engine
    assert c.db == DbSettings(statement_timeout_s=1.5, only_database=True, pool_user="app")
    assert c.prometheus is not None and c.prometheus.selector == 'job="x"'
    assert c.prometheus.headers == {"Authorization": "Bearer pr0m"}
    assert w.actions is not None and w.actions.flag == "FLAG"
    assert w.actions.provider == RenderSettings("http://127.0.0.1:9/v1", "srv-1", "rnd_k3y")
    assert w.actions.gate.steps == (0, 10, 100) and w.actions.gate.soak_s == {10: 300.0}
    assert w.recording.target == "p" and w.recording.gate == w.actions.gate
    assert w.recording.flag == "FLAG" and w.recording.window_s == w.engine.window_s
    assert w.console == ConsoleSettings("light", 2.0, 3600.0, True, allow_cancel=True)
    assert w.verify.tolerances.p95_pct == 5.0 and w.verify.base_url == "http://127.0.0.1:9"
    for shown in (repr(w), repr(w.collector), repr(w.actions), str(w)):
        assert not any(secret in shown for secret in ("pw@", "rnd_k3y", "pr0m")), shown
    # No provider configured: no actions settings, and the controller says why.
    bare = config.resolve(config.Config(), url="http://127.0.0.1:9")
    assert bare.actions is None
    # A provider whose key is not set: kept, with the reason the console shows.
    unset = config.resolve(cfg, env={})
    assert unset.actions is not None and unset.actions.provider is None
    assert "$SB_KEY is not set" in unset.actions.unavailable
