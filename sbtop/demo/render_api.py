"""A Render-shaped control plane for the simulated backend: the documented endpoints and their
answers, served under /v1 on the backend's own port, acting on the simulation.

Setting the flag and deploying changes the traffic mix once the deploy is live; a restart
resets the counters; a rollback brings back an earlier deploy's environment. Deploys move
through build_in_progress and update_in_progress to live on a clock (seconds, configurable).
Tests can make the next calls fail with any status (401, 404, 409, 429 with a reset, 500) or
make deploys answer 202 without a body, as the real API sometimes does.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SERVICE_ID = "srv-sbtopdemo"
API_KEY = "rnd_sbtop_demo_key"


@dataclass
class _Deploy:
    id: str
    created: float
    env: dict[str, str]
    trigger: str
    commit: str
    status_override: str | None = None  # a finished state: deactivated, failed, canceled

    def status(self, now: float, build_s: float, update_s: float) -> str:
        if self.status_override:
            return self.status_override
        age = now - self.created
        if age < build_s:
            return "build_in_progress"
        if age < build_s + update_s:
            return "update_in_progress"
        return "live"


@dataclass
class Failure:
    status: int
    message: str = "injected failure"
    reset_s: float | None = None  # Ratelimit-Reset, for 429
    only: str = ""  # fail only a request whose path contains this (e.g. "/restart")
    hang_s: float = 0.0  # hold the answer this long first (a hanging API)
    method: str = ""  # fail only this method (e.g. "GET": reads fail, writes go through)


@dataclass
class RenderControlPlane:
    apply_env: Callable[[dict[str, str]], None]
    restart_service: Callable[[], None]
    build_s: float = 2.0
    update_s: float = 1.0
    api_key: str = API_KEY
    service_id: str = SERVICE_ID
    deploys_answer_202: bool = False
    calls: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _env: dict[str, str] = field(default_factory=lambda: {"PERF_OPTIMIZATIONS_ENABLED": "0"})
    _deploys: list[_Deploy] = field(default_factory=list)  # newest first
    _failures: list[Failure] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(2))
    _applied: str | None = None

    def __post_init__(self) -> None:
        first = _Deploy("dep-0001", time.time() - 3600, dict(self._env), "new_commit", "a1b2c3d")
        self._deploys.append(first)
        self._applied = first.id

    def fail_next(self, *failures: Failure) -> None:
        with self._lock:
            self._failures.extend(failures)

    @property
    def env(self) -> dict[str, str]:
        return dict(self._env)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes
               ) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) for a request under /v1."""
        answer, hang_s = self._handle(method, path, headers, body)
        if hang_s:
            time.sleep(hang_s)  # outside the lock: other requests are still answered
        return answer

    def _handle(self, method: str, path: str, headers: dict[str, str], body: bytes
                ) -> tuple[tuple[int, dict[str, str], bytes], float]:
        with self._lock:
            self.calls.append((method, path))
            self._settle()
            if headers.get("authorization") != f"Bearer {self.api_key}":
                return _json(401, {"id": "unauthorized", "message": "Unauthorized"}), 0.0
            due = next((f for f in self._failures
                        if f.only in path and f.method in ("", method)), None)
            if due is not None:
                f = due
                self._failures.remove(f)
                extra = {}
                if f.reset_s is not None:
                    extra = {"Ratelimit-Limit": "10", "Ratelimit-Remaining": "0",
                             "Ratelimit-Reset": f"{f.reset_s:g}"}
                status, h, b = _json(f.status, {"id": "error", "message": f.message})
                return (status, {**h, **extra}, b), f.hang_s
            return self._route(method, path.split("?", 1)[0], path, body), 0.0

    # --- the endpoints ------------------------------------------------------------------------

    def _route(self, method: str, path: str, full: str, body: bytes
               ) -> tuple[int, dict[str, str], bytes]:
        parts = path.strip("/").split("/")  # v1 services <id> ...
        if len(parts) < 4 or parts[:2] != ["v1", "services"]:
            return _json(404, {"id": "not_found", "message": "not found"})
        if parts[2] != self.service_id:
            return _json(404, {"id": "not_found", "message": f"service {parts[2]} not found"})
        rest = parts[3:]
        if rest[0] == "env-vars" and len(rest) == 2:
            key = rest[1]
            if method == "GET":
                if key not in self._env:
                    return _json(404, {"id": "not_found", "message": f"no env var {key}"})
                return _json(200, {"key": key, "value": self._env[key]})
            if method == "PUT":
                value = _body(body).get("value")
                if not isinstance(value, str):
                    return _json(400, {"id": "bad_request", "message": "value must be a string"})
                self._env[key] = value
                return _json(200, {"key": key, "value": value})
        if rest == ["restart"] and method == "POST":
            self.restart_service()
            return 200, {}, b""
        if rest == ["deploys"] and method == "POST":
            return self._new_deploy(dict(self._env), "api")
        if rest == ["deploys"] and method == "GET":
            limit = _limit(full)
            now = time.time()
            items = [{"cursor": d.id, "deploy": self._deploy_json(d, now)}
                     for d in self._deploys[:limit]]
            return _json(200, items)
        if len(rest) == 2 and rest[0] == "deploys" and method == "GET":
            d = next((d for d in self._deploys if d.id == rest[1]), None)
            if d is None:
                return _json(404, {"id": "not_found", "message": f"no deploy {rest[1]}"})
            return _json(200, self._deploy_json(d, time.time()))
        if rest == ["rollback"] and method == "POST":
            wanted = _body(body).get("deployId")
            d = next((d for d in self._deploys if d.id == wanted), None)
            if d is None:
                return _json(404, {"id": "not_found", "message": f"no deploy {wanted}"})
            self._env = dict(d.env)
            status, headers, out = self._new_deploy(dict(d.env), "rollback", force_body=True)
            return (201 if status in (201, 202) else status), headers, out
        return _json(404, {"id": "not_found", "message": "not found"})

    def _new_deploy(self, env: dict[str, str], trigger: str, force_body: bool = False
                    ) -> tuple[int, dict[str, str], bytes]:
        now = time.time()
        if any(d.status(now, self.build_s, self.update_s) in ("build_in_progress",
                                                              "update_in_progress")
               for d in self._deploys):
            return _json(409, {"id": "conflict", "message": "a deploy is already in progress"})
        d = _Deploy(f"dep-{next(self._ids):04d}", now, env, trigger, "a1b2c3d")
        self._deploys.insert(0, d)
        self._settle()
        if self.deploys_answer_202 and not force_body:
            return 202, {}, b""
        return _json(201, self._deploy_json(d, now))

    def _settle(self) -> None:
        """Deploys that went live replace the live one, whose environment then runs."""
        now = time.time()
        live = [d for d in self._deploys
                if d.status(now, self.build_s, self.update_s) == "live"]
        if not live:
            return
        newest = live[0]
        for d in live[1:]:
            d.status_override = "deactivated"
        if newest.id != self._applied:
            self._applied = newest.id
            self.apply_env(dict(newest.env))

    def _deploy_json(self, d: _Deploy, now: float) -> dict[str, Any]:
        status = d.status(now, self.build_s, self.update_s)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(d.created))
        finished = stamp if status in ("live", "deactivated") else None
        return {"id": d.id, "status": status, "trigger": d.trigger, "createdAt": stamp,
                "updatedAt": stamp, "finishedAt": finished,
                "commit": {"id": d.commit, "message": "StudyBuddy performance fixes"}}


def _json(status: int, obj: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(obj).encode()


def _body(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _limit(full: str) -> int:
    if "limit=" not in full:
        return 20
    try:
        return max(1, min(100, int(full.split("limit=", 1)[1].split("&", 1)[0])))
    except ValueError:
        return 20
