"""Send saved objects to a Kibana through its saved-objects import API, and read its answer.

``POST <kibana>[/s/<space>]/api/saved_objects/_import[?overwrite=true]`` with the NDJSON as the
multipart field ``file`` and the ``kbn-xsrf`` header. Kibana answers 200 even when some objects
fail: ``{"success", "successCount", "successResults", "errors": [{"id", "type", "title",
"error": {"type", ...}}]}``; the objects without an error are imported all the same. A 4xx or
5xx means the request itself was refused (credentials, a missing header, a file too large).

Credentials are sent as HTTP basic auth or an API key header, never put in the URL, and never
part of a message of this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

SPACE = re.compile(r"[a-z0-9_-]{1,64}")
IMPORT_PATH = "/api/saved_objects/_import"


class KibanaImportError(RuntimeError):
    """The import request failed as a whole; the message says why (never with a secret)."""


@dataclass(frozen=True)
class Credentials:
    username: str | None = None
    password: str | None = None
    api_key: str | None = None  # Kibana's "ApiKey <base64 id:key>" credential


@dataclass(frozen=True)
class ObjectError:
    type: str
    id: str
    title: str
    error_type: str
    detail: str  # e.g. the missing references, or Kibana's message

    def describe(self) -> str:
        title = f" ({self.title})" if self.title else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.type} {self.id}{title}: {self.error_type}{detail}"


@dataclass(frozen=True)
class ImportResult:
    success: bool
    success_count: int
    errors: list[ObjectError] = field(default_factory=list)


def import_url(base: str, space: str | None, overwrite: bool) -> str:
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise KibanaImportError(f"{base!r} is not an http(s) URL of a Kibana")
    if parts.username or parts.password:
        raise KibanaImportError(
            "the Kibana URL carries credentials: give them with --user or the "
            "METRONOME_KIBANA_* environment variables instead, so they stay out of URLs"
        )
    if space is not None and not SPACE.fullmatch(space):
        raise KibanaImportError(f"{space!r} is not a Kibana space id (a-z, 0-9, _ and -)")
    root = base.rstrip("/")
    scoped = f"{root}/s/{space}" if space and space != "default" else root
    return scoped + IMPORT_PATH + ("?overwrite=true" if overwrite else "")


def import_saved_objects(
    base_url: str,
    ndjson: bytes,
    *,
    space: str | None = None,
    overwrite: bool = False,
    credentials: Credentials = Credentials(),
    verify: bool | str = True,
    timeout: float = 120.0,
) -> ImportResult:
    url = import_url(base_url, space, overwrite)
    headers = {"kbn-xsrf": "metronome"}
    auth = None
    if credentials.api_key:
        headers["Authorization"] = f"ApiKey {credentials.api_key}"
    elif credentials.username:
        auth = (credentials.username, credentials.password or "")
    files = {"file": ("metronome.ndjson", ndjson, "application/ndjson")}
    try:
        response = requests.post(
            url, headers=headers, files=files, auth=auth, verify=verify, timeout=timeout
        )
    except requests.RequestException as error:
        raise KibanaImportError(
            f"could not reach Kibana at {base_url}: {type(error).__name__}"
        ) from None
    if response.status_code in (401, 403):
        raise KibanaImportError(
            f"Kibana refused the request ({response.status_code}): "
            + ("give valid credentials" if response.status_code == 401 else "not allowed")
            + f"{_message(response)}"
        )
    if response.status_code != 200:
        raise KibanaImportError(f"Kibana answered {response.status_code}{_message(response)}")
    try:
        body = response.json()
    except ValueError:
        raise KibanaImportError("Kibana's answer is not JSON: is the URL a Kibana?") from None
    return parse_answer(body)


def parse_answer(body: Any) -> ImportResult:
    """The import API's answer, checked for the members it always has."""
    if not isinstance(body, dict) or not isinstance(body.get("successCount"), int):
        raise KibanaImportError("Kibana's answer has no successCount: is the URL a Kibana?")
    errors = []
    for item in body.get("errors") or []:
        if not isinstance(item, dict):
            continue
        raw_error = item.get("error")
        error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
        errors.append(
            ObjectError(
                type=str(item.get("type", "?")),
                id=str(item.get("id", "?")),
                title=str(item.get("title") or item.get("meta", {}).get("title") or ""),
                error_type=str(error.get("type", "unknown")),
                detail=_detail(error),
            )
        )
    return ImportResult(bool(body.get("success")), body["successCount"], errors)


def _detail(error: dict[str, Any]) -> str:
    if error.get("type") == "missing_references":
        missing = [
            f"{ref.get('type')} {ref.get('id')}"
            for ref in error.get("references") or []
            if isinstance(ref, dict)
        ]
        return "missing " + ", ".join(missing) if missing else ""
    if error.get("type") == "conflict":
        return "exists already (import with --overwrite to replace it)"
    for key in ("message", "reason"):
        if isinstance(error.get(key), str):
            return str(error[key])[:300]
    return ""


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return f": {str(message)[:300]}" if message else ""
