"""The command provider with real processes, the webhook against a real server."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from pathlib import Path

import pytest

from sbtop.actions.providers import ActionError, CommandProvider, HttpProvider, _percent
from tests.servers import Answer, LoopbackServer

PY = sys.executable


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_a_command_runs_without_a_shell_with_its_placeholders(tmp_path: Path) -> None:
    out = tmp_path / "args"
    script = f"import sys; open({str(out)!r}, 'w').write(' '.join(sys.argv[1:])); print('ok')"
    p = CommandProvider({"canary": [PY, "-c", script, "{flag}", "{percent}", "{service}; rm"]},
                        service="srv-1", flag="PERF")
    assert p.plan("canary", {"percent": 25})[0].startswith(f"run: {PY} -c")
    result = run(p.run("canary", {"percent": 25}))
    assert "succeeded: ok" in str(result)
    assert out.read_text() == "PERF 25 srv-1; rm"  # '; rm' stayed an argument


def test_a_failing_command_reports_its_exit_code_and_last_lines() -> None:
    p = CommandProvider({"restart": [PY, "-c", "print('step 1'); print('boom'); exit(3)"]})
    with pytest.raises(ActionError, match=re.escape("exited 3: step 1 | boom")):
        run(p.run("restart", {}))


def test_a_command_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child"
    script = ("import subprocess, sys, time; "
              f"c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
              f"open({str(pidfile)!r}, 'w').write(str(c.pid)); time.sleep(60)")
    p = CommandProvider({"rollback": [PY, "-c", script]}, timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(ActionError, match="timed out after 1 s and was killed"):
        run(p.run("rollback", {}))
    assert time.monotonic() - started < 5
    child = int(pidfile.read_text())
    time.sleep(0.2)
    assert not _alive(child)


def test_a_command_cancelled_midway_is_stopped_with_its_children(tmp_path: Path) -> None:
    """Quitting or a hang-up cancels the action: the command must not outlive sbtop."""
    pidfile = tmp_path / "child"
    script = ("import subprocess, sys, time; "
              f"c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
              f"open({str(pidfile)!r}, 'w').write(str(c.pid)); print('started', flush=True); "
              "time.sleep(60)")
    p = CommandProvider({"rollback": [PY, "-c", script]}, timeout_s=60.0)

    async def cancel_midway() -> None:
        task = asyncio.create_task(p.run("rollback", {}))
        while not pidfile.exists() or not pidfile.read_text():
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    started = time.monotonic()
    run(cancel_midway())
    assert time.monotonic() - started < 10
    time.sleep(0.2)
    assert not _alive(int(pidfile.read_text()))


def _alive(pid: int) -> bool:
    """Running, not merely a zombie waiting to be reaped."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_large_output_is_bounded_to_its_end() -> None:
    p = CommandProvider({"restart": [PY, "-c", "print('x' * 10_000_000); print('the end')"]})
    assert str(run(p.run("restart", {}))).endswith("the end")


def test_a_missing_program_or_command_is_one_line() -> None:
    with pytest.raises(ActionError, match="cannot run /nonexistent/deploy"):
        run(CommandProvider({"restart": ["/nonexistent/deploy"]}).run("restart", {}))
    with pytest.raises(ActionError, match="no command configured for rollback"):
        CommandProvider({}).plan("rollback", {})


def test_the_flag_is_read_as_the_app_reads_it() -> None:
    assert [_percent(v) for v in (None, "", "25", " 5 ", "25abc", "abc", "250", "-3")] == [
        0, 0, 25, 5, 25, 0, 100, 0]


def test_the_webhook_sends_its_body_and_the_header_from_the_environment() -> None:
    with LoopbackServer({"/hook": Answer(body=b"{}", status=202)}) as srv:
        p = HttpProvider(srv.url + "/hook", headers={"Authorization": "Bearer s3cret"},
                         service="srv-1")
        plan = p.plan("canary", {"percent": 5})[0]
        assert "s3cret" not in plan and "Authorization: (from the environment)" in plan
        assert run(p.run("canary", {"percent": 5})) == "webhook answered HTTP 202"
        sent = srv.requests[0]
    assert sent["method"] == "POST" and sent["headers"]["Authorization"] == "Bearer s3cret"
    assert json.loads(sent["body"]) == {"action": "canary", "percent": "5", "service": "srv-1"}


def test_a_failing_or_hanging_webhook_is_reported() -> None:
    with LoopbackServer({"/bad": Answer(status=500, body=b"nope"),
                         "/hang": Answer(hang=True)}) as srv:
        with pytest.raises(ActionError, match="HTTP 500: nope"):
            run(HttpProvider(srv.url + "/bad").run("restart", {}))
        with pytest.raises(ActionError, match=re.escape("no answer within 0.5 s")):
            run(HttpProvider(srv.url + "/hang", timeout_s=0.5).run("restart", {}))
