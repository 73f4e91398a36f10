"""The post-deployment checklist ([[verify]]) as HTTP probes against the target's base URL,
their credentials read from the environment when `verify` runs (the composition root hands
verify this as a function: sbtop.wiring.VerifySettings.checklist)."""

from __future__ import annotations

import os
import re
import typing

from sbtop import credentials
from sbtop.config.errors import ConfigError
from sbtop.config.schema import VerifyConfig
from sbtop.config.values import BODY_VAR, BODY_VAR_SUB, header_safe
from sbtop.engine.verify import Probe


def probes(items: typing.Sequence[VerifyConfig], base_url: str,
           probe_env: typing.Mapping[str, str] | None = None,
           env: typing.Mapping[str, str] | None = None) -> tuple[Probe, ...]:
    """The checklist as probes against `base_url`, credentials from the environment (read
    now, not at start-up), `probe_env` over it. A variable that is not set makes its probe
    fail as 'not sent', naming the variable; one holding a line break is a ConfigError.
    Without a base URL nothing can be sent: the probes only name what was not (no
    credential is read)."""
    if not base_url:
        return tuple(_probe(v, base_url, {}) for v in items)
    env = {**(os.environ if env is None else env), **(probe_env or {})}
    for v in items:
        if v.header or v.cookie or BODY_VAR.search(v.body or ""):
            why = credentials.refuse_plain_http(base_url,
                                                f"verify probe {v.name!r}'s credentials")
            if why:
                raise ConfigError(why)
    return tuple(_probe(v, base_url, env) for v in items)


def _probe(v: VerifyConfig, base_url: str, env: typing.Mapping[str, str]) -> Probe:
    missing: list[str] = []

    def value(var: str) -> str:
        got = env.get(var)
        if not got:
            missing.append(var)
            return ""
        return header_safe(got, f"${var}")

    def sub(m: re.Match[str]) -> str:
        got = env.get(m.group(1))
        if got is None:
            missing.append(m.group(1))
            return ""
        return got

    headers: dict[str, str] = {}
    if v.header:
        headers[v.header] = value(v.header_env)
    if v.cookie:
        headers["Cookie"] = f"{v.cookie}={value(v.cookie_env)}"
    body = None
    if v.body:
        body = BODY_VAR_SUB.sub(sub, v.body).encode()
        json_like = v.body.lstrip()[:1] in ("{", "[")
        headers["Content-Type"] = v.content_type or ("application/json" if json_like
                                                     else "text/plain")
    return Probe(v.name, v.method.upper(), base_url + v.path, v.path, v.expect_status,
                 dict(v.expect_json), v.timeout_s, body, headers, tuple(dict.fromkeys(missing)))
