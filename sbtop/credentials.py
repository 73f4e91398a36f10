"""Credentials travel only where they should: never over plain http to another host, never
shown. A URL can itself be a credential (Render's deploy hooks carry `?key=...`): it is shown
with the key masked, wherever sbtop shows it."""

from __future__ import annotations

import ipaddress
import urllib.parse

MASK = "***"
# Query parameters that carry a credential in the URLs people paste into configs (deploy
# hooks, webhook relays, signed URLs).
SECRET_PARAMS = frozenset({
    "key", "api_key", "apikey", "token", "access_token", "auth", "secret", "password",
    "passwd", "pass", "signature", "sig", "code", "client_secret",
})


def is_loopback(url: str) -> bool:
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http(url: str) -> bool:
    """Whether a request to `url` would travel unencrypted off this machine."""
    return urllib.parse.urlsplit(url).scheme.lower() == "http" and not is_loopback(url)


def carries_secret(url: str) -> bool:
    """A password in the URL, or a query parameter named like a credential."""
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        return True
    return any(k.lower() in SECRET_PARAMS
               for k, _v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True))


def mask_url(url: str) -> str:
    """The URL as it may be shown: a password and credential-like query values masked."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user = parts.username or ""
        netloc = f"{user}:{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in SECRET_PARAMS for k, _v in pairs):
            query = "&".join(f"{k}={MASK}" if k.lower() in SECRET_PARAMS
                             else urllib.parse.urlencode({k: v}) for k, v in pairs)
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def refuse_plain_http(url: str, what: str) -> str | None:
    """Why `what` may not be sent to `url`, or None when it may."""
    if not plain_http(url):
        return None
    host = urllib.parse.urlsplit(url).hostname or "?"
    return (f"{what} would go over plain http to {host}, readable on the way: use an https "
            "URL (plain http is allowed to this machine only)")
