"""The Render provider against a loopback server implementing Render's documented endpoints,
their answers and their errors (401, 404, 409, 429 with its reset, 500, 202 without a body)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from sbtop.actions.render import RenderClient, RenderError, RenderSettings, RenderTimeout
from sbtop.actions.requests import RollbackTarget
from sbtop.demo.backend import SimulatedBackend
from sbtop.demo.render_api import API_KEY, SERVICE_ID, Failure
from tests.control_plane import serving
from tests.servers import Answer, LoopbackServer

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow


@pytest.fixture
def backend() -> Iterator[SimulatedBackend]:
    with serving(None, 0.15, 0.1, background=False) as b:
        yield b


def client(b: SimulatedBackend, **changes: Any) -> RenderClient:
    settings = RenderSettings(api_url=b.render_url, service_id=SERVICE_ID, api_key=API_KEY,
                              poll_every_s=0.05, timeout_s=3)
    for k, v in changes.items():
        settings = RenderSettings(**{**settings.__dict__, k: v})
    return RenderClient(settings)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_a_canary_step_sets_the_flag_deploys_and_follows_the_deploy_to_live(
        backend: SimulatedBackend) -> None:
    said: list[str] = []

    async def go() -> dict[str, Any]:
        c = client(backend)
        try:
            assert await c.read_flag("PERF_OPTIMIZATIONS_ENABLED") == "0"
            return await c.set_flag("PERF_OPTIMIZATIONS_ENABLED", "25", said.append)
        finally:
            await c.close()

    deploy = run(go())
    assert deploy["status"] == "live"
    assert backend.knobs.canary_percent == 25  # the running service sees the new value
    calls = [c for c in backend.render.calls if not c[1].endswith(deploy["id"])]
    assert calls[:3] == [
        ("GET", f"/v1/services/{SERVICE_ID}/env-vars/PERF_OPTIMIZATIONS_ENABLED"),
        ("PUT", f"/v1/services/{SERVICE_ID}/env-vars/PERF_OPTIMIZATIONS_ENABLED"),
        ("POST", f"/v1/services/{SERVICE_ID}/deploys"),
    ]
    assert any("live" in s for s in said)


def test_a_deploy_answered_202_without_a_body_is_found_in_the_list(
        backend: SimulatedBackend) -> None:
    backend.render.deploys_answer_202 = True

    async def go() -> dict[str, Any]:
        c = client(backend)
        try:
            return await c.set_flag("PERF_OPTIMIZATIONS_ENABLED", "5")
        finally:
            await c.close()

    assert run(go())["status"] == "live"
    assert backend.knobs.canary_percent == 5


def test_restart_resets_the_service(backend: SimulatedBackend) -> None:
    async def go() -> None:
        c = client(backend)
        try:
            await c.restart()
        finally:
            await c.close()

    run(go())
    assert backend.restarts == 1


def test_rollback_goes_to_the_last_deploy_that_was_live_and_skips_failed_builds(
        backend: SimulatedBackend) -> None:
    async def go() -> tuple[RollbackTarget, dict[str, Any]]:
        c = client(backend)
        try:
            await c.set_flag("PERF_OPTIMIZATIONS_ENABLED", "25")
            target = await c.rollback_target()
            done = await c.rollback()
            return target, done
        finally:
            await c.close()

    target, done = run(go())
    assert target.id == "dep-0001"
    assert done["status"] == "live" and done["trigger"] == "rollback"
    assert backend.knobs.canary_percent == 0
    assert backend.render.env["PERF_OPTIMIZATIONS_ENABLED"] == "0"


def test_a_failed_build_is_not_a_rollback_candidate(backend: SimulatedBackend) -> None:
    async def go() -> RollbackTarget:
        c = client(backend)
        try:
            await c.set_flag("PERF_OPTIMIZATIONS_ENABLED", "5")  # dep-0002 live, 0001 deactivated
            backend.render._deploys.insert(1, backend.render._deploys[0].__class__(
                "dep-0099", 0.0, {}, "api", "bad", status_override="build_failed"))
            return await c.rollback_target()
        finally:
            await c.close()

    assert run(go()).id == "dep-0001"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ({"api_key": "rnd_wrong"}, "Render refused the API key (401)"),
        ({"service_id": "srv-nope"}, "(404): check service_id srv-nope"),
    ],
)
def test_auth_and_service_errors_are_one_clear_line(backend: SimulatedBackend,
                                                    setup: dict[str, str], message: str) -> None:
    async def go() -> None:
        c = client(backend, **setup)
        try:
            await c.restart()
        finally:
            await c.close()

    with pytest.raises(RenderError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(go())
    assert backend.restarts == 0


def test_a_deploy_already_in_progress_is_refused_with_409(backend: SimulatedBackend) -> None:
    backend.render.build_s = 30

    async def go() -> None:
        c = client(backend, deploy_timeout_s=0.2)
        try:
            with pytest.raises(RenderError, match="still build_in_progress"):
                await c.set_flag("PERF_OPTIMIZATIONS_ENABLED", "5")
            await c.set_flag("PERF_OPTIMIZATIONS_ENABLED", "25")
        finally:
            await c.close()

    with pytest.raises(RenderError, match=r"already in progress \(409\)"):
        run(go())


def test_429_waits_for_the_reset_then_succeeds(backend: SimulatedBackend) -> None:
    backend.render.fail_next(Failure(429, "rate limited", reset_s=0.3))
    slept: list[float] = []

    async def fake_sleep(s: float) -> None:  # records the wait; no need to spend it
        slept.append(s)

    async def go() -> None:
        c = RenderClient(RenderSettings(api_url=backend.render_url, service_id=SERVICE_ID,
                                        api_key=API_KEY), sleep=fake_sleep)
        try:
            await c.restart()
        finally:
            await c.close()

    run(go())
    assert backend.restarts == 1
    assert len(slept) == 1 and 0.3 <= slept[0] <= 1.3


def test_429_past_the_retries_and_500_are_reported(backend: SimulatedBackend) -> None:
    backend.render.fail_next(*[Failure(429, reset_s=0) for _ in range(4)])

    async def go() -> None:
        c = client(backend, max_429_retries=3)
        try:
            with pytest.raises(RenderError, match=r"rate limit \(429\)"):
                await c.restart()
            backend.render.fail_next(Failure(500, "internal error"))
            with pytest.raises(RenderError, match=r"Render API error 500 on POST .*internal error"):
                await c.restart()
        finally:
            await c.close()

    run(go())
    assert backend.restarts == 0


def test_a_hanging_api_is_a_timeout_not_a_hang() -> None:
    with LoopbackServer({f"/v1/services/{SERVICE_ID}/restart": Answer(hang=True)}) as srv:
        async def go() -> None:
            c = RenderClient(RenderSettings(api_url=srv.url + "/v1", service_id=SERVICE_ID,
                                            api_key=API_KEY, timeout_s=0.5))
            try:
                await c.restart()
            finally:
                await c.close()

        with pytest.raises(RenderError, match=r"no complete answer within 0\.5 s"):
            run(go())


def test_the_api_key_never_shows_in_a_repr_or_an_error(backend: SimulatedBackend) -> None:
    c = client(backend, api_key="rnd_s3cret")
    assert "rnd_s3cret" not in repr(c)

    async def go() -> None:
        try:
            await c.restart()
        finally:
            await c.close()

    with pytest.raises(RenderError) as e:
        run(go())
    assert "rnd_s3cret" not in str(e.value)


# --- bounded in time and size (issue 14, items 5 and 6) -------------------------------------

def trickled(body: bytes, status: int = 200) -> Answer:
    """A valid answer sent a byte every 50 ms: each read is quick, the whole is not."""
    return Answer(status, body.ljust(100), "application/json", trickle_s=0.05)


def render_at(srv: LoopbackServer, **changes: Any) -> RenderClient:
    return RenderClient(RenderSettings(**{
        "api_url": srv.url + "/v1", "service_id": SERVICE_ID, "api_key": API_KEY,
        "timeout_s": 0.5, **changes}))


def test_a_trickling_answer_is_cut_off_at_the_deadline_and_a_write_may_have_been_done(
        ) -> None:
    with LoopbackServer({f"/v1/services/{SERVICE_ID}/restart": trickled(b"{}", 202)}) as srv:
        with pytest.raises(RenderTimeout) as e:
            run(render_at(srv).restart())  # 5 s of answer
        srv.assert_cut_off(0.5)
    assert str(e.value) == (f"Render API: no complete answer within 0.5 s (POST /services/"
                            f"{SERVICE_ID}/restart; Render may have carried it out)")
    assert e.value.unanswered


def test_each_poll_of_a_deploy_has_its_own_deadline() -> None:
    # The deploy's own timeout (60 s) is not what bounds a poll that never finishes.
    path = f"/v1/services/{SERVICE_ID}/deploys/dep-1"
    with LoopbackServer({path: trickled(b'{"id": "dep-1", "status": "live"}')}) as srv:
        c = render_at(srv, poll_every_s=0.05, deploy_timeout_s=60.0)
        with pytest.raises(RenderTimeout, match=r"no complete answer within 0\.5 s \(GET "):
            run(c.follow({"id": "dep-1", "status": "build_in_progress"}))
        srv.assert_cut_off(0.5)  # the one poll, 5 s of answer, left at its own deadline


def test_a_huge_answer_is_refused_unread_and_a_write_may_have_been_done() -> None:
    # One deploy whose commit message is 12 MB, gzip'd (12 KB on the wire): the cap counts
    # what it decodes to, before any JSON is parsed.
    huge = json.dumps([{"deploy": {"id": "dep-1", "status": "live",
                                   "commit": {"message": "x" * (12 * 1024 * 1024)}}}])
    big = Answer(200, huge.encode(), "application/json", gzip=True)
    with LoopbackServer({f"/v1/services/{SERVICE_ID}/deploys": big,
                         f"/v1/services/{SERVICE_ID}/restart": big}) as srv:
        c = render_at(srv, timeout_s=5.0)
        with pytest.raises(RenderError) as e:
            run(c.rollback_target())
        assert str(e.value) == ("Render API answer too large: over 4 MB (GET /services/"
                                f"{SERVICE_ID}/deploys)")
        assert not e.value.unanswered  # a GET changes nothing
        with pytest.raises(RenderTimeout, match=r"too large: over 4 MB .*may have carried it"):
            run(c.restart())
