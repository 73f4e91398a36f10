"""What to do now and who knows: the advice per breach, the transitions worth telling (pure),
the terminal's escape sequences, the webhook's rate limit and the config that switches them;
the webhook itself against loopback servers (success, 500, slow, refused, held)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import pytest

from sbtop import check, config, record
from sbtop.commands.targets import demo_target
from sbtop.config.errors import ConfigError
from sbtop.config.schema import ContactsConfig, NotifyConfig
from sbtop.demo.backend import running
from sbtop.engine.advice import RUNBOOK_ADVICE, Advice, Offer, advice_for, standing
from sbtop.engine.alerts import Alert, AlertState
from sbtop.engine.assessment import Assessment
from sbtop.engine.figures import Figure, judge
from sbtop.engine.gate import Criterion, Gate
from sbtop.engine.keys import Fig
from sbtop.engine.levels import Level
from sbtop.engine.observations import ExternalAlert
from sbtop.engine.routes import Routes
from sbtop.engine.settings import RUNBOOK_ALERTS, AlertRule, EngineSettings
from sbtop.engine.transitions import (
    Event,
    EventKind,
    action_finished,
    seen,
    transitions,
    watch_ended,
)
from sbtop.notify import terminal
from sbtop.notify.limiter import Limiter, slack_escape
from sbtop.notify.notifier import Notifier
from sbtop.notify.settings import Contacts, NotifySettings
from sbtop.notify.webhook import Webhook
from tests.servers import Answer, LoopbackServer, closed_port
from tests.waiting import wait_for

SETTINGS = EngineSettings()
HIGH_ERRORS = next(r for r in RUNBOOK_ALERTS if r.name == "HighErrorRate")


def figures(**values: float) -> dict[str, Figure]:
    return {k: judge(k, v, SETTINGS) for k, v in values.items()}


def assessment(*, alerts: tuple[Alert, ...] = (), external: tuple[ExternalAlert, ...] = (),
               **values: float) -> Assessment:
    return Assessment("production", 1, 0.0, 0.0, Level.OK, figures(**values), Routes(),
                      alerts, {}, external_alerts=external)


def firing(rule: Any = HIGH_ERRORS, state: AlertState = AlertState.FIRING) -> Alert:
    return Alert(rule, state, 0.0, 0.0, 7.0)


def gate(*failing: str, percent: int = 5) -> Gate:
    crit = tuple(Criterion(n, False, f"{n} bad") for n in failing) or (
        Criterion("5xx", True, "5xx 0.1%"),)
    return Gate(percent, 25, 1800.0, 10.0, crit)


# --- what to do now ------------------------------------------------------------------------

def test_the_runbooks_action_stands_beside_a_critical_error_rate_but_not_a_warning() -> None:
    assert advice_for(figures(error_rate_5xx_pct=7.0)[Fig.ERROR_RATE_5XX_PCT],
                      RUNBOOK_ADVICE) == Advice("rollback immediately", Offer.ROLLBACK)
    assert advice_for(figures(error_rate_5xx_pct=2.0)[Fig.ERROR_RATE_5XX_PCT],
                      RUNBOOK_ADVICE) is None  # a warning: not "rollback immediately"
    # Connections and sockets: from the warning on (the Redis adapter's own threshold).
    socks = figures(socket_connections=1200)[Fig.SOCKET_CONNECTIONS]
    assert advice_for(socks, RUNBOOK_ADVICE) == Advice("enable Redis adapter", Offer.NONE,
                                                       Level.WARNING)


def test_no_advice_for_an_unknown_or_stale_figure() -> None:
    unknown = judge(Fig.ERROR_RATE_5XX_PCT, None, SETTINGS, reason="no traffic")
    assert advice_for(unknown, RUNBOOK_ADVICE) is None
    f = figures(memory_pct=99.0)[Fig.MEMORY_PCT]
    assert advice_for(dataclasses.replace(f, stale_s=30.0), RUNBOOK_ADVICE) is None
    assert advice_for(f, RUNBOOK_ADVICE) == Advice("restart service", Offer.RESTART)


def test_check_text_and_json_say_what_to_do_beside_the_breached_figure() -> None:
    a = assessment(latency_p95_ms=1500.0, error_rate_5xx_pct=0.2, memory_pct=97.0)
    text = check.as_text(a)
    p95 = next(line for line in text.splitlines() if "latency_p95_ms" in line)
    assert p95.endswith("now: check slow query logs")
    assert "now:" not in next(line for line in text.splitlines() if "error_rate_5xx" in line)
    out = json.loads(check.as_json(a))["figures"]
    assert out["latency_p95_ms"]["action"] == "check slow query logs"
    assert out["memory_pct"]["action"] == "restart service"
    assert "action" not in out["error_rate_5xx_pct"]


def test_a_thresholds_action_is_configurable_and_can_be_turned_off() -> None:
    cfg = config.parse({"thresholds": {
        "latency_p95_ms": {"action": "page the DBA", "console_action": "none",
                           "action_at": "warning"},
        "memory_pct": {"action": ""}}})
    w = config.resolve(cfg, url="http://127.0.0.1:9", env={})
    assert w.advice[Fig.LATENCY_P95_MS] == Advice("page the DBA", Offer.NONE, Level.WARNING)
    a = assessment(latency_p95_ms=600.0, memory_pct=99.0)
    assert standing(a.figures, w.advice) == {Fig.LATENCY_P95_MS: w.advice[Fig.LATENCY_P95_MS]}
    assert "now: page the DBA" in check.as_text(a, advice=w.advice)


def test_a_console_action_that_does_not_exist_is_refused_in_one_line(tmp_path: Any) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[targets.x]\nbase_url = "http://127.0.0.1:9"\n'
                    '[thresholds.latency_p95_ms]\nconsole_action = "reboot"\n')
    with pytest.raises(ConfigError) as e:
        config.load(path)
    assert str(e.value).endswith("thresholds.latency_p95_ms.console_action: expected one of "
                                 "none, restart, rollback, sessions, got the string 'reboot'")


# --- transitions (pure) ----------------------------------------------------------------------

def test_the_first_look_is_a_baseline_then_firing_and_resolving_are_told_once() -> None:
    quiet = seen(assessment(error_rate_5xx_pct=0.1), None)
    loud = seen(assessment(alerts=(firing(),), error_rate_5xx_pct=7.0), None, RUNBOOK_ADVICE)
    assert transitions(None, loud) == ()  # what fires at start is on the screen already
    (fired,) = transitions(quiet, loud)
    assert fired.kind is EventKind.ALERT_FIRING and fired.level is HIGH_ERRORS.severity
    assert fired.title == "HighErrorRate firing on production"
    assert "now: rollback immediately" in fired.body  # what to do, in the notification
    assert transitions(loud, loud) == ()  # still firing: nothing new
    (resolved,) = transitions(loud, quiet)
    assert resolved.kind is EventKind.ALERT_RESOLVED and resolved.level is Level.OK
    pending = seen(assessment(alerts=(firing(state=AlertState.PENDING),)), None)
    assert transitions(quiet, pending) == ()  # pending is not firing


def test_prometheus_alerts_about_this_target_are_told_by_their_labels() -> None:
    def x(instance: str, scope: str = "target") -> ExternalAlert:
        return ExternalAlert("NodeDown", "firing", severity="critical", summary="down\x1b[2J",
                             labels={"instance": instance}, scope=scope)
    before = seen(assessment(external=(x("a"),)), None)
    now = seen(assessment(external=(x("a"), x("b"), x("c", "unlabelled"))), None)
    (e,) = transitions(before, now)  # b is new; c may be another target's: not told
    assert e.level is Level.CRITICAL and "\x1b" not in e.body


def test_prometheus_alerts_unreadable_for_a_look_are_not_told_resolved_nor_fired_again(
        ) -> None:
    # Prometheus's alerts endpoint failing (its figures fine) gave no alerts at that look:
    # every firing alert was told resolved, to the terminal and #studybuddy-alerts, and
    # fired anew when the endpoint answered again.
    import dataclasses

    down = ExternalAlert("NodeDown", "firing", severity="critical", summary="down",
                         labels={"instance": "a"}, scope="target")
    n = Notifier(NotifySettings(bell=False, desktop=()), write=None, say=lambda _t: None,
                 now=lambda: 0.0)
    unread = dataclasses.replace(assessment(), external_alerts_error="HTTP 500")
    assert n.observe(assessment(external=(down,)), None) == ()  # the first look: baseline
    assert n.observe(unread, None) == ()
    assert n.observe(unread, None) == ()
    assert n.observe(assessment(external=(down,)), None) == ()
    (resolved,) = n.observe(assessment(), None)  # read, and gone: resolved now
    assert resolved.kind is EventKind.ALERT_RESOLVED and resolved.title.startswith("NodeDown")


def test_the_gate_turning_red_is_told_once_with_what_fails() -> None:
    green, red = seen(assessment(), gate()), seen(assessment(), gate("5xx", "p95"))
    (e,) = transitions(green, red)
    assert e.kind is EventKind.GATE_RED and e.body == "5xx bad; p95 bad"
    assert transitions(red, red) == ()
    # The soak still running is not red; nor is a shut gate before the first step.
    assert transitions(green, seen(assessment(), gate("soak"))) == ()
    assert transitions(green, seen(assessment(), gate("5xx", percent=0))) == ()
    assert transitions(seen(assessment(), None), red)[0].kind is EventKind.GATE_RED


def test_action_and_watch_events_for_the_hook() -> None:
    assert action_finished("restart", False, "HTTP 500", "production") == Event(
        EventKind.ACTION_FINISHED, "restart FAILED on production", "HTTP 500", Level.CRITICAL)
    e = watch_ended("1. database indexes", "p95 back under 500 ms", ok=True)
    assert e.kind is EventKind.WATCH_ENDED and e.level is Level.OK


# --- the terminal's bytes --------------------------------------------------------------------

def test_osc_777_and_9_and_the_bell_are_spelled_as_terminals_read_them() -> None:
    e = Event(EventKind.ALERT_FIRING, "HighErrorRate firing", "5xx 7%")
    assert terminal.sequences(e, bell=True, desktop=("777", "9"), tmux=False) == (
        "\x07\x1b]777;notify;HighErrorRate firing;5xx 7%\x07"
        "\x1b]9;HighErrorRate firing: 5xx 7%\x07")
    assert terminal.sequences(e, bell=False, desktop=(), tmux=False) == ""


def test_inside_tmux_the_notification_goes_through_dcs_passthrough_with_esc_doubled() -> None:
    e = Event(EventKind.GATE_RED, "gate red", "")
    assert terminal.sequences(e, bell=True, desktop=("777",), tmux=True) == (
        "\x07\x1bPtmux;\x1b\x1b]777;notify;gate red;\x07\x1b\\")


def test_text_from_outside_cannot_end_split_or_reorder_a_notification() -> None:
    hostile = "a\x1b]0;pwned\x07b\x9b31m;c\u202edesrever\u2066\nd\x00" + "x" * 500
    seq = terminal.osc777(hostile, hostile)
    inner = seq[len("\x1b]777;notify;"):-1]
    assert not any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f for c in inner)
    assert "\u202e" not in inner and "\u2066" not in inner
    assert inner.count(";") == 1  # only the separator of title and body
    title, body = inner.split(";")
    assert len(title) <= terminal.TITLE_MAX and len(body) <= terminal.BODY_MAX
    assert title.startswith("a]0,pwnedb31m,cdesrever d")


# --- the webhook's rate limit (pure) ---------------------------------------------------------

def test_at_most_one_message_a_minute_per_kind_the_rest_summed() -> None:
    lim = Limiter(60.0)
    fire = [Event(EventKind.ALERT_FIRING, f"A{i} firing") for i in range(8)]
    assert lim.offer(fire[0], 0.0) == ["[WARN] A0 firing"]
    for i, e in enumerate(fire[1:], start=1):
        assert lim.offer(e, float(i)) == []  # held
    # Another kind is not held by this one.
    assert lim.offer(Event(EventKind.GATE_RED, "gate red", level=Level.CRITICAL), 5.0) == [
        "[CRIT] gate red"]
    assert lim.due(59.0) == []
    (summary,) = lim.due(60.0)
    assert summary.startswith("7 alerts fired within 60 s") and "A5 firing" in summary
    # The latest five named, the earliest counted.
    assert summary.endswith("2 earlier; then A3 firing; A4 firing; A5 firing; A6 firing; "
                            "A7 firing") and lim.held == 0
    assert lim.offer(fire[0], 61.0) == []  # the summary started a new minute


def test_a_flapping_alerts_last_word_in_the_channel_is_how_it_stands() -> None:
    """Fires, resolves, fires, resolves, fires within a minute: it is firing. Before, its
    firing and resolving had a minute each, and the held resolve came out last ("[OK] ...
    resolved", five seconds after the summary of firings) while the alert fired."""
    lim = Limiter(60.0)
    sent: list[str] = []
    for i, t in enumerate((0.0, 5.0, 10.0, 15.0, 20.0)):
        kind = EventKind.ALERT_FIRING if i % 2 == 0 else EventKind.ALERT_RESOLVED
        state = "firing" if i % 2 == 0 else "resolved"
        sent += lim.offer(Event(kind, f"HighErrorRate {state}",
                                level=Level.CRITICAL if i % 2 == 0 else Level.OK), t)
    for t in range(21, 200):
        sent += lim.due(float(t))
    assert sent[0] == "[CRIT] HighErrorRate firing" and lim.held == 0
    assert sent[-1].endswith("HighErrorRate firing"), sent
    assert sent[-1].startswith("4 alert changes (fired and resolved) within 60 s")
    assert len(sent) == 2  # one message, then one summary a minute later


@pytest.mark.parametrize("kind", list(EventKind))
def test_every_kind_of_event_held_in_a_minute_is_summed_in_words(kind: EventKind) -> None:
    # Status pages' changes came in after the limiter was written: three providers changing
    # within a minute held two, and summing them broke the tick (KeyError).
    lim = Limiter(60.0)
    events = [Event(kind, f"E{i}") for i in range(3)]
    assert len(lim.offer(events[0], 0.0)) == 1
    assert lim.offer(events[1], 1.0) == [] and lim.offer(events[2], 2.0) == []
    (summary,) = lim.due(60.0)
    assert summary.startswith("2 ") and "within 60 s" in summary and "E2" in summary
    assert str(kind) not in summary  # words, not the enum's name


def test_slack_markup_from_outside_cannot_mention_the_channel() -> None:
    assert slack_escape("<!channel> & <https://x|y>") == "&lt;!channel&gt; &amp; &lt;https://x|y&gt;"


# --- the config ------------------------------------------------------------------------------

def test_the_webhook_url_comes_from_the_environment_and_is_never_shown() -> None:
    secret = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    cfg = config.Config(notify=NotifyConfig(webhook_url_env="SB_HOOK"))
    w = config.resolve(cfg, url="http://127.0.0.1:9", env={"SB_HOOK": secret})
    assert w.notify.webhook_url == secret and "SECRET" not in repr(w)
    unset = config.resolve(cfg, url="http://127.0.0.1:9", env={})
    assert unset.notify.webhook_url is None and "$SB_HOOK is not set" in unset.notify.problem
    for bad in ("http://hooks.example.com/T/B/SECRET", "hooks.slack.com/SECRET"):
        with pytest.raises(ConfigError) as e:
            config.resolve(cfg, url="http://127.0.0.1:9", env={"SB_HOOK": bad})
        assert "SECRET" not in str(e.value) and "notify.webhook_url_env" in str(e.value)


@pytest.mark.parametrize("bad", ["https://[hooks.slack.com/services/T/B/SECRET",
                                 "https://hooks.slack.com]/T/B/SECRET"])
def test_a_webhook_url_urllib_cannot_split_is_one_config_line_not_a_traceback(
        bad: str) -> None:
    cfg = config.Config(notify=NotifyConfig(webhook_url_env="SB_HOOK"))
    with pytest.raises(ConfigError) as e:
        config.resolve(cfg, url="http://127.0.0.1:9", env={"SB_HOOK": bad})
    assert "SECRET" not in str(e.value) and "does not hold an http(s) URL" in str(e.value)


@pytest.mark.parametrize("bad", ["https://hooks.slack.com:abc/services/T/B/SECRET",
                                 "https://hooks.slack.com:99999/services/T/B/SECRET"])
def test_a_webhook_url_with_a_port_urllib_cannot_read_is_refused_by_the_config(
        bad: str) -> None:
    """urllib splits such a URL and raises only when the port is asked for: before, the
    config took it and the console then crashed naming the webhook, its crash report
    printing the URL (the secret) among the locals."""
    cfg = config.Config(notify=NotifyConfig(webhook_url_env="SB_HOOK"))
    with pytest.raises(ConfigError) as e:
        config.resolve(cfg, url="http://127.0.0.1:9", env={"SB_HOOK": bad})
    assert "SECRET" not in str(e.value) and "does not hold an http(s) URL" in str(e.value)
    # And naming such a URL never raises (the last line of defence).
    from sbtop.credentials import endpoint

    assert endpoint(bad) == "?"


def test_contacts_come_from_the_config_as_the_helps_lines() -> None:
    cfg = config.Config(contacts=ContactsConfig(
        primary="Ada", escalation="Tech Lead", slack_channel="#studybuddy-alerts"))
    w = config.resolve(cfg, url="http://127.0.0.1:9", env={})
    assert w.contacts.lines() == ["On call: primary Ada, escalation Tech Lead",
                                  "Tell: Slack #studybuddy-alerts"]
    assert Contacts().lines() == []


def test_channels_switched_off_write_nothing_to_the_terminal() -> None:
    written: list[str] = []
    n = Notifier(NotifySettings(bell=False, desktop=()), write=written.append,
                 say=lambda _t: None, now=lambda: 0.0)
    n.event(Event(EventKind.ALERT_FIRING, "x"))
    assert written == [] and len(n.recent) == 1
    n = Notifier(NotifySettings(), write=written.append, say=lambda _t: None, now=lambda: 0.0)
    n.toggle_mute()
    n.event(Event(EventKind.ALERT_FIRING, "x"))
    assert written == []
    n.toggle_mute()
    n.event(Event(EventKind.ALERT_FIRING, "x"))
    assert written and written[0].startswith("\x07\x1b]777;notify;x;")
    # The bell is an alarm: good news goes to the desktop only.
    n.event(Event(EventKind.ALERT_RESOLVED, "x resolved", level=Level.OK))
    assert written[1].startswith("\x1b]777;notify;x resolved;")


def test_a_flapping_alert_rings_the_terminal_once_a_minute_and_ends_on_how_it_stands() -> None:
    """HighErrorRate crossing its threshold every few seconds (as a burn-rate rule, which has
    no `for`, can): before, every crossing rang the bell and popped a desktop notification."""
    written: list[str] = []
    now = [0.0]
    n = Notifier(NotifySettings(), write=written.append, say=lambda _t: None,
                 now=lambda: now[0])
    errors = Fig.ERROR_RATE_5XX_PCT
    quiet = assessment(**{errors: 0.1})
    fires = assessment(alerts=(firing(),), **{errors: 7.0})

    def look(t: float, a: Assessment) -> None:
        now[0] = t
        n.observe(a, None)

    look(0.0, quiet)  # the baseline
    for i in range(1, 12):  # firing at every odd look (the last, at 55 s), resolved between
        look(5.0 * i, fires if i % 2 else quiet)
    assert len(n.recent) == 11  # every change is known (and on the screen)
    assert len(written) == 1 and written[0].startswith("\x07\x1b]777;notify;HighErrorRate firing")
    look(66.0, fires)  # the minute is up; it fires, as was told: nothing more to say
    assert len(written) == 1
    look(70.0, quiet)  # a minute since it was told: told at once
    assert len(written) == 2 and written[1].startswith("\x1b]777;notify;HighErrorRate resolved")
    look(75.0, fires)
    look(80.0, quiet)  # held, and resolved again: as was told
    look(131.0, quiet)
    assert len(written) == 2
    look(135.0, fires)
    look(140.0, quiet)  # held; at the minute's end it stands resolved, not as told: told
    look(196.0, quiet)
    assert len(written) == 4 and "HighErrorRate resolved" in written[3]
    # Events of other topics are not held by this one.
    n.event(action_finished("restart", True, "ok"))
    assert len(written) == 5


# --- the webhook against loopback servers -----------------------------------------------------

SECRET_PATH = "/services/T000/B000/XXXXSECRET"


class Said(list[str]):
    def __call__(self, text: str) -> None:
        self.append(text)


async def _drain(hook: Webhook) -> None:
    await hook.close(grace_s=10.0)


@pytest.mark.slow
def test_the_webhook_posts_slacks_shape_and_holds_a_burst() -> None:
    now = [0.0]
    said = Said()
    with LoopbackServer({SECRET_PATH: Answer(200, b"ok", "text/plain")}) as server:
        async def go() -> None:
            hook = Webhook(server.url + SECRET_PATH, timeout_s=5.0, every_s=60.0,
                           env="SB_HOOK", now=lambda: now[0], say=said)
            hook.offer(Event(EventKind.ALERT_FIRING, "HighErrorRate firing <!channel>",
                             "5xx 7%", Level.CRITICAL))
            hook.offer(Event(EventKind.ALERT_FIRING, "HighLatency firing"))
            hook.offer(Event(EventKind.ALERT_FIRING, "Other firing"))
            await _drain(hook)
            assert hook.sent == 1
            now[0] = 61.0
            hook.flush_due()
            await _drain(hook)
            assert hook.sent == 2
        asyncio.run(go())
        bodies = [json.loads(r["body"]) for r in server.settled()]
    assert [r["method"] for r in server.requests] == ["POST", "POST"]
    assert bodies[0] == {"text": "[CRIT] HighErrorRate firing &lt;!channel&gt;\n5xx 7%"}
    assert bodies[1]["text"].startswith("2 alerts fired within 60 s")
    assert said == []


@pytest.mark.slow
@pytest.mark.parametrize("answer, words", [
    (Answer(500, b"internal_error"), "answered HTTP 500"),
    (Answer(200, b"ok", delay_s=3.0), "no answer within 0.5 s"),
])
def test_a_failing_webhook_is_said_once_without_its_url(answer: Answer, words: str) -> None:
    said = Said()
    with LoopbackServer({SECRET_PATH: answer}) as server:
        async def go() -> None:
            hook = Webhook(server.url + SECRET_PATH, timeout_s=0.5, every_s=0.0,
                           env="SB_HOOK", now=lambda: 0.0, say=said)
            for kind in (EventKind.ALERT_FIRING, EventKind.GATE_RED):
                hook.offer(Event(kind, "x"))
                await _drain(hook)
            assert hook.failed == 2
        asyncio.run(go())
    assert len(said) == 1, said  # said once, not per message
    assert words in said[0] and "$SB_HOOK" in said[0]
    assert "SECRET" not in said[0] and "/services" not in said[0]


@pytest.mark.slow
def test_a_refused_webhook_never_blocks_and_recovers_when_it_answers() -> None:
    said = Said()
    port = closed_port()

    async def go() -> None:
        hook = Webhook(f"http://127.0.0.1:{port}{SECRET_PATH}", timeout_s=2.0, every_s=0.0,
                       env="", now=lambda: 0.0, say=said)
        hook.offer(Event(EventKind.ACTION_FINISHED, "restart done"))  # returns at once
        await _drain(hook)
        assert hook.failed == 1
        with LoopbackServer({SECRET_PATH: Answer(200, b"ok")}) as server:
            hook._url = server.url + SECRET_PATH  # the same hook, the server now up
            hook.offer(Event(EventKind.ACTION_FINISHED, "rollback done"))
            await _drain(hook)
            assert wait_for(lambda: len(server.requests) == 1, timeout=30)
    asyncio.run(go())
    assert "unreachable (ConnectError)" in said[0] and "SECRET" not in said[0]
    assert said[1].endswith("delivering again")


@pytest.mark.slow
def test_what_the_webhook_holds_is_sent_when_sbtop_closes_not_dropped() -> None:
    """A second alert fires seconds after the first (held for the summary), then the
    engineer quits: before, the held message was dropped with the notifier, and the channel
    never heard of the second alert."""
    said = Said()
    with LoopbackServer({SECRET_PATH: Answer(200, b"ok")}) as server:
        async def go() -> None:
            n = Notifier(NotifySettings(bell=False, desktop=(),
                                        webhook_url=server.url + SECRET_PATH),
                         write=None, say=said, now=lambda: 0.0)
            n.event(Event(EventKind.ALERT_FIRING, "HighLatency firing"))
            n.event(Event(EventKind.ALERT_FIRING, "HighErrorRate firing", level=Level.CRITICAL))
            await n.close()
        asyncio.run(go())
        bodies = [json.loads(r["body"])["text"] for r in server.settled()]
    assert bodies == ["[WARN] HighLatency firing", "[CRIT] HighErrorRate firing"]
    assert said == []


@pytest.mark.slow
def test_sbtop_record_tells_the_webhook_what_fired(tmp_path: Any) -> None:
    """Headless through a window (`sbtop record` on the jump box): the webhook hears the
    alert; nothing is written for a terminal."""
    rule = AlertRule("TrafficSeen", Fig.REQUESTS_PER_S, ">", 0.0, 0.0, Level.WARNING,
                     "requests are arriving")
    with running(port=0) as backend, LoopbackServer(
            {SECRET_PATH: Answer(200, b"ok")}) as server:
        w = demo_target(backend.url)
        w = dataclasses.replace(w.with_engine(dataclasses.replace(w.engine, alerts=(rule,))),
                                notify=NotifySettings(webhook_url=server.url + SECRET_PATH))
        summary = asyncio.run(record.run(w, tmp_path / "r.sbrec", for_s=5.0, refresh_s=0.25,
                                         max_bytes=10**7))
        assert summary.ticks >= 2
        bodies = [json.loads(r["body"])["text"] for r in server.settled()]
    assert bodies == ["[WARN] TrafficSeen firing on demo\nrequests are arriving"]
