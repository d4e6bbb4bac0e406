"""What of a channel's address may be shown: the scheme, host and port of a URL. The rest
may be the secret itself (Slack's and Mattermost's hook URLs carry their token in the path;
SMS gateways take keys in the query; ``user:password@`` in the authority)."""

from __future__ import annotations

from urllib.parse import urlsplit


def shown_url(url: str) -> str:
    """``https://hooks.example:8443/…``: no user, password, path or query."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an invalid URL)"
    if ":" in host:
        host = f"[{host}]"
    rest = "/…" if (parts.path not in ("", "/") or parts.query) else ""
    return f"{parts.scheme}://{host}{port}{rest}"


def scrub(text: str, secrets: tuple[str | None, ...]) -> str:
    """``text`` with every secret in it replaced by ``***`` (an error from a library may
    repeat what it was given)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
