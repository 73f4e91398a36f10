"""Credentials travel only where they should: never over plain http to another host, never
shown. A URL can itself be a credential (Render's deploy hooks carry `?key=...`, Slack's and
Vercel's the secret in the path): a webhook's is shown as its scheme and host only."""

from __future__ import annotations

import ipaddress
import os
import re
import urllib.parse
from collections.abc import Mapping

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


# Environment variables whose value is a credential, by the words in their names (RENDER_API_KEY,
# DATABASE_URL, SLACK_WEBHOOK_URL, PGPASSWORD, ...): a command sbtop runs inherits them all.
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|PASS\b|AUTH(?!OR)|CREDENTIAL|DSN|DATABASE_URL|"
                          r"WEBHOOK|PRIVATE", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@]*:)([^\s/@]+)(@)")
MIN_SECRET = 6  # shorter values ("1", "true", "prod") would mask half of every output


def scrubbed(text: str, env: Mapping[str, str] | None = None) -> str:
    """A command's output with what it may have been handed taken out: every URL's password
    (`postgres://app:***@db`), and the value of every environment variable named like a
    credential (`env`: the command's environment, os.environ when None)."""
    values = []
    for name, value in (os.environ if env is None else env).items():
        if _SECRET_NAME.search(name) and len(value) >= MIN_SECRET:
            values.append(value)
            values += [v for v in _url_passwords(value) if len(v) >= MIN_SECRET]
    for value in sorted(set(values), key=len, reverse=True):  # the longest first
        text = text.replace(value, "***")
    return _URL_PASSWORD.sub(r"\1***\3", text)


def _url_passwords(value: str) -> list[str]:
    """The passwords inside a URL-shaped value, raw and percent-decoded (as it may be quoted)."""
    found = [m.group(2) for m in _URL_PASSWORD.finditer(value)]
    return found + [urllib.parse.unquote(v) for v in found]
