"""The file's [notify], [contacts] and each threshold's action, mapped into the wiring: what to
do now per breach, who is told and how, who to call. The webhook's URL is read from the
environment here, with the target's other secrets; it is never shown."""

from __future__ import annotations

import dataclasses
import typing
import urllib.parse

from sbtop import credentials, untrusted
from sbtop.config.errors import ConfigError
from sbtop.config.schema import Config
from sbtop.engine.advice import RUNBOOK_ADVICE, Advice, Offer
from sbtop.engine.levels import Level
from sbtop.notify.settings import Contacts, NotifySettings
from sbtop.wiring import Wiring

ACTION_MAX = 80


def advice_book(config: Config) -> dict[str, Advice]:
    """The runbook's advice with each threshold's keys on top (a key not given keeps the
    runbook's; `action = ""` turns a figure's advice off)."""
    book = dict(RUNBOOK_ADVICE)
    for key, th in config.thresholds.items():
        if th.action is None and th.console_action is None and th.action_at is None:
            continue
        base = book.get(key, Advice("", Offer.NONE, Level.WARNING))
        book[key] = Advice(
            # Printed by check and drawn in a border: one line, control characters shown.
            untrusted.line(th.action.strip(), ACTION_MAX) if th.action is not None
            else base.words,
            Offer(th.console_action) if th.console_action is not None else base.offer,
            Level(th.action_at) if th.action_at is not None else base.at,
        )
    return book


def notify_settings(config: Config, env: typing.Mapping[str, str]) -> NotifySettings:
    n = config.notify
    if n.webhook_timeout_s <= 0:
        raise ConfigError("notify.webhook_timeout_s: must be greater than 0")
    if n.webhook_every_s < 0:
        raise ConfigError("notify.webhook_every_s: must not be negative")
    desktop = tuple(dict.fromkeys(n.desktop_sequences)) if n.desktop else ()
    url: str | None = None
    problem = ""
    if n.webhook_url_env:
        url = env.get(n.webhook_url_env) or None
        if url is None:
            problem = (f"notify: ${n.webhook_url_env} is not set: no Slack messages (the "
                       "terminal's notifications go on)")
        else:
            url = url.strip()
            try:
                parts = urllib.parse.urlsplit(url)
                # The port is read here too: urllib splits "host:abc" and raises only when
                # the port is asked for, which the webhook does when it names itself (and
                # the console's crash report would then print the URL among its locals).
                usable = (parts.scheme in ("http", "https") and bool(parts.hostname)
                          and (parts.port is None or parts.port > 0))
            except ValueError:  # "Invalid IPv6 URL", a port not a number or out of range
                usable = False
            if not usable:
                # Never the value: it is a secret, perhaps pasted wrong.
                raise ConfigError(f"notify.webhook_url_env: ${n.webhook_url_env} does not "
                                  "hold an http(s) URL")
            refused = credentials.refuse_plain_http(url, "the Slack webhook's URL")
            if refused:
                raise ConfigError(f"notify.webhook_url_env: {refused}")
    return NotifySettings(bell=n.bell, desktop=desktop, webhook_url=url,
                          webhook_env=n.webhook_url_env, webhook_timeout_s=n.webhook_timeout_s,
                          webhook_every_s=n.webhook_every_s, problem=problem)


def contacts(config: Config) -> Contacts:
    c = config.contacts
    return Contacts(c.primary.strip(), c.secondary.strip(), c.escalation.strip(),
                    c.slack_channel.strip(), c.status_page.strip())


def with_notify(wiring: Wiring, config: Config, env: typing.Mapping[str, str]) -> Wiring:
    return dataclasses.replace(wiring, advice=advice_book(config),
                               notify=notify_settings(config, env), contacts=contacts(config))
