"""Secrets never leave the environment: API keys, cookies, header values and DSN passwords are
searched for in every output sbtop makes (standard output and error of every command, the
console's screen, the audit log, the state files, recordings and timelines), on the paths that
work and on the paths that fail."""

from __future__ import annotations

import gzip
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from sbtop.demo.app_api import DEMO_EMAIL, DEMO_PASSWORD, DEMO_SESSION
from sbtop.demo.backend import SimulatedBackend
from sbtop.demo.render_api import SERVICE_ID
from tests.cli import EXAMPLE, run_sbtop
from tests.control_plane import serving
from tests.tmux import Pane
from tests.waiting import until

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow

SBTOP = Path(sys.executable).with_name("sbtop")


@pytest.fixture
def backend() -> Iterator[SimulatedBackend]:
    with serving(200, 0.1, 0.1) as b:
        b.set(error_rate=0.0)
        yield b


class Secrets:
    def __init__(self, pg_db: str) -> None:
        self.render_key = "rnd_" + secrets.token_hex(12)
        self.header = "Bearer hdr-" + secrets.token_hex(8)
        self.db_password = "pw-" + secrets.token_hex(8)
        self.dsn = psycopg.conninfo.make_conninfo(pg_db, password=self.db_password)
        self.env = {"SB_RENDER_KEY": self.render_key, "SB_METRICS_AUTH": self.header,
                    "SB_DSN": self.dsn, "STUDYBUDDY_VERIFY_EMAIL": DEMO_EMAIL,
                    "STUDYBUDDY_VERIFY_PASSWORD": DEMO_PASSWORD,
                    "STUDYBUDDY_SESSION_COOKIE": DEMO_SESSION}
        # What must never be seen (the demo's login values stand for the real ones).
        self.values = [self.render_key, self.header.split()[1], self.db_password,
                       DEMO_PASSWORD, DEMO_SESSION, "sbtop-demo-session"]

    def assert_absent(self, where: str, text: str) -> None:
        for value in self.values:
            assert value not in text, f"a secret appeared in {where}"


def config(tmp_path: Path, b: SimulatedBackend) -> Path:
    checklist = EXAMPLE.read_text().split("# The runbook's post-deployment checklist", 1)[1]
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'[targets.app]\nbase_url = "{b.url}"\nmemory_limit_mb = 512\ndsn_env = "SB_DSN"\n'
        '[targets.app.auth]\nheader = "Authorization"\nheader_env = "SB_METRICS_AUTH"\n'
        f'[targets.app.render]\nservice_id = "{SERVICE_ID}"\napi_key_env = "SB_RENDER_KEY"\n'
        f'api_url = "{b.render_url}"\n'
        '[canary]\nsoak = { "5" = "0s", "25" = "0s" }\n'
        + checklist.split("\n", 1)[1])
    cfg.chmod(0o600)
    return cfg


def test_no_secret_appears_in_any_output_when_everything_works(
        tmp_path: Path, backend: SimulatedBackend, pg_db: str) -> None:
    s = Secrets(pg_db)
    backend.render.api_key = s.render_key
    cfg = config(tmp_path, backend)
    state = tmp_path / "state"
    common = ["--config", str(cfg), "--target", "app"]
    outputs: dict[str, str] = {}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        r = run_sbtop(*args, env=s.env)
        outputs[" ".join(args[:2])] = r.stdout + r.stderr
        return r

    r = run("check", "--json", "--window", "1", *common)
    assert '"database"' in r.stdout  # the database was read with the DSN
    run("check", "--window", "1", *common)
    assert run("verify", "--window", "1", "--state-dir", str(state), *common).returncode == 0
    run("verify", "--json", "--window", "1", "--state-dir", str(state), *common)
    r = run("canary", "next", "--yes", "--window", "1", "--state-dir", str(state), *common)
    assert r.returncode == 0, r.stdout + r.stderr  # an action really went through the API
    run("canary", "status", "--window", "1", "--state-dir", str(state), *common)
    run("restart", "--dry-run", "--yes", "--state-dir", str(state), *common)
    rec = tmp_path / "shift.sbrec"
    run("record", str(rec), "--for", "3", "--state-dir", str(state), *common)
    run("timeline", str(rec))
    outputs["console"] = console_screens(cfg, state, tmp_path / "console.sbrec", s.env)

    for where, text in outputs.items():
        s.assert_absent(where, text)
    for path in [*state.rglob("*"), rec, tmp_path / "console.sbrec"]:
        if path.is_file():
            raw = path.read_bytes()
            text = gzip.decompress(raw).decode() if raw[:2] == b"\x1f\x8b" else raw.decode()
            s.assert_absent(path.name, text)
    assert (state / "audit.jsonl").read_text().count("\n") >= 2


