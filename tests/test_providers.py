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
from sbtop.actions.requests import Params
from tests import procs
from tests.servers import Answer, LoopbackServer

PY = sys.executable


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_command_runs_without_a_shell_with_its_placeholders(tmp_path: Path) -> None:
    out = tmp_path / "args"
    script = f"import sys; open({str(out)!r}, 'w').write(' '.join(sys.argv[1:])); print('ok')"
    p = CommandProvider({"canary": [PY, "-c", script, "{flag}", "{percent}", "{service}; rm"]},
                        service="srv-1", flag="PERF")
    assert p.plan("canary", Params(percent=25))[0].startswith(f"run: {PY} -c")
    result = run(p.run("canary", Params(percent=25)))
    assert "succeeded: ok" in str(result)
    assert out.read_text() == "PERF 25 srv-1; rm"  # '; rm' stayed an argument


@pytest.mark.slow
def test_a_failing_command_reports_its_exit_code_and_last_lines() -> None:
    p = CommandProvider({"restart": [PY, "-c", "print('step 1'); print('boom'); exit(3)"]})
    with pytest.raises(ActionError, match=re.escape("exited 3: step 1 | boom")):
        run(p.run("restart", Params()))


@pytest.mark.slow
def test_a_command_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    # A shell, not a Python: its start-up is no part of the 1 s the command is given.
    pidfile = tmp_path / "child"
    p = CommandProvider({"rollback": ["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"]},
                        timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(ActionError, match="timed out after 1 s and was killed"):
        run(p.run("rollback", Params()))
    # Bounded by the timeout, not by the command's own 60 s (no interpreter starts meanwhile).
    assert time.monotonic() - started < 5
    assert gone(int(pidfile.read_text()))


@pytest.mark.slow
def test_a_command_cancelled_midway_is_stopped_with_its_children(tmp_path: Path) -> None:
    """Quitting or a hang-up cancels the action: the command must not outlive sbtop."""
    pidfile = tmp_path / "child"
    p = CommandProvider({"rollback": ["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"]},
                        timeout_s=60.0)

    async def cancel_midway() -> None:
        task = asyncio.create_task(p.run("rollback", Params()))
        while not pidfile.exists() or not pidfile.read_text().strip():
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    started = time.monotonic()
    run(cancel_midway())
    assert time.monotonic() - started < 10  # not the command's 60 s
    assert gone(int(pidfile.read_text()))


def gone(pid: int) -> bool:
    """The process ends (a zombie counts as ended) within 10 s of being killed: it would run
    for 60 s if it had not been."""
    proc = procs.stat(pid)
    return proc is None or not procs.wait_gone({proc}, 10.0)


@pytest.mark.slow
def test_large_output_is_bounded_to_its_end() -> None:
    p = CommandProvider({"restart": [PY, "-c", "print('x' * 10_000_000); print('the end')"]})
    assert str(run(p.run("restart", Params()))).endswith("the end")


@pytest.mark.slow
def test_a_missing_program_or_command_is_one_line() -> None:
    with pytest.raises(ActionError, match="cannot run /nonexistent/deploy"):
        run(CommandProvider({"restart": ["/nonexistent/deploy"]}).run("restart", Params()))
    with pytest.raises(ActionError, match="no command configured for rollback"):
        CommandProvider({}).plan("rollback", Params())


def test_the_flag_is_read_as_the_app_reads_it() -> None:
    assert [_percent(v) for v in (None, "", "25", " 5 ", "25abc", "abc", "250", "-3")] == [
        0, 0, 25, 5, 25, 0, 100, 0]


@pytest.mark.slow
def test_the_webhook_sends_its_body_and_the_header_from_the_environment() -> None:
    with LoopbackServer({"/hook": Answer(body=b"{}", status=202)}) as srv:
        p = HttpProvider(srv.url + "/hook", headers={"Authorization": "Bearer s3cret"},
                         service="srv-1")
        plan = p.plan("canary", Params(percent=5))[0]
        assert "s3cret" not in plan and "Authorization: (from the environment)" in plan
        assert run(p.run("canary", Params(percent=5))) == "webhook answered HTTP 202"
        sent = srv.requests[0]
    assert sent["method"] == "POST" and sent["headers"]["Authorization"] == "Bearer s3cret"
    assert json.loads(sent["body"]) == {"action": "canary", "percent": "5", "service": "srv-1"}


@pytest.mark.slow
def test_a_failing_or_hanging_webhook_is_reported() -> None:
    with LoopbackServer({"/bad": Answer(status=500, body=b"nope"),
                         "/hang": Answer(hang=True)}) as srv:
        with pytest.raises(ActionError, match="HTTP 500: nope"):
            run(HttpProvider(srv.url + "/bad").run("restart", Params()))
        with pytest.raises(ActionError, match=re.escape(
                "no complete answer within 0.5 s: it may still have been carried out")):
            run(HttpProvider(srv.url + "/hang", timeout_s=0.5).run("restart", Params()))


# --- bounded in time and size (issue 14, items 5 and 6) -------------------------------------

def outcome(coro: object) -> object:
    """What a call gives, or the error it raises."""
    try:
        return run(coro)
    except ActionError as e:
        return e


@pytest.mark.slow
def test_a_webhook_answering_slowly_is_cut_off_at_its_deadline_saying_what_is_known() -> None:
    body = b'{"ok": true}'.ljust(200)  # a byte every 50 ms: 10 s of answer at timeout_s = 1
    with LoopbackServer({"/ok": Answer(202, body, "application/json", trickle_s=0.05),
                         "/bad": Answer(500, body, "application/json", trickle_s=0.05),
                         "/late": Answer(202, b"{}", delay_s=5.0)}) as srv:
        # The success status came first: that is the verdict, the rest is not waited for.
        got = outcome(HttpProvider(srv.url + "/ok", timeout_s=1).run("restart", Params()))
        assert got == ("webhook answered HTTP 202 (then no complete answer within 1 s: the rest "
                       "not read)")
        srv.assert_cut_off(1.0)
        got = outcome(HttpProvider(srv.url + "/bad", timeout_s=1).run("restart", Params()))
        assert str(got) == "webhook answered HTTP 500, then no complete answer within 1 s"
        srv.assert_cut_off(1.0)
        # Nothing came: the hook may have acted all the same.
        got = outcome(HttpProvider(srv.url + "/late", timeout_s=1).run("restart", Params()))
        assert str(got) == ("webhook: no complete answer within 1 s: it may still have been "
                            "carried out; look before trying again")
        srv.assert_cut_off(1.0)


@pytest.mark.slow
def test_a_huge_webhook_answer_is_read_only_as_far_as_is_shown() -> None:
    huge = b"no such service\n" + b"x" * (5 * 1024 * 1024)
    with LoopbackServer({"/bad": Answer(404, huge), "/ok": Answer(200, huge)}) as srv:
        with pytest.raises(ActionError) as e:
            run(HttpProvider(srv.url + "/bad").run("restart", Params()))
        assert str(e.value).startswith("webhook answered HTTP 404: no such service\\nxxx")
        assert str(e.value).endswith("(its answer is over 64 KB: cut there)")
        assert run(HttpProvider(srv.url + "/ok").run("restart", Params())) == (
            "webhook answered HTTP 200 (its answer is over 64 KB: cut there)")
