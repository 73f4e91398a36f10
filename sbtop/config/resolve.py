"""Resolving a target: the config's [targets.NAME] (or a bare --url / --prometheus-url) with the
command line's overrides applied and its credentials read from the environment, then handed to
the composition root (compose.py) for the `Wiring` the rest of sbtop runs on."""

from __future__ import annotations

import os
import ssl
import typing
import urllib.parse

import msgspec

from sbtop.config.compose import Chosen, compose
from sbtop.config.errors import ConfigError
from sbtop.config.notify import with_notify
from sbtop.config.schema import Config, TargetConfig
from sbtop.config.secrets import read_secrets, refuse_plain_http, target_auth
from sbtop.config.values import check_url, did_you_mean
from sbtop.engine.selector import SelectorError, selector_matchers
from sbtop.wiring import Wiring


def resolve(config: Config, target: str | None = None, *, url: str | None = None,
            dsn: str | None = None, env: typing.Mapping[str, str] | None = None,
            prometheus_url: str | None = None, selector: str | None = None,
            probe_env: typing.Mapping[str, str] | None = None) -> Wiring:
    """The target to watch, with CLI overrides applied and secrets read from the environment,
    as each subsystem's settings. `probe_env`: variables the checklist reads, over the
    environment's (the demo's test account)."""
    env = os.environ if env is None else env
    name, tc = _chosen(config, target, url, prometheus_url)
    if url:
        check_url(url, "--url")
        # The URL given is the one to watch: metrics from it, not from the listed instances.
        tc = msgspec.structs.replace(tc, base_url=url, metrics_urls=[])
    if prometheus_url:
        check_url(prometheus_url, "--prometheus-url")
        tc = msgspec.structs.replace(tc, prometheus=msgspec.structs.replace(tc.prometheus,
                                                                     url=prometheus_url))
    if selector:
        if not tc.prometheus.url:
            raise ConfigError("--selector picks series in Prometheus: give --prometheus-url "
                              f"too (or set targets.{name}.prometheus.url)")
        tc = msgspec.structs.replace(tc, prometheus=msgspec.structs.replace(tc.prometheus,
                                                                     selector=selector))
    try:
        selector_matchers(tc.prometheus.selector)
    except SelectorError as e:
        where = "--selector" if selector else f"targets.{name}.prometheus.selector"
        raise ConfigError(f"{where}: {e}") from None
    if not tc.base_url and not tc.prometheus.url and not tc.metrics_urls:
        raise ConfigError(f"targets.{name}.base_url: not set (or give --url)")
    auth = target_auth(name, tc, env)
    kind = tc.actions.provider or ("render" if tc.render.service_id else "")
    secrets = read_secrets(tc, kind, env)
    refuse_plain_http(name, tc, kind, secrets, bool(auth.headers or auth.cookies))
    if tc.ca_bundle:
        try:
            ssl.create_default_context(cafile=tc.ca_bundle)
        except (OSError, ssl.SSLError) as e:
            reason = getattr(e, "strerror", None) or "not a PEM bundle of certificates"
            raise ConfigError(f"targets.{name}.ca_bundle: cannot load {tc.ca_bundle}: "
                              f"{reason}") from None
    instances = instance_names(tc.metrics_urls) if len(tc.metrics_urls) > 1 else {}
    chosen = Chosen(name, tc, kind, auth, secrets,
                    dsn or (env.get(tc.dsn_env) if tc.dsn_env else None), instances)
    return with_notify(compose(config, chosen, probe_env), config, env)


def _chosen(config: Config, target: str | None, url: str | None,
            prometheus_url: str | None) -> tuple[str, TargetConfig]:
    """The target's name and table: the one named (or the default), the only one, or a bare
    one named for the URL given."""
    name = target or config.default_target
    if name:
        if name not in config.targets:
            known = ", ".join(config.targets) or "none defined"
            raise ConfigError(f"no target named {name!r}{did_you_mean(name, config.targets)} "
                              f"(targets: {known})")
        return name, config.targets[name]
    if len(config.targets) == 1 and not url and not prometheus_url:
        return next(iter(config.targets.items()))
    if url or prometheus_url:
        return _host_of(url or prometheus_url or ""), TargetConfig()
    if config.targets:
        raise ConfigError(f"several targets ({', '.join(config.targets)}): choose one with "
                          "--target NAME or set default_target")
    raise ConfigError("no target: give --url BASE_URL, or define [targets.NAME] in a config "
                      "file (sbtop init writes one)")


def instance_names(urls: typing.Sequence[str]) -> dict[str, str]:
    """Each URL named as Prometheus names an instance (host:port, [v6]:port); the whole URL
    where two share a host and port."""
    def host_port(u: str) -> str:
        parts = urllib.parse.urlsplit(u)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = parts.hostname or "?"
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    short = [host_port(u) for u in urls]
    return {(s if short.count(s) == 1 else u): u for s, u in zip(short, urls, strict=True)}


def _host_of(url: str) -> str:
    return url.split("//", 1)[-1].split("/", 1)[0] or "cli"
