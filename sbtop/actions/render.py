"""Render's REST API, as far as the deploy actions need it (see REFERENCE.md).

A canary step is: set the flag (PUT env-var), trigger a deploy (the running service only sees
the new value after one), follow the deploy until it is live or failed. A restart is one POST.
A rollback goes to the most recent deploy that was live before the current one (failed builds
are not candidates); through the API, auto-deploy stays on, and the user is told so.

Errors come back as one line a person can act on (401, 404, 409, 429 with its reset, 5xx);
429 is retried after `Ratelimit-Reset` seconds plus jitter, a bounded number of times.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sbtop import bounded, untrusted
from sbtop.actions.requests import RollbackTarget

# Re-exported: the settings live apart so the config can build them without loading httpx.
from sbtop.actions.settings import RenderSettings as RenderSettings  # noqa: PLC0414

LIVE = "live"
FAILED = {"build_failed", "update_failed", "pre_deploy_failed", "canceled"}
# A deploy that went live and was replaced later: a rollback candidate.
WAS_LIVE = {"deactivated"}

Progress = Callable[[str], Awaitable[None] | None]


class RenderError(untrusted.Message):
    """An API call that failed, phrased for the person at the keyboard (quoting Render's
    message safely)."""

    # True when no usable answer came (none within the deadline, or one too large to read):
    # the call may still have been carried out.
    unanswered = False


class RenderTimeout(RenderError):
    unanswered = True


class RenderClient:
    def __init__(self, settings: RenderSettings,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.s = settings
        self._sleep = sleep

    def __repr__(self) -> str:  # never the key
        return f"RenderClient(service={self.s.service_id!r})"

    async def close(self) -> None:
        """Nothing to release: each call opens its own connection (actions are rare, and a
        client kept across calls would be tied to one event loop)."""

    # --- the calls, each one line in the plan shown before acting ----------------------------

    def plan_set_flag(self, flag: str, value: str) -> list[str]:
        svc = self.s.service_id
        return [f"PUT {self.s.api_url}/services/{svc}/env-vars/{flag}  {{\"value\": \"{value}\"}}",
                f"POST {self.s.api_url}/services/{svc}/deploys  (the new value reaches the "
                "service only with a deploy)",
                f"GET {self.s.api_url}/services/{svc}/deploys/<id>  until live or failed"]

    def plan_restart(self) -> list[str]:
        return [f"POST {self.s.api_url}/services/{self.s.service_id}/restart"]

    def plan_rollback(self, target: RollbackTarget | None = None) -> list[str]:
        svc = self.s.service_id
        if target is None:
            what = "<the last deploy that was live before the current one>"
        else:
            commit = (target.deploy.get("commit") or {}).get("id") or "?"
            what = f"{target.id} (commit {commit}, from {target.deploy.get('createdAt')})"
        return [f"POST {self.s.api_url}/services/{svc}/rollback  deployId {what}",
                f"GET {self.s.api_url}/services/{svc}/deploys/<id>  until live or failed",
                "note: a rollback through the API leaves auto-deploy on (the dashboard's turns "
                "it off)"]

    async def read_flag(self, flag: str) -> str | None:
        """The flag's value on the service, or None when it is not set."""
        r = await self._call("GET", f"/services/{self.s.service_id}/env-vars/{flag}",
                             missing_ok=True)
        if r is None:
            return None
        value = _object(r).get("value") if r.body else None
        return None if value is None else str(value)

    async def set_flag(self, flag: str, value: str, progress: Progress | None = None,
                       previous: str | None = None) -> dict[str, Any]:
        await self._call("PUT", f"/services/{self.s.service_id}/env-vars/{flag}",
                         json={"value": value})
        await _say(progress, f"{flag} = {value} set; deploying")
        try:
            deploy = await self._trigger_deploy()
            return await self.follow(deploy, progress)
        except RenderError as e:
            # The value is set but not running: put the old one back, so what the flag reads
            # is what the service runs.
            if previous is None:
                raise
            try:
                await self._call("PUT", f"/services/{self.s.service_id}/env-vars/{flag}",
                                 json={"value": previous})
            except RenderError as again:
                raise RenderError(f"{e}; and the flag could not be put back to {previous} "
                                  f"({again}): it reads {value}, but {previous} runs") from None
            maybe = (f" (the deploy request went unanswered: Render may have started a deploy "
                     f"with {value} anyway; look at the service's deploys)"
                     if e.unanswered else "")
            raise RenderError(f"{e}; the flag was put back to {previous}{maybe}") from None

    async def restart(self) -> None:
        await self._call("POST", f"/services/{self.s.service_id}/restart")

    async def rollback(self, progress: Progress | None = None, target_id: str | None = None,
                       skip: frozenset[str] = frozenset()) -> dict[str, Any]:
        target = await self.rollback_target(skip)
        if target_id is not None and target.id != target_id:
            raise RenderError(f"the rollback target changed since it was shown ({target_id} "
                              f"-> {target.id}): plan again")
        await _say(progress, f"rolling back to {target.id}")
        r = await self._call("POST", f"/services/{self.s.service_id}/rollback",
                             json={"deployId": target.id})
        deploy = _deploy_of(_object(r) if r is not None and r.body else {})
        return await self.follow(deploy, progress)

    async def rollback_target(self, skip: frozenset[str] = frozenset()) -> RollbackTarget:
        """The most recent deploy that was live before the current one. `skip` names deploys
        an earlier rollback left or went back to, so a second rollback goes further back
        instead of forward again to the deploy the first one escaped."""
        r = await self._call("GET", f"/services/{self.s.service_id}/deploys",
                             params={"limit": 50})
        deploys = [_deploy_of(item) for item in (_list(r) if r is not None else [])]
        current = next((i for i, d in enumerate(deploys) if d.get("status") == LIVE), None)
        if current is None:
            raise RenderError("no live deploy found: nothing to roll back from")
        for d in deploys[current + 1:]:
            if d.get("status") in WAS_LIVE and d.get("id") not in skip:
                left = deploys[current].get("id")
                return RollbackTarget(d, None if left is None else str(left))
        raise RenderError("no earlier deploy that was live: nothing to roll back to")

    async def follow(self, deploy: dict[str, Any], progress: Progress | None = None
                     ) -> dict[str, Any]:
        """Poll a deploy until it is live or has failed."""
        deploy_id = deploy.get("id")
        if not deploy_id:
            raise RenderError("Render did not say which deploy started")
        deadline = time.monotonic() + self.s.deploy_timeout_s
        status = deploy.get("status")
        # Ask soon, then less often: a quick deploy is seen quickly, a slow one is not polled
        # more than once per poll_every_s.
        wait = min(1.0, self.s.poll_every_s)
        while status != LIVE:
            if status in FAILED:
                raise RenderError(f"deploy {deploy_id} ended {status}")
            if time.monotonic() > deadline:
                raise RenderError(f"deploy {deploy_id} still {status} after "
                                  f"{self.s.deploy_timeout_s:.0f} s; follow it on Render")
            await self._sleep(wait)
            wait = min(self.s.poll_every_s, wait * 2)
            r = await self._call("GET", f"/services/{self.s.service_id}/deploys/{deploy_id}")
            deploy = _object(r) if r is not None else {}
            new_status = deploy.get("status")
            if new_status != status:
                await _say(progress, f"deploy {deploy_id}: {new_status}")
            status = new_status
        return deploy

    async def _trigger_deploy(self) -> dict[str, Any]:
        r = await self._call("POST", f"/services/{self.s.service_id}/deploys", json={})
        if r is not None and r.status == 201 and r.body:
            return _deploy_of(_object(r))
        # 202 without a body: the deploy is queued; the newest in the list is it.
        listing = await self._call("GET", f"/services/{self.s.service_id}/deploys",
                                   params={"limit": 1})
        items = _list(listing) if listing is not None else []
        if not items:
            raise RenderError("Render accepted the deploy but lists none")
        return _deploy_of(items[0])

    async def _call(self, method: str, path: str, *, missing_ok: bool = False,
                    **kwargs: Any) -> bounded.Answer | None:
        import httpx

        for attempt in range(self.s.max_429_retries + 1):
            try:
                async with httpx.AsyncClient(
                        base_url=self.s.api_url.rstrip("/"),
                        headers={"Authorization": f"Bearer {self.s.api_key}",
                                 "Accept": "application/json", "User-Agent": "sbtop"},
                        timeout=httpx.Timeout(self.s.timeout_s), follow_redirects=False,
                        trust_env=False) as client:
                    r = await bounded.request(client, method, path,
                                              deadline_s=self.s.timeout_s,
                                              max_bytes=self.s.max_answer_bytes, **kwargs)
            except bounded.Unanswered as e:
                raise RenderTimeout(f"Render API: {e} ({method} {path}{_maybe(method)})"
                                    ) from None
            except bounded.TooLarge as e:
                what = f"Render API answer too large: {e} ({method} {path}"
                if method == "GET":
                    raise RenderError(what + ")") from None
                raise RenderTimeout(what + _maybe(method) + ")") from None
            except httpx.HTTPError as e:
                raise RenderError(f"Render API unreachable: {type(e).__name__}") from None
            if r.status == 429 and attempt < self.s.max_429_retries:
                reset = _reset_seconds(r)
                await self._sleep(reset + random.uniform(0.0, 1.0))
                continue
            if r.status == 404 and missing_ok:
                return None
            if r.status >= 400:
                raise RenderError(_error(r, method, path, self.s.service_id))
            return r
        raise AssertionError("unreachable")


