"""A log event as a Logstash-style document of the ``logs`` stream.

The record's fields are kept as sent; an access-log line in ``message`` (or ``log``), or the
fields of Fluentd's nginx/apache2 parsers, become a web request: ``http.*``, ``url.*``,
``referrer.*``, the parsed ``user_agent``, a ``bot`` flag, the client IP anonymised like a hit's,
a cookieless ``visitor``, the client's location (``geo``), the event time from the line, and
the tracked item (``id``, ``event``, ``format``) when a configured path rule matches.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from metronome.config import DEFAULT_KEEP_PARAMS
from metronome.enrich.geo import Geo
from metronome.enrich.ips import IpMode, anonymise_ip
from metronome.enrich.requests import web_request_fields
from metronome.enrich.times import iso_millis
from metronome.enrich.urls import KeepParams, clean_url
from metronome.enrich.visitors import DailySalts, visitor_id
from metronome.logs.access_log import WebRequest, from_parser_record, parse_line
from metronome.logs.events import LogEvent
from metronome.logs.items import ItemRule, item_of
from metronome.spool.entry import Entry

STREAM = "logs"
MESSAGE_FIELDS = ("message", "log")  # Fluentd's default key, Fluent Bit's docker/tail key
# Names the document owns; a record field of the same name is kept under record.<name>.
RESERVED = frozenset(
    {"@timestamp", "@version", "type", "tag", "input", "received_at", "site", "http", "url"}
    | {"referrer", "user_agent", "bot", "client_ip", "visitor", "id", "event", "format", "record"}
    | {"geo"}
)
# The fields Fluentd's nginx/apache2 parsers produce: represented by http.* etc. instead.
PARSER_FIELDS = frozenset(
    {"remote", "host", "user", "method", "path", "code", "size", "referer", "agent"}
)


@dataclass(frozen=True)
class LogContext:
    site: str  # the site the documents belong to (GET /tock is per site)
    rules: tuple[ItemRule, ...]
    ip_mode: IpMode
    salts: DailySalts
    keep_query: KeepParams = DEFAULT_KEEP_PARAMS  # the privacy.keep_query_params setting
    geo: Geo | None = None  # the deployment's location lookups (enrich.geo); None: off


def log_entry(event: LogEvent, ctx: LogContext, received_at: datetime) -> Entry:
    record = event.record
    request, from_parser = _web_request(record)
    moment = (request.time if request and request.time else event.time).astimezone(UTC)
    doc: dict[str, Any] = {
        "@timestamp": iso_millis(moment),
        "@version": "1",
        "type": STREAM,
        "site": ctx.site,
        "tag": event.tag,
        "input": event.input,
        "received_at": iso_millis(received_at),
    }
    kept: dict[str, Any] = {}
    for name, value in record.items():
        if from_parser and name in PARSER_FIELDS:
            continue
        if name in RESERVED:
            kept[name] = value
        else:
            doc[name] = value
    if kept:
        doc["record"] = kept
    if request is not None:
        doc.update(_request_fields(request, ctx, moment))
        if not from_parser:
            for name in MESSAGE_FIELDS:  # not reserved: on the document itself
                if name in doc:
                    doc[name] = _clean_line(doc[name], request, ctx.keep_query)
    return Entry(stream=STREAM, id=_document_id(event), doc=doc)


def log_entries(
    events: Sequence[LogEvent], ctx: LogContext, received_at: datetime | None = None
) -> list[Entry]:
    now = received_at or datetime.now(UTC)
    return [log_entry(event, ctx, now) for event in events]


def _web_request(record: dict[str, Any]) -> tuple[WebRequest | None, bool]:
    for name in MESSAGE_FIELDS:
        text = record.get(name)
        if isinstance(text, str) and (request := parse_line(text)) is not None:
            return request, False
    request = from_parser_record(record)
    return request, request is not None


def _request_fields(request: WebRequest, ctx: LogContext, moment: datetime) -> dict[str, Any]:
    fields = web_request_fields(
        method=request.method,
        status=request.status,
        bytes_sent=request.bytes,
        version=request.protocol,
        request_line=request.request,
        target=request.path,
        referrer=request.referrer,
        user_agent=request.user_agent,
        keep=ctx.keep_query,
    )
    salt = ctx.salts.for_day(moment.date())
    if request.client_ip and ctx.geo is not None:
        geo = ctx.geo.lookup(request.client_ip)  # the address as logged, before it is anonymised
        if geo is not None:
            fields["geo"] = geo
    if request.client_ip:
        stored = anonymise_ip(request.client_ip, ctx.ip_mode, salt)
        if stored is not None:
            fields["client_ip"] = stored
    visitor = visitor_id(salt, ctx.site, request.client_ip, request.user_agent)
    if visitor is not None:
        fields["visitor"] = visitor
    item = item_of(ctx.rules, request.method, request.path, request.status)
    if item is not None:
        fields.update({"id": item.id, "event": item.event})
        if item.format:
            fields["format"] = item.format
    return fields


def _clean_line(line: Any, request: WebRequest, keep: KeepParams) -> Any:
    """The access-log line with its target and referrer as ``url`` and ``referrer`` store them:
    the raw line would otherwise keep the tokens those fields drop."""
    if not isinstance(line, str):
        return line
    for raw in (request.path, request.referrer):
        if raw:
            line = line.replace(raw, clean_url(raw, keep))
    return line


def _document_id(event: LogEvent) -> str:
    """Deterministic where the input lets a resend be recognised (a forward chunk id, an HTTP
    body digest, plus the position): such a resend is stored once. Otherwise (Message mode
    without a chunk, where the client never learns the outcome and resends only what it could
    not write) each event is its own document: identical lines in the same second are real
    requests, not duplicates."""
    if not event.key:
        return "log:" + uuid.uuid4().hex
    basis = f"{event.tag}\0{event.key}"
    return "log:" + hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()[:40]
