"""StudyBuddy's own API on the simulated backend, enough for the post-deployment checklist:
log in, tasks, friends, messages, leaderboard, analytics. Every route but login and health
needs the session cookie that login sets. Tests break routes on purpose (`failing`: answer
500; `slow`: answer after a delay) to see `sbtop verify` name them.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

DEMO_EMAIL = "oncall@studybuddy.test"
DEMO_PASSWORD = "demo-password"  # the simulation's, not a secret
SESSION_COOKIE = "connect.sid"
DEMO_SESSION = "s%3Asbtop-demo-session"

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class StudyBuddyApi:
    failing: set[str] = field(default_factory=set)  # paths answering 500
    slow: dict[str, float] = field(default_factory=dict)  # path -> seconds before answering
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(101))

    def __post_init__(self) -> None:
        for title in ("Read chapter 4", "Flashcards: cell biology"):
            task_id = next(self._ids)
            self._tasks[task_id] = {"id": task_id, "title": title, "done": False}

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes
               ) -> Answer | None:
        """The answer for a StudyBuddy route, or None when the path is not one."""
        if not path.startswith("/api/") or path == "/api/health":
            return None
        delay = self.slow.get(path)
        if delay:
            time.sleep(delay)
        if path in self.failing:
            return _json(500, {"error": "Internal Server Error"})
        if (method, path) == ("POST", "/api/auth/login"):
            return self._login(body)
        if f"{SESSION_COOKIE}={DEMO_SESSION}" not in headers.get("cookie", ""):
            return _json(401, {"error": "Not authenticated"})
        return self._route(method, path, body)

    def _login(self, body: bytes) -> Answer:
        data = _object(body)
        if data.get("email") != DEMO_EMAIL or data.get("password") != DEMO_PASSWORD:
            return _json(401, {"error": "Invalid email or password"})
        status, headers, out = _json(200, {"user": {"id": 1, "email": DEMO_EMAIL}})
        headers["Set-Cookie"] = f"{SESSION_COOKIE}={DEMO_SESSION}; Path=/; HttpOnly"
        return status, headers, out

    def _route(self, method: str, path: str, body: bytes) -> Answer:
        parts = path.strip("/").split("/")[1:]  # after "api"
        with self._lock:
            if parts == ["auth", "me"] and method == "GET":
                return _json(200, {"user": {"id": 1, "email": DEMO_EMAIL}})
            if parts == ["tasks"] and method == "GET":
                return _json(200, {"tasks": list(self._tasks.values())})
            if parts == ["tasks"] and method == "POST":
                title = _object(body).get("title")
                if not isinstance(title, str) or not title:
                    return _json(400, {"error": "title is required"})
                task = {"id": next(self._ids), "title": title, "done": False}
                self._tasks[task["id"]] = task
                return _json(201, {"task": task})
            if len(parts) == 2 and parts[0] == "tasks" and method in ("PUT", "DELETE"):
                task_id = int(parts[1]) if parts[1].isdigit() else -1
                if task_id not in self._tasks:
                    return _json(404, {"error": "task not found"})
                if method == "DELETE":
                    del self._tasks[task_id]
                    return 204, {}, b""
                self._tasks[task_id].update({k: v for k, v in _object(body).items()
                                             if k in ("title", "done")})
                return _json(200, {"task": self._tasks[task_id]})
            if parts == ["friends", "list"] and method == "GET":
                return _json(200, {"friends": [{"id": 2, "name": "Ada"},
                                               {"id": 3, "name": "Linus"}]})
            if parts == ["friends", "request"] and method == "POST":
                return _json(201, {"request": {"id": 9, "status": "pending"}})
            if len(parts) == 2 and parts[0] == "messages" and method == "GET":
                return _json(200, {"messages": [{"id": 1, "text": "see you at 6?"}]})
            if parts == ["messages"] and method == "POST":
                return _json(201, {"message": {"id": 2, **_object(body)}})
            if parts == ["leaderboard"] and method == "GET":
                return _json(200, {"leaders": [{"name": "Ada", "points": 420}]})
            if parts == ["analytics", "dashboard"] and method == "GET":
                return _json(200, {"stats": {"tasksDone": 12, "studyMinutes": 340}})
        return _json(404, {"error": "not found"})


def _json(status: int, obj: Any) -> Answer:
    return status, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(obj).encode()


def _object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
