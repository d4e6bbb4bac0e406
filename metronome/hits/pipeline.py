"""Enrichment: a validated hit becomes a Logstash-style document through small pure steps.

Each step takes the document being built and the request context and returns the document;
the order is ``STEPS``. Steps read the request (user agent, client IP, salt) from the context,
never from the document, so the visitor id can use the IP that a later step anonymises.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import ua_parser

from metronome.hits.privacy import IpMode, anonymise_ip, visitor_id

Document = dict[str, Any]

STREAM = "hits"


@dataclass(frozen=True)
class HitContext:
    site: str
    received_at: datetime
    user_agent: str | None = None
    client_ip: str | None = None
    ip_mode: IpMode = "truncate"
    salt: bytes = b""  # the daily salt of this request's UTC day (privacy.DailySalts)


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


def put_user_agent(doc: Document, ctx: HitContext) -> Document:
    """``user_agent``: the raw header (cut to 512 characters) and what it says, known keys only."""
    agent = user_agent_text(ctx.user_agent)
    if agent is not None:
        doc["user_agent"] = parse_user_agent(agent).as_field()
    return doc


def put_bot(doc: Document, ctx: HitContext) -> Document:
    """``bot``: crawlers, monitors, scripts and headless browsers, by parser or by name.

    A hit with no user agent is *not* flagged: server-side senders (our own back ends, the
    tests) send none, and flagging them would hide real usage. Plausible drops them instead.
    """
    agent = user_agent_text(ctx.user_agent)
    doc["bot"] = agent is not None and parse_user_agent(agent).bot
    return doc


def put_visitor(doc: Document, ctx: HitContext) -> Document:
    """A cookieless ``visitor`` (daily-salted hash) unless the client sent its own."""
    if not doc.get("visitor"):
        visitor = visitor_id(ctx.salt, ctx.site, ctx.client_ip, user_agent_text(ctx.user_agent))
        if visitor is not None:
            doc["visitor"] = visitor
    return doc


def put_client_ip(doc: Document, ctx: HitContext) -> Document:
    """``client_ip`` as ``ip_mode`` allows: dropped, truncated, hashed or (only if "full") raw."""
    # The field is the server's: a client-sent value must not pass for the request's address.
    doc.pop("client_ip", None)
    if ctx.client_ip is not None:
        stored = anonymise_ip(ctx.client_ip, ctx.ip_mode, ctx.salt)
        if stored is not None:
            doc["client_ip"] = stored
    return doc


STEPS: tuple[Step, ...] = (
    put_timestamp,
    put_logstash_fields,
    put_hit_id,
    put_url_parts,
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


# --- user agents ---------------------------------------------------------------------------

UA_MAX_CHARS = 512
Device = Literal["desktop", "mobile", "tablet", "bot", "other"]

# "bot" alone would flag Cubot phones.
_BOT = re.compile(
    r"(?<!cu)bot|crawl|spider|slurp|curl/|wget|python-requests|python-urllib|aiohttp|httpx"
    r"|go-http-client|okhttp|java/|libwww|scrapy|headless|phantomjs|selenium|puppeteer"
    r"|playwright|lighthouse|pingdom|uptime|statuscake|monitor|nagios|zabbix|check_http",
    re.IGNORECASE,
)
_OTHER_DEVICE = re.compile(r"smart-?tv|\btv\b|playstation|xbox|nintendo|crkey|roku", re.IGNORECASE)
_TABLET = re.compile(r"ipad|tablet|kindle|silk/|playbook", re.IGNORECASE)
_DESKTOP = re.compile(r"windows nt|macintosh|x11|\bcros\b", re.IGNORECASE)
_MOBILE_OS = frozenset(
    {"iOS", "Android", "Windows Phone", "Windows Mobile", "BlackBerry OS", "KaiOS", "Firefox OS"}
)


@dataclass(frozen=True)
class UserAgent:
    original: str
    name: str | None
    version: str | None
    os: str | None
    os_version: str | None
    device: Device
    bot: bool

    def as_field(self) -> dict[str, str]:
        known = {
            "original": self.original,
            "name": self.name,
            "version": self.version,
            "os": self.os,
            "os_version": self.os_version,
            "device": self.device,
        }
        return {key: value for key, value in known.items() if value is not None}


def user_agent_text(raw: str | None) -> str | None:
    """The header as stored and parsed: ``None`` when blank, else cut to ``UA_MAX_CHARS``.

    Cutting before parsing also bounds the cache: the key is never an 8 KB header.
    """
    if raw is None or not raw.strip():
        return None
    return raw[:UA_MAX_CHARS]


@functools.lru_cache(maxsize=4096)
def parse_user_agent(agent: str) -> UserAgent:
    """Cached because parsing costs ~2 ms and a site's traffic repeats a few hundred agents."""
    result = ua_parser.parse(agent)
    defaults = result.with_defaults()  # "Other" and no versions where the parser knew nothing
    browser, system = defaults.user_agent, defaults.os
    bot = _is_bot(result, agent)
    return UserAgent(
        original=agent,
        name=_known(browser.family),
        version=_version(browser.major, browser.minor, browser.patch, browser.patch_minor),
        os=_known(system.family),
        os_version=_version(system.major, system.minor, system.patch, system.patch_minor),
        device="bot" if bot else _device(result, agent),
        bot=bot,
    )


def _is_bot(result: ua_parser.Result, agent: str) -> bool:
    spider = result.device is not None and result.device.family == "Spider"
    return spider or _BOT.search(agent) is not None


def _device(result: ua_parser.Result, agent: str) -> Device:
    os_family = result.os.family if result.os else None
    brand = (result.device.brand if result.device else None) or ""
    if _OTHER_DEVICE.search(agent):
        return "other"
    if _TABLET.search(agent) or "Tablet" in brand:
        return "tablet"
    # Android tablets are told apart by the missing "Mobile" token (Google's own convention).
    if os_family == "Android" and "mobile" not in agent.lower():
        return "tablet"
    if os_family in _MOBILE_OS or "mobi" in agent.lower():
        return "mobile"
    if _DESKTOP.search(agent):
        return "desktop"
    return "other"


def _known(family: str) -> str | None:
    return None if family == "Other" else family


def _version(*parts: str | None) -> str | None:
    known: list[str] = []
    for part in parts:
        if part is None:
            break
        known.append(part)
    return ".".join(known) or None
