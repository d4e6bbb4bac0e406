"""Enrichment: a validated hit becomes a Logstash-style document through small pure steps.

Each step takes the document being built and the request context and returns the document;
the order is ``STEPS``. Steps read the request (user agent, client IP, salt) from the context,
never from the document, so the visitor id and the location can use the IP that a later step
anonymises.

What depends on the request alone (the receive time as text, the parsed user agent, the
visitor id, the location, the stored IP) is worked out once when the context is built, not
once per hit: every hit of a batch shares them, and one context serves every hit of a request
to a site.

The work on user agents, URLs, IPs, locations and visitor ids is shared with the other streams
and lives in ``metronome.enrich``; the steps here compose it for hits.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from metronome.config import DEFAULT_KEEP_PARAMS
from metronome.enrich.geo import Geo, GeoField
from metronome.enrich.ips import IpMode, anonymise_ip
from metronome.enrich.times import iso_millis
from metronome.enrich.urls import KeepParams, clean_url, url_parts
from metronome.enrich.useragent import UserAgent, parse_user_agent, user_agent_text
from metronome.enrich.visitors import visitor_id

Document = dict[str, Any]

STREAM = "hits"
URL_CACHE_SIZE = 1024  # distinct URLs kept split per process; a URL holds at most 4096 chars


@dataclass(frozen=True)
class HitContext:
    site: str
    received_at: datetime
    user_agent: str | None = None
    client_ip: str | None = None
    ip_mode: IpMode = "truncate"
    salt: bytes = b""  # the daily salt of this request's UTC day (enrich.visitors.DailySalts)
    keep_query: KeepParams = DEFAULT_KEEP_PARAMS  # the privacy.keep_query_params setting
    geo: Geo | None = None  # the deployment's location lookups (enrich.geo); None: off

    # Worked out once from the fields above, in __post_init__: every hit of the context
    # shares them. (functools.cached_property would take a lock on every first use.)
    received_at_text: str = field(init=False, repr=False, compare=False)
    agent: UserAgent | None = field(init=False, repr=False, compare=False)
    user_agent_field: dict[str, str] | None = field(init=False, repr=False, compare=False)
    visitor: str | None = field(init=False, repr=False, compare=False)
    geo_field: GeoField | None = field(init=False, repr=False, compare=False)
    stored_ip: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        agent_text = user_agent_text(self.user_agent)
        agent = None if agent_text is None else parse_user_agent(agent_text)
        derived = {
            "received_at_text": iso_millis(self.received_at),
            "agent": agent,
            "user_agent_field": None if agent is None else agent.as_field(),
            "visitor": visitor_id(self.salt, self.site, self.client_ip, agent_text),
            "geo_field": (
                None
                if self.geo is None or self.client_ip is None
                else self.geo.lookup(self.client_ip)
            ),
            "stored_ip": (
                None
                if self.client_ip is None
                else anonymise_ip(self.client_ip, self.ip_mode, self.salt)
            ),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)  # frozen: the documented way in __post_init__


Step = Callable[[Document, HitContext], Document]


def put_timestamp(doc: Document, ctx: HitContext) -> Document:
    """``@timestamp`` is the event's own time (``time``) or, when absent, the receive time."""
    moment = doc.pop("time", None)
    doc["@timestamp"] = ctx.received_at_text if moment is None else iso_millis(moment)
    return doc


def put_logstash_fields(doc: Document, ctx: HitContext) -> Document:
    doc["@version"] = "1"
    doc["type"] = STREAM
    doc["site"] = ctx.site
    doc["received_at"] = ctx.received_at_text
    doc.pop("key", None)  # a credential is never stored
    return doc


def put_hit_id(doc: Document, ctx: HitContext) -> Document:
    """The document ``_id``: the client's ``hit_id`` (so resends are stored once) or a new one."""
    if "hit_id" not in doc:
        doc["hit_id"] = new_hit_id()
    return doc


def put_url_parts(doc: Document, ctx: HitContext) -> Document:
    """``url`` and ``referrer`` become objects with the full URL, host, path (and page); the
    full URL without its fragment and the query parameters ``keep_query`` does not name."""
    for name in ("url", "referrer"):
        raw = doc.get(name)
        if isinstance(raw, str):
            # a copy: documents share no objects
            doc[name] = dict(_cached_url_parts(raw, ctx.keep_query))
    return doc


def put_user_agent(doc: Document, ctx: HitContext) -> Document:
    """``user_agent``: the raw header (cut to 512 characters) and what it says, known keys only."""
    agent_field = ctx.user_agent_field
    if agent_field is not None:
        doc["user_agent"] = dict(agent_field)  # a copy: documents share no objects
    return doc


def put_bot(doc: Document, ctx: HitContext) -> Document:
    """``bot``: crawlers, monitors, scripts and headless browsers, by parser or by name.

    A hit with no user agent is *not* flagged: server-side senders (our own back ends, the
    tests) send none, and flagging them would hide real usage. Plausible drops them instead.
    """
    doc["bot"] = ctx.agent is not None and ctx.agent.bot
    return doc


def put_visitor(doc: Document, ctx: HitContext) -> Document:
    """A cookieless ``visitor`` (daily-salted hash) unless the client sent its own."""
    if not doc.get("visitor"):
        visitor = ctx.visitor
        if visitor is not None:
            doc["visitor"] = visitor
    return doc


def put_geo(doc: Document, ctx: HitContext) -> Document:
    """``geo``: the country (and region and city with a city database) of the client's address,
    looked up before it is anonymised; nothing for a private or unknown address."""
    geo = ctx.geo_field
    if geo is not None:
        doc["geo"] = dict(geo)  # a copy: documents share no objects
    return doc


def put_client_ip(doc: Document, ctx: HitContext) -> Document:
    """``client_ip`` as ``ip_mode`` allows: dropped, truncated, hashed or (only if "full") raw."""
    # The field is the server's: a client-sent value must not pass for the request's address.
    doc.pop("client_ip", None)
    stored = ctx.stored_ip
    if stored is not None:
        doc["client_ip"] = stored
    return doc


STEPS: tuple[Step, ...] = (
    put_timestamp,
    put_logstash_fields,
    put_hit_id,
    put_url_parts,
    put_geo,  # it looks up the raw address from ctx, as put_visitor hashes it
    put_user_agent,
    put_bot,
    put_visitor,  # before put_client_ip for the reader: it hashes the raw address from ctx
    put_client_ip,
)


def enrich(hit: Document, ctx: HitContext, steps: tuple[Step, ...] = STEPS) -> Document:
    doc = dict(hit)
    for step in steps:
        doc = step(doc, ctx)
    return doc


@functools.lru_cache(maxsize=URL_CACHE_SIZE)
def _cached_url_parts(raw: str, keep: KeepParams) -> dict[str, str]:
    """``url_parts`` of the clean URL for the enrichment step: a site's hits repeat a few pages
    and referrers. The cached dict is never handed out; the step copies it."""
    return url_parts(clean_url(raw, keep))


def new_hit_id() -> str:
    """A random (version 4) UUID as 32 hex digits, as ``uuid.uuid4().hex`` gives, built without
    the ``UUID`` object, which cost more than the rest of the step."""
    number = int.from_bytes(os.urandom(16), "big")
    number = (number & ~_UUID_FIXED_BITS) | _UUID4_BITS
    return f"{number:032x}"


# RFC 4122: the version nibble (4) and the two variant bits (10).
_UUID_FIXED_BITS = (0xF000 << 64) | (0xC000 << 48)
_UUID4_BITS = (0x4000 << 64) | (0x8000 << 48)
