"""StudyBuddy's post-deployment checklist (the runbook's section 8) as `[[verify]]` items: one
place, written by `sbtop init`, run by `sbtop verify --demo`, and copied into
config.example.toml (a test keeps the copy equal).

Credentials come from the environment: the login probe's body names $STUDYBUDDY_VERIFY_EMAIL and
$STUDYBUDDY_VERIFY_PASSWORD (a test account), the others send the session cookie in
$STUDYBUDDY_SESSION_COOKIE. sbtop does not chain requests, so "task CRUD" is list and create
(update and delete need the id of a task the probe made); the create probe leaves a task titled
"sbtop verify" on the test account each run.
"""

from __future__ import annotations

from typing import Any

COOKIE = {"cookie": "connect.sid", "cookie_env": "STUDYBUDDY_SESSION_COOKIE"}

STUDYBUDDY: list[dict[str, Any]] = [
    {"name": "health", "method": "GET", "path": "/api/health", "expect_status": 200,
     "expect_json": {"status": "ok"}},
    {"name": "login", "method": "POST", "path": "/api/auth/login",
     "body": '{"email": "${STUDYBUDDY_VERIFY_EMAIL}", '
             '"password": "${STUDYBUDDY_VERIFY_PASSWORD}"}',
     "expect_status": 200, "expect_json": {"user.id": "*"}},
    {"name": "tasks: list", "method": "GET", "path": "/api/tasks", **COOKIE,
     "expect_status": 200, "expect_json": {"tasks": "*"}},
    {"name": "tasks: create", "method": "POST", "path": "/api/tasks", **COOKIE,
     "body": '{"title": "sbtop verify"}', "expect_status": 201,
     "expect_json": {"task.id": "*"}},
    {"name": "chat: read", "method": "GET", "path": "/api/messages/general", **COOKIE,
     "expect_status": 200, "expect_json": {"messages": "*"}},
    {"name": "chat: send", "method": "POST", "path": "/api/messages", **COOKIE,
     "body": '{"conversationId": "general", "text": "sbtop verify"}', "expect_status": 201},
    {"name": "friends", "method": "GET", "path": "/api/friends/list", **COOKIE,
     "expect_status": 200, "expect_json": {"friends": "*"}},
    {"name": "leaderboard", "method": "GET", "path": "/api/leaderboard", **COOKIE,
     "expect_status": 200},
    {"name": "analytics", "method": "GET", "path": "/api/analytics/dashboard", **COOKIE,
     "expect_status": 200},
]
