"""URLs as documents store them: without their secrets, and split into their parts.

URLs carry password-reset tokens, ``#access_token=...`` and e-mail addresses; ``clean_url``
keeps only the query parameters a deployment names (``privacy.keep_query_params``).
"""

from __future__ import annotations

from urllib.parse import unquote_plus, urlsplit

from metronome.config import DEFAULT_KEEP_PARAMS  # ("utm_*", "ref"): the snippet's default too

# Query parameter names kept in stored URLs; "utm_*" names every name starting "utm_", "*" all.
KeepParams = tuple[str, ...]


def clean_url(raw: str, keep: KeepParams) -> str:
    """``raw`` as it may be stored: no fragment, except a hash route (``#/cart``, ``#!/cart``)
    without a query of its own, and only the query parameters ``keep`` names.

    The snippet strips the same before sending (``cleanUrl``, the same rule); this is for
    every other sender. Plain text, so it serves absolute URLs and request targets
    (``/docs?x=1``) alike; kept pairs stay as they were written.
    """
    before, _, fragment = raw.partition("#")
    path, _, query = before.partition("?")
    if "*" not in keep:
        query = "&".join(pair for pair in query.split("&") if pair and _kept(pair, keep))
    return path + (f"?{query}" if query else "") + hash_route(fragment)


def hash_route(fragment: str) -> str:
    """The route of a URL fragment (``#/cart`` of ``/cart?x=1``), else "": an anchor or a token."""
    if fragment.startswith(("/", "!/")):
        return "#" + fragment.partition("?")[0]
    return ""


def _kept(pair: str, keep: KeepParams) -> bool:
    name = unquote_plus(pair.partition("=")[0])
    return any(
        name == entry or (entry.endswith("*") and name.startswith(entry[:-1])) for entry in keep
    )


def url_parts(raw: str) -> dict[str, str]:
    """Split a URL; ``page`` is host + path without scheme or query (how /tock lists referers)."""
    try:
        parts = urlsplit(raw if "//" in raw else f"//{raw}")
        host = (parts.hostname or "").lower()
    except ValueError:
        return {"full": raw}
    path = parts.path or ""
    if host.startswith("www."):
        host = host[4:]
    result = {"full": raw}
    if host:
        result["host"] = host
        result["page"] = host + (path.rstrip("/") if path != "/" else "")
    if path:
        result["path"] = path
    return result


def url_field(target: str, keep: KeepParams = DEFAULT_KEEP_PARAMS) -> dict[str, str]:
    """The ``url`` object of a request target (``/docs?x=1``): full, path and query, without
    the fragment and query parameters ``keep`` does not name (``clean_url``)."""
    path, _, query = clean_url(target, keep).partition("?")
    target = f"{path}?{query}" if query else path
    return {"full": target, "path": path, **({"query": query} if query else {})}
