"""The three ways an action reaches production: Render's API, a command, a webhook.

Each provider says exactly what it will do before doing it (`plan`), so the person confirming
sees the API calls or the argv, and does it (`run`), raising ActionError with one line on any
failure. Secrets (API keys, webhook headers) come from the environment and are never in a plan,
a result or an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from sbtop import bounded, credentials, untrusted
from sbtop.actions.render import Progress, RenderClient, RenderError, RenderSettings
from sbtop.actions.requests import Action, Params

ACTIONS = tuple(Action)
OUTPUT_LIMIT = 64 * 1024  # of a command's output, the last part is kept
WEBHOOK_ANSWER_LIMIT = 64 * 1024  # of a webhook's answer, the start is read (200 are shown)


class ActionError(untrusted.Message):
    """An action that did not happen, or did not finish: one line for the person (quoting a
    command's output or a webhook's answer safely)."""


class Provider(Protocol):
    kind: str
    service: str
    # The deploy the last successful run made live, when the provider can tell (Render).
    last_deploy: str | None

    def plan(self, action: Action, params: Params) -> list[str]: ...
    # The params with what the plan must name looked up (the deploy a rollback goes back to).
    async def prepare(self, action: Action, params: Params) -> Params: ...
    async def read_percent(self, flag: str) -> int | None: ...
    async def run(self, action: Action, params: Params,
                  progress: Progress | None = None) -> str: ...
    async def close(self) -> None: ...


class RenderProvider:
    kind = "render"

    def __init__(self, settings: RenderSettings) -> None:
        self.client = RenderClient(settings)
        self.service = settings.service_id
        self.last_deploy: str | None = None

    def plan(self, action: Action, params: Params) -> list[str]:
        if action == Action.CANARY:
            return self.client.plan_set_flag(str(params.flag), str(params.percent))
        if action == Action.RESTART:
            return self.client.plan_restart()
        return self.client.plan_rollback(params.target)

    async def prepare(self, action: Action, params: Params) -> Params:
        """Look up what the plan must name: the deploy a rollback goes back to."""
        if action != Action.ROLLBACK:
            return params
        try:
            target = await self.client.rollback_target(frozenset(params.skip or ()))
        except RenderError as e:
            raise ActionError(str(e)) from None
        return replace(params, target=target)

    async def read_percent(self, flag: str) -> int | None:
        try:
            value = await self.client.read_flag(flag)
        except RenderError as e:
            raise ActionError(str(e)) from None
        return _percent(value)

    async def run(self, action: Action, params: Params,
                  progress: Progress | None = None) -> str:
        try:
            if action == Action.CANARY:
                previous = params.from_percent
                deploy = await self.client.set_flag(
                    str(params.flag), str(params.percent), progress,
                    previous=None if previous is None else str(previous))
                self.last_deploy = str(deploy.get("id") or "") or None
                return f"{params.flag}={params.percent}: deploy {deploy.get('id')} live"
            if action == Action.RESTART:
                await self.client.restart()
                return f"restart of {self.service} requested"
            target_id = params.target.id if params.target is not None else None
            deploy = await self.client.rollback(progress, target_id,
                                                frozenset(params.skip or ()))
            return (f"rolled back: deploy {deploy.get('id')} live. Auto-deploy is still on: a "
                    "push to the branch will deploy again (turn it off in the dashboard)")
        except RenderError as e:
            raise ActionError(str(e)) from None

    async def close(self) -> None:
        await self.client.close()


@dataclass
class CommandProvider:
    """argv lists with {percent}, {service} and {flag}; run without a shell."""

    commands: Mapping[str, Sequence[str]]
    service: str = ""
    flag: str = ""
    timeout_s: float = 300.0
    read_flag: Sequence[str] = ()
    kind: str = "command"
    last_deploy: str | None = None  # it says nothing sbtop can rely on

    def argv(self, action: Action, params: Params) -> list[str]:
        template = self.commands.get(action)
        if not template:
            raise ActionError(f"no command configured for {action}")
        values = {"percent": _text(params.percent), "service": self.service,
                  "flag": self.flag}
        try:
            return [part.format(**values) for part in template]
        except (KeyError, IndexError, ValueError) as e:
            raise ActionError(f"bad placeholder in the {action} command: {e}") from None

    def plan(self, action: Action, params: Params) -> list[str]:
        return [f"run: {shlex.join(self.argv(action, params))}  (no shell, timeout "
                f"{self.timeout_s:g} s)"]

    async def read_percent(self, flag: str) -> int | None:
        if not self.read_flag:
            return None
        out = await self._exec(list(self.read_flag), "read flag")
        return _percent(out.strip().splitlines()[-1] if out.strip() else None)

    async def run(self, action: Action, params: Params,
                  progress: Progress | None = None) -> str:
        argv = self.argv(action, params)
        out = await self._exec(argv, action)
        last = out.strip().splitlines()[-1] if out.strip() else "no output"
        return f"{shlex.join(argv[:1])} succeeded: {untrusted.line(last, 200)}"

    async def _exec(self, argv: list[str], what: str) -> str:
        # Shielded: cancelled while its pipes are still being connected, asyncio would kill
        # the command alone and leave whatever it had started running; this way the whole
        # group is stopped, as after any other cancel.
        spawn = asyncio.ensure_future(asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True))
        try:
            proc = await asyncio.shield(spawn)
        except OSError as e:
            raise ActionError(f"cannot run {argv[0]}: {e.strerror}") from None
        except ValueError as e:  # a word with a NUL byte: no program can be handed it
            raise ActionError(f"cannot run {argv[0]}: {e}") from None
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await _stop_group(await spawn)
            raise
        assert proc.stdout is not None
        chunks: list[bytes] = []
        size = 0

        async def drain() -> None:
            nonlocal size
            assert proc.stdout is not None
            while block := await proc.stdout.read(65536):
                chunks.append(block)
                size += len(block)
                while size > OUTPUT_LIMIT and len(chunks) > 1:  # keep the end: errors are there
                    size -= len(chunks.pop(0))

        both = asyncio.gather(drain(), proc.wait())
        # Cancelled with the action, it ends holding a CancelledError no one else reads:
        # read here, so asyncio does not print it over the screen as a traceback.
        both.add_done_callback(lambda f: f.cancelled() or f.exception())
        try:
            await asyncio.wait_for(both, self.timeout_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the whole group: no orphan keeps going
            await proc.wait()
            raise ActionError(f"{what}: {argv[0]} timed out after {self.timeout_s:g} s and was "
                              "killed") from None
        except asyncio.CancelledError:
            # sbtop is quitting or was hung up on mid-action: the command must not outlive it.
            # SIGTERM lets it clean up; what is still there after a second is killed.
            await _stop_group(proc)
            raise
        # What the command was handed (the environment's keys, a DSN) never shown or kept.
        output = credentials.scrubbed(b"".join(chunks).decode(errors="replace"))
        if proc.returncode != 0:
            tail = " | ".join(output.strip().splitlines()[-3:])[:300]
            raise ActionError(f"{what}: {argv[0]} exited {proc.returncode}: {tail or 'no output'}")
        return output

    async def prepare(self, action: Action, params: Params) -> Params:
        return params

    async def close(self) -> None:
        return None


STOP_GRACE_S = 1.0


async def _stop_group(proc: asyncio.subprocess.Process) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE_S)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # children it left in its group
            return
        except TimeoutError:
            continue


@dataclass
class HttpProvider:
    """A webhook: one request per action, the body a JSON template with placeholders."""

    url: str = field(repr=False)  # may hold a key (?key=...): shown masked, never in a repr
    method: str = "POST"
    body: str = '{"action": "{action}", "percent": "{percent}", "service": "{service}"}'
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    service: str = ""
    timeout_s: float = 30.0
    kind: str = "http"
    last_deploy: str | None = None  # it says nothing sbtop can rely on

    def render_body(self, action: Action, params: Params) -> str:
        values = {"action": str(action), "percent": _text(params.percent),
                  "service": self.service, "flag": _text(params.flag)}
        text = self.body
        for key, value in values.items():
            text = text.replace("{" + key + "}", json.dumps(value)[1:-1])
        try:
            json.loads(text)
        except ValueError as e:
            raise ActionError(f"the webhook body is not JSON once filled in: {e}") from None
        return text

    def plan(self, action: Action, params: Params) -> list[str]:
        shown = ", ".join(f"{k}: (from the environment)" for k in self.headers)
        return [f"{self.method} {credentials.endpoint(self.url)}  body "
                f"{self.render_body(action, params)}"
                + (f"  headers {shown}" if shown else "")]

    async def read_percent(self, flag: str) -> int | None:
        return None  # a webhook cannot be asked: the state file's last value is shown

    async def prepare(self, action: Action, params: Params) -> Params:
        return params

    async def run(self, action: Action, params: Params,
                  progress: Progress | None = None) -> str:
        import httpx

        body = self.render_body(action, params)
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s, trust_env=False,
                                         follow_redirects=False) as client:
                r = await bounded.request(client, self.method, self.url, content=body,
                                          headers={"Content-Type": "application/json",
                                                   **self.headers},
                                          deadline_s=self.timeout_s,
                                          max_bytes=WEBHOOK_ANSWER_LIMIT, cut=True)
        except bounded.Unanswered as e:
            return _unfinished(e)
        except httpx.HTTPError as e:
            raise ActionError(f"webhook unreachable: {type(e).__name__}") from None
        # Only the status is the verdict; the body is shown when it is an error.
        cut = f" (its answer is over {WEBHOOK_ANSWER_LIMIT // 1024} KB: cut there)" if r.cut else ""
        if r.status >= 300:
            text = r.body.decode(errors="replace")
            raise ActionError(f"webhook answered HTTP {r.status}: {text[:200]}{cut}")
        return f"webhook answered HTTP {r.status}{cut}"

    async def close(self) -> None:
        return None


def _unfinished(e: bounded.Unanswered) -> str:
    """A webhook cut off at its deadline: the request may have been carried out, unless an
    error status came first. A success status that came first is the verdict (the body only
    explains an error)."""
    if e.status is None:
        raise ActionError(f"webhook: {e}: it may still have been carried out; look before "
                          "trying again")
    if e.status >= 300:
        raise ActionError(f"webhook answered HTTP {e.status}, then {e}")
    return f"webhook answered HTTP {e.status} (then {e}: the rest not read)"


def _text(value: object) -> str:
    """A parameter for a placeholder: empty when the action has none."""
    return "" if value is None else str(value)


def _percent(value: str | None) -> int | None:
    """The flag as the app reads it (parseInt): a number, or 0 when unset or not a number."""
    if value is None or not value.strip():
        return 0
    digits = ""
    for ch in value.strip():
        if ch.isdigit() or (ch == "-" and not digits):
            digits += ch
        else:
            break
    try:
        return max(0, min(100, int(digits)))
    except ValueError:
        return 0
