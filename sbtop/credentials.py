"""Credentials travel only where they should: never over plain http to another host, never
shown. A URL can itself be a credential (Render's deploy hooks carry `?key=...`, Slack's and
Vercel's the secret in the path): a webhook's is shown as its scheme and host only."""

from __future__ import annotations

import ipaddress
import urllib.parse

# Query parameters that carry a credential in the URLs people paste into configs (deploy
# hooks, webhook relays, signed URLs).
SECRET_PARAMS = frozenset({
    "key", "api_key", "apikey", "token", "access_token", "auth", "secret", "password",
    "passwd", "pass", "signature", "sig", "code", "client_secret",
})


def is_loopback(url: str) -> bool:
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    if host in ("localhost", "localhost.localdomain"):
        return True  # (not *.localhost: that goes to DNS here, the very path to protect)
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


def endpoint(url: str) -> str:
    """Where a URL goes, without what it carries: `https://hooks.example/…`. For webhooks,
    whose path is often the secret itself (Slack's, Vercel's, Netlify's deploy hooks)."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a bracket or a port urllib cannot read: say nothing of the URL
        return "?"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{port}/…"


def refuse_plain_http(url: str, what: str) -> str | None:
    """Why `what` may not be sent to `url`, or None when it may."""
    if not plain_http(url):
        return None
    host = urllib.parse.urlsplit(url).hostname or "?"
    return (f"{what} would go over plain http to {host}, readable on the way: use an https "
            "URL (plain http is allowed to this machine only)")
