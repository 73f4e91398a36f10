"""A target's credentials, read from the environment when it is resolved: the typed `Secrets`
(sbtop.wiring), of which the composition root hands each subsystem its part; the auth header
and cookie its HTTP client sends; and the refusal to send any of them over plain http to
another host.

The file only names the variables that hold them; a value is never echoed, not even in a
message saying it is wrong, nor in a repr."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass

from sbtop import credentials
from sbtop.config.errors import ConfigError
from sbtop.config.schema import TargetConfig
from sbtop.config.values import check_url, header_safe

# The typed secrets live with the rest of what the composition root hands out.
from sbtop.wiring import Secrets as Secrets  # noqa: PLC0414


@dataclass(frozen=True)
class TargetAuth:
    """The header and cookie every request to the target carries (its /metrics and health),
    and a warning for each whose variable is not set."""

    headers: dict[str, str] = dataclasses.field(default_factory=dict, repr=False)
    cookies: dict[str, str] = dataclasses.field(default_factory=dict, repr=False)
    warnings: tuple[str, ...] = ()


def target_auth(name: str, tc: TargetConfig, env: typing.Mapping[str, str]) -> TargetAuth:
    warnings: list[str] = []
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    auth = tc.auth
    # A header and a cookie are read alike: the value from the environment, or a warning
    # that requests go without it.
    for name_of, env_var, kind, sent in ((auth.header, auth.header_env, "header", headers),
                                         (auth.cookie, auth.cookie_env, "cookie", cookies)):
        if not name_of:
            continue
        value = env.get(env_var)
        if value:
            sent[name_of] = header_safe(value, f"${env_var}")
        else:
            warnings.append(f"warning: ${env_var} (targets.{name}.auth.{kind}_env) is "
                            f"not set: requests go without the {name_of} {kind}")
    return TargetAuth(headers, cookies, tuple(warnings))


def read_secrets(tc: TargetConfig, kind: str, env: typing.Mapping[str, str]) -> Secrets:
    """The credentials the target's settings name, for the provider `kind` ("render",
    "command", "http" or ""); a value no HTTP header can carry is refused, naming the
    variable."""
    prom = tc.prometheus if tc.prometheus.url else None
    prometheus_header = prometheus_password = None
    if prom is not None:
        if prom.header:
            raw = env.get(prom.header_env)
            prometheus_header = header_safe(raw, f"${prom.header_env}") if raw else None
        if prom.basic_user:
            prometheus_password = env.get(prom.basic_password_env) or None
    render_api_key = None
    if kind == "render":
        raw = env.get(tc.render.api_key_env)
        render_api_key = header_safe(raw, f"${tc.render.api_key_env}") if raw else None
    http_header = http_url = None
    if kind == "http" and tc.actions.http.header:
        raw = env.get(tc.actions.http.header_env)
        http_header = header_safe(raw, f"${tc.actions.http.header_env}") if raw else None
    if kind == "http" and tc.actions.http.url_env:
        raw = env.get(tc.actions.http.url_env)
        if raw:
            check_url(raw, f"${tc.actions.http.url_env}")
        http_url = raw or None
    return Secrets(render_api_key, prometheus_header, prometheus_password, http_header,
                   http_url)


def refuse_plain_http(name: str, tc: TargetConfig, kind: str, secrets: Secrets,
                      target_auth: bool) -> None:
    """Credentials never travel over plain http to another host (loopback is allowed, for the
    demo and the tests): refused before anything is sent, saying which and where."""
    where = f"targets.{name}"
    sends: list[tuple[str, str]] = []
    if target_auth:
        sends += [(u, f"{where}.auth (a header or cookie)")
                  for u in (tc.base_url, *tc.metrics_urls) if u]
    if tc.prometheus.url and (secrets.prometheus_header or secrets.prometheus_password):
        sends.append((tc.prometheus.url, f"{where}.prometheus's credentials"))
    if kind == "render" and secrets.render_api_key:
        sends.append((tc.render.api_url, f"the Render API key (${tc.render.api_key_env})"))
    if kind == "http":
        # A webhook's URL is its credential as often as not (a key in the path or the
        # query): to another host, only https.
        url = secrets.http_url or tc.actions.http.url
        if url:
            sends.append((url, f"{where}.actions.http (a webhook: its URL is a credential)"))
    for url, what in sends:
        why = credentials.refuse_plain_http(url, what)
        if why:
            raise ConfigError(why)
