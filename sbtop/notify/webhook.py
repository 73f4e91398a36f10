"""A Slack incoming webhook (`{"text": ...}` POSTed): a message per event, rate-limited, sent in
the background. Nothing waits on it: a slow or failing webhook never delays a tick, a key or
the terminal's own notification. A failure is said once (until a message gets through again),
naming the webhook by its host only: its URL is the credential."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from sbtop import bounded, credentials
from sbtop.engine.transitions import Event
from sbtop.notify.limiter import Limiter
from sbtop.tasks import cancel_and_wait

ANSWER_LIMIT = 16 * 1024  # Slack answers "ok" or a short error
IN_FLIGHT_MAX = 4  # past this many unanswered posts, new messages are dropped (and said)


class Webhook:
    def __init__(self, url: str, *, timeout_s: float, every_s: float, env: str,
                 now: Callable[[], float], say: Callable[[str], None],
                 meanwhile: str = "notifications go on in the terminal (said once until it "
                                  "works again)") -> None:
        self._url = url
        self._timeout_s = timeout_s
        self._now = now
        self._say = say
        self._meanwhile = meanwhile  # what a failure leaves the reader, after its reason
        self._limiter = Limiter(every_s)
        self._tasks: set[asyncio.Task[None]] = set()
        self._failing = False
        self.sent = 0
        self.failed = 0
        self.name = f"Slack webhook (${env}, {credentials.endpoint(url)})" if env else (
            f"Slack webhook ({credentials.endpoint(url)})")

    def offer(self, event: Event) -> None:
        for text in self._limiter.offer(event, self._now()):
            self._send(text)

    def flush_due(self) -> None:
        """Send the summaries whose minute is up (called on every tick)."""
        for text in self._limiter.due(self._now()):
            self._send(text)

    def _send(self, text: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop to send on (a headless face closing): the terminal has told
        if len(self._tasks) >= IN_FLIGHT_MAX:
            self._failed("it is not answering; messages are being dropped")
            return
        task = loop.create_task(self._post(text))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, text: str) -> None:
        import httpx

        body = json.dumps({"text": text})
        try:
            async with httpx.AsyncClient(timeout=self._timeout_s, trust_env=False,
                                         follow_redirects=False) as client:
                r = await bounded.request(client, "POST", self._url, content=body,
                                          headers={"Content-Type": "application/json"},
                                          deadline_s=self._timeout_s,
                                          max_bytes=ANSWER_LIMIT, cut=True)
        except bounded.Unanswered as e:
            self._failed(f"no answer within {e.deadline_s:g} s")
            return
        except httpx.HTTPError as e:
            # The exception's text can hold the URL: only its kind is said.
            self._failed(f"unreachable ({type(e).__name__})")
            return
        except Exception as e:  # never let a notification take the console down
            self._failed(f"{type(e).__name__}")
            return
        if r.status >= 300:
            self._failed(f"answered HTTP {r.status}")
            return
        self.sent += 1
        if self._failing:
            self._failing = False
            self._say(f"{self.name}: delivering again")

    def _failed(self, reason: str) -> None:
        self.failed += 1
        if not self._failing:
            self._failing = True
            self._say(f"{self.name}: {reason}; {self._meanwhile}")

    def flush_all(self) -> None:
        """Send every summary still held, its minute up or not (sbtop is closing)."""
        for text in self._limiter.rest():
            self._send(text)

    async def close(self, grace_s: float = 1.0) -> None:
        """A moment for messages in flight (the last alert before quitting), then cancelled."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace_s)
        await cancel_and_wait(self._tasks)