def test_no_secret_appears_when_the_secrets_are_wrong_or_the_services_fail(
        tmp_path: Path, backend: SimulatedBackend, pg_db: str) -> None:
    s = Secrets(pg_db)
    # The API refuses this key, the database is not where the DSN says, the login fails.
    backend.render.api_key = "rnd_the-real-key"
    s.env["SB_DSN"] = psycopg.conninfo.make_conninfo(pg_db, password=s.db_password, port=1)
    s.env["STUDYBUDDY_VERIFY_PASSWORD"] = "wrong-" + DEMO_PASSWORD
    cfg = config(tmp_path, backend)
    state = tmp_path / "state"
    common = ["--config", str(cfg), "--target", "app", "--state-dir", str(state)]
    r = run_sbtop("canary", "next", "--yes", "--window", "1", *common, env=s.env)
    assert r.returncode != 0 and "401" in r.stdout + r.stderr
    s.assert_absent("canary next", r.stdout + r.stderr)
    r = run_sbtop("check", "--json", "--window", "1", "--config", str(cfg), env=s.env)
    assert "DOWN" in r.stdout or '"up": false' in r.stdout
    s.assert_absent("check", r.stdout + r.stderr)
    r = run_sbtop("verify", "--window", "1", *common, env=s.env)
    assert r.returncode == 2
    s.assert_absent("verify", r.stdout + r.stderr)
    for path in state.rglob("*"):
        if path.is_file():
            s.assert_absent(path.name, path.read_text())


def console_screens(cfg: Path, state: Path, rec: Path, env: dict[str, str]) -> str:
    """The real console in tmux: the main screen, the action log and the checklist."""
    exports = " ".join(f"{k}='{v}'" for k, v in env.items())
    pane = Pane(f"env {exports} {SBTOP} --config {cfg} --target app --state-dir {state} "
                f"--record {rec}; sleep 30", size=(120, 40))
    screens = []
    try:
        first = pane.wait_for("req/s")
        screens.append(first)
        until(lambda: pane.text() != first, 20, "a later tick drawn")
        screens.append(pane.wait_for("req/s"))
        pane.keys("a")
        screens.append(pane.wait_for("Action log"))
        pane.keys("a")  # closes the log (escape would wait to be told from alt+key)
        pane.wait_gone("Action log")
        pane.keys("v")
        screens.append(pane.wait_for("Post-deployment checklist"))
        screens.append(pane.wait_for(" passed, "))  # the verdict: every probe has answered
        pane.keys("Escape")
        pane.wait_gone("Post-deployment checklist")
        pane.keys("q")
        pane.wait_gone("req/s")  # the recording closed, the shell's screen back
    finally:
        pane.close()
    return "\n".join(screens)


def test_a_targets_secrets_are_typed_and_their_repr_holds_no_value() -> None:
    from sbtop import config

    cfg = config.parse({"targets": {
        "r": {"base_url": "http://127.0.0.1:9", "render": {
            "service_id": "srv-1", "api_key_env": "SB_KEY"},
            "prometheus": {"url": "http://127.0.0.1:9090", "header": "Authorization",
                           "header_env": "SB_PROM", "basic_user": "u",
                           "basic_password_env": "SB_PROM_PW"}},
        "h": {"base_url": "http://127.0.0.1:9", "actions": {"provider": "http", "http": {
            "url_env": "SB_HOOK", "header": "X-Key", "header_env": "SB_HOOK_KEY"}}}}})
    env = {"SB_KEY": "rnd_k3y", "SB_PROM": "Bearer pr0m", "SB_PROM_PW": "pr0m-pw",
           "SB_HOOK": "http://127.0.0.1:7/h00k", "SB_HOOK_KEY": "h00k-key"}
    r = config.resolve(cfg, "r", env=env)
    h = config.resolve(cfg, "h", env=env)
    # Each credential is read once and handed to the one subsystem that sends it.
    assert r.actions is not None and h.actions is not None
    prom = r.collector.prometheus
    assert prom is not None and prom.headers == {"Authorization": "Bearer pr0m"}
    assert prom.basic_auth == ("u", "pr0m-pw")
    assert getattr(r.actions.provider, "api_key", None) == "rnd_k3y"
    hook = h.actions.provider
    assert getattr(hook, "headers", None) == {"X-Key": "h00k-key"}
    assert getattr(hook, "url", None) == "http://127.0.0.1:7/h00k"
    for target in (r, h):
        shown = repr(target)
        assert not any(value in shown for value in env.values()), shown
    # The typed holder the reading returns says which are set, never their values.
    held = config.Secrets(render_api_key="rnd_k3y", prometheus_header="Bearer pr0m",
                          prometheus_password="pr0m-pw")
    assert repr(held) == ("Secrets(render_api_key=<set>, prometheus_header=<set>, "
                          "prometheus_password=<set>)")
    assert not any(value in str(held) for value in env.values())
    # A variable that is not set: nothing sent, and the Render keys say why they do nothing.
    unset = config.resolve(cfg, "r", env={})
    assert unset.collector.prometheus is not None and unset.collector.prometheus.headers == {}
    assert unset.actions is not None and unset.actions.provider is None
    assert "SB_KEY" in unset.actions.unavailable
    assert repr(config.Secrets()) == "Secrets()"
