"""``GET /api/v1/events``: every raw document of a range, streamed as NDJSON or CSV.

Parameters: ``site`` (default ``default_site``), ``stream`` (default ``hits``), ``from`` and
``to`` (as for /tock; default the last 30 days up to now, ``to`` exclusive), ``tz`` (for dates
without an offset), ``format`` = ``ndjson`` (default) | ``csv``, ``fields=a,b.c`` (only those
fields; the CSV columns in that order), ``id`` and ``event`` (exact match).

A read key (or the session cookie) is always required, even for ``public_tock`` sites: /tock
publishes aggregates, while raw documents hold visitor ids, anonymised IPs, user agents and
every custom parameter.

There is no row cap: documents are streamed page by page (see ``events.iter_events``), so
memory stays constant whatever the range. Problems found before the first byte (parameters,
keys, Elasticsearch down) are JSON errors; a failure after streaming has begun cannot change
the status any more, so the connection is cut and the client sees a truncated chunked body
rather than a silently short file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any

from elasticsearch import ApiError as EsApiError
from elasticsearch import TransportError
from flask import Blueprint, Response, request, stream_with_context

from metronome.errors import ApiError
from metronome.es.naming import is_valid_stream, stream_pattern
from metronome.query.events import events_query, flatten, iter_events, mapped_fields, pick
from metronome.query.export import ndjson_line, rows_to_csv
from metronome.query.reads import store_unavailable
from metronome.query.timerange import parse_instant, parse_tz
from metronome.web.readers import reader_site
from metronome.web.services import current_services

log = logging.getLogger(__name__)

bp = Blueprint("events", __name__)

PAGE_SIZE = 1000  # documents per Elasticsearch request; tests lower it to cross pages
KEEP_ALIVE = "1m"
CHUNK_CHARS = 64 * 1024  # one write per ~64 KB rather than one per document
DEFAULT_SPAN = timedelta(days=30)
FORMATS = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
MAX_FIELDS = 500
MAX_VALUE_LENGTH = 1024
# Literal names only: Elasticsearch would expand wildcards, but CSV columns must be known.
FIELD_NAME = r"[A-Za-z0-9_@][A-Za-z0-9_@.:-]{0,255}"
# fields=a,b.c: 1 to MAX_FIELDS names, comma-separated, spaces around a name allowed.
FIELDS_PATTERN = rf" *{FIELD_NAME} *(?:, *{FIELD_NAME} *){{0,{MAX_FIELDS - 1}}}"
FIELDS_LIST = re.compile(FIELDS_PATTERN)
FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class EventsRequest:
    site: str
    stream: str
    start: datetime  # inclusive, aware
    end: datetime  # exclusive
    format: str
    fields: tuple[str, ...] | None
    item_id: str | None
    event: str | None


@bp.get("/api/v1/events")
def events() -> Response:
    services = current_services()
    site = reader_site(request.args.get("site"))
    wanted = parse_events(site.name, request.args, now=datetime.now(UTC))
    index = stream_pattern(services.settings.elasticsearch.index_prefix, wanted.stream)
    query = events_query(wanted.site, wanted.start, wanted.end, wanted.item_id, wanted.event)
    try:
        columns = None
        if wanted.format == "csv":
            columns = list(wanted.fields or mapped_fields(services.es, index))
        documents = iter_events(
            services.es, index, query, PAGE_SIZE, KEEP_ALIVE, fields=wanted.fields
        )
        # The first page is fetched now, so an unreachable store is still a clean 503.
        first = next(documents, None)
    except (TransportError, EsApiError):
        raise store_unavailable() from None
    primed = documents if first is None else chain([first], documents)

    def body() -> Iterator[str]:
        try:
            if columns is None:
                lines: Iterable[str] = (ndjson_line(doc) for doc in primed)
            else:
                lines = rows_to_csv(columns, _rows(primed, columns))
            yield from _chunks(lines)
        except Exception:
            log.exception("events export failed after streaming began; cutting the response")
            raise
        finally:
            documents.close()  # closes the point-in-time when the client goes away early

    response = Response(stream_with_context(body()), content_type=FORMATS[wanted.format])
    # WSGI servers close the response even when its body was never read: release the PIT then.
    response.call_on_close(documents.close)
    response.headers["Content-Disposition"] = f'attachment; filename="{_filename(wanted)}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def parse_events(site: str, args: Mapping[str, str], now: datetime) -> EventsRequest:
    fmt = args.get("format", "ndjson")
    if fmt not in FORMATS:
        raise ApiError(
            400, "invalid_format", f"format={fmt[:32]!r} is not one of ndjson, csv.", "format"
        )
    stream = args.get("stream", "hits")
    if not is_valid_stream(stream):
        raise ApiError(
            400,
            "invalid_stream",
            f"stream={stream[:40]!r} is not a stream name (1-32 of a-z, 0-9, _).",
            "stream",
        )
    tz = parse_tz(args.get("tz"))
    end = parse_instant(args["to"], tz, now, "to") if "to" in args else now.astimezone(tz)
    start = parse_instant(args["from"], tz, now, "from") if "from" in args else end - DEFAULT_SPAN
    if start >= end:
        raise ApiError(422, "invalid_range", "from must be earlier than to.", field="from")
    return EventsRequest(
        site=site,
        stream=stream,
        start=start,
        end=end,
        format=fmt,
        fields=_parse_fields(args.get("fields")),
        item_id=_exact(args, "id"),
        event=_exact(args, "event"),
    )


def _parse_fields(raw: str | None) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if not FIELDS_LIST.fullmatch(raw):
        raise ApiError(
            400,
            "invalid_fields",
            f"fields lists 1 to {MAX_FIELDS} field names, comma-separated (letters, digits, "
            "_ @ . : -; no wildcards).",
            "fields",
        )
    return tuple(dict.fromkeys(name.strip(" ") for name in raw.split(",")))


def _exact(args: Mapping[str, str], name: str) -> str | None:
    value = args.get(name)
    if value is None:
        return None
    if not 1 <= len(value) <= MAX_VALUE_LENGTH:
        raise ApiError(
            400, f"invalid_{name}", f"{name} must be 1 to {MAX_VALUE_LENGTH} characters.", name
        )
    return value


def _rows(documents: Iterable[dict[str, Any]], columns: list[str]) -> Iterator[list[Any]]:
    for doc in documents:
        flat = flatten(doc)
        yield [pick(doc, flat, column) for column in columns]


def _chunks(lines: Iterable[str]) -> Iterator[str]:
    batch: list[str] = []
    size = 0
    for line in lines:
        batch.append(line)
        size += len(line)
        if size >= CHUNK_CHARS:
            yield "".join(batch)
            batch, size = [], 0
    if batch:
        yield "".join(batch)


def _filename(wanted: EventsRequest) -> str:
    def stamp(moment: datetime) -> str:
        midnight = moment.time() == datetime.min.time()
        return f"{moment:%Y%m%d}" if midnight else f"{moment:%Y%m%dT%H%M}"

    site = FILENAME_UNSAFE.sub("_", wanted.site)
    extension = "csv" if wanted.format == "csv" else "ndjson"
    return f"{site}-{wanted.stream}-{stamp(wanted.start)}-{stamp(wanted.end)}.{extension}"
