"""Enrichment: a validated hit becomes a Logstash-style document through small pure steps.

Each step takes the document being built and the request context and returns the document;
the order is ``STEPS``. The ingestion issue adds user agent, bot, IP and visitor steps here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

Document = dict[str, Any]

STREAM = "hits"


@dataclass(frozen=True)
class HitContext:
    site: str
    received_at: datetime


Step = Callable[[Document, HitContext], Document]


def put_timestamp(doc: Document, ctx: HitContext) -> Document:
    """``@timestamp`` is the event's own time (``time``) or, when absent, the receive time."""
    moment = doc.pop("time", None) or ctx.received_at
    doc["@timestamp"] = iso_millis(moment)
    return doc


def put_logstash_fields(doc: Document, ctx: HitContext) -> Document:
    doc["@version"] = "1"
    doc["type"] = STREAM
    doc["site"] = ctx.site
    doc["received_at"] = iso_millis(ctx.received_at)
    doc.pop("key", None)  # a credential is never stored
    return doc


def put_hit_id(doc: Document, ctx: HitContext) -> Document:
    """The document ``_id``: the client's ``hit_id`` (so resends are stored once) or a new one."""
    doc.setdefault("hit_id", uuid.uuid4().hex)
    return doc


def put_url_parts(doc: Document, ctx: HitContext) -> Document:
    """``url`` and ``referrer`` become objects with the full URL, host, path (and page)."""
    for name in ("url", "referrer"):
        raw = doc.get(name)
        if isinstance(raw, str):
            doc[name] = url_parts(raw)
    return doc


STEPS: tuple[Step, ...] = (put_timestamp, put_logstash_fields, put_hit_id, put_url_parts)


def enrich(hit: Document, ctx: HitContext, steps: tuple[Step, ...] = STEPS) -> Document:
    doc = dict(hit)
    for step in steps:
        doc = step(doc, ctx)
    return doc


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


def iso_millis(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
