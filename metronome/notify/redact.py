"""What of a channel's address may be shown: the scheme, host and port of a URL. The rest
may be the secret itself (Slack's and Mattermost's hook URLs carry their token in the path;
SMS gateways take keys in the query; ``user:password@`` in the authority)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
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


class _Redactor(logging.Filter):
    """Replaces registered secrets in the records of the HTTP libraries' loggers (urllib3
    logs each request's path and query at debug level)."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, secrets: Iterable[str | None]) -> None:
        with self._lock:
            known = set(self._secrets) | {s for s in secrets if s and len(s) >= 4}
            self._secrets = tuple(sorted(known, key=len, reverse=True))  # longest first

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self._secrets
        if secrets:
            message = record.getMessage()
            scrubbed = scrub(message, secrets)
            if scrubbed != message:
                record.msg, record.args = scrubbed, ()
        return True


REDACTOR = _Redactor()
HTTP_LOGGERS = ("urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry", "requests")
for _name in HTTP_LOGGERS:
    logging.getLogger(_name).addFilter(REDACTOR)


def hide_in_logs(url: str, *secrets: str | None) -> None:
    """Keep a webhook's URL (whole, its path, query and password) and ``secrets`` out of the
    HTTP libraries' log records."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        parts, password = None, None
    pieces: list[str | None] = [url, *secrets, password]
    if parts is not None:
        path = parts.path if parts.path not in ("", "/") else None
        pieces += [path, parts.query, f"{path or ''}?{parts.query}" if parts.query else None]
    REDACTOR.add(pieces)