def _maybe(method: str) -> str:
    """A write cut off before its answer was read may still have been carried out."""
    return "" if method == "GET" else "; Render may have carried it out"


def _reset_seconds(r: bounded.Answer) -> float:
    try:
        return max(0.0, min(120.0, float(r.headers.get("Ratelimit-Reset", "5"))))
    except ValueError:
        return 5.0


def _error(r: bounded.Answer, method: str, path: str, service: str) -> str:
    try:
        message = str(_object(r).get("message") or "")
    except RenderError:
        message = ""
    detail = f": {message}" if message else ""
    code = r.status
    if code == 401:
        return "Render refused the API key (401): check the variable api_key_env names"
    if code == 403:
        return f"the API key may not act on {service} (403){detail}"
    if code == 404:
        return f"Render knows no {path} (404): check service_id {service}{detail}"
    if code == 409:
        return f"Render refused: a deploy is already in progress (409){detail}"
    if code == 429:
        return (f"Render's rate limit (429), still after retries; try again in "
                f"{_reset_seconds(r):.0f} s")
    return f"Render API error {code} on {method} {path}{detail}"


def _deploy_of(item: Any) -> dict[str, Any]:
    """List items are {"cursor", "deploy"}; single answers are the deploy itself; anything
    else is no deploy."""
    if not isinstance(item, dict):
        return {}
    inner = item.get("deploy")
    return inner if isinstance(inner, dict) else item


def _json(r: bounded.Answer) -> Any:
    """An answer's JSON with every string made safe to show: deploy ids, commit messages and
    error texts reach plans and results."""
    try:
        return untrusted.json_value(r.json())
    except (ValueError, RecursionError):
        raise RenderError(f"Render answered HTTP {r.status} with something that is not "
                          "JSON (is api_url Render's API?)") from None


def _object(r: bounded.Answer) -> dict[str, Any]:
    got = _json(r)
    return got if isinstance(got, dict) else {}


def _list(r: bounded.Answer) -> list[Any]:
    got = _json(r)
    return got if isinstance(got, list) else []


async def _say(progress: Progress | None, text: str) -> None:
    if progress is None:
        return
    result = progress(text)
    if result is not None:
        await result
