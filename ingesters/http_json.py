"""Any JSON API that lists records: one document per record, keyed by the record's id.

    sources:
      orders:
        type: http_json
        url: https://shop.example/api/orders
        records: data.items                # where the list is in the answer ("" = the answer)
        id: id                             # the record's unique id: the natural key
        time: created_at                   # @timestamp; ISO 8601 or epoch seconds/milliseconds
        next: paging.next                  # the next page's URL in the answer (null: last page)
        incremental: {param: updated_since, field: updated_at}

Requests: ``GET url?params`` (or ``POST url`` with ``params`` as the JSON body). Pagination:
the answer names the next page's URL at the dotted path ``next`` (relative URLs are resolved
against the page's own); the last page has none there (missing, null or ""). A next URL is
requested as it is (GET) or with the same JSON body (POST): it is expected to carry the query.
A next URL is followed only on the configured ``url``'s origin (scheme, host and port): the
source's headers (tokens) are sent with every request, so a next URL elsewhere ends the run with
an error and nothing is sent there; redirects are not followed either, for the same reason.
An answer larger than ``max_response_bytes`` (16 MiB; after decompression) is refused, read in
chunks so that no more than that is ever held (``metronome.sources.http``).

Paths are dotted keys (``data.items``, ``customer.country``); a number picks from a list
(``items.0.id``). A key that itself contains a dot cannot be reached.

Time: numbers (and strings of digits) are epoch times: below 100,000,000,000 seconds (that is
until the year 5138), from there milliseconds (which begin there in 1973). Other strings are
ISO 8601 (``2024-05-01T10:00:00Z``; without an offset, UTC). Without ``time`` a document gets
the time of reading. Documents go to the daily index of their @timestamp, so a record's time
should not change: without ``time``, a record read again on a later UTC day is stored again
that day (its id repeats only within a day's index). Use ``time`` or ``incremental``.

Incremental reads: with ``incremental: {param, field}`` the first request sends
``param=<the highest value of field seen so far>`` and the cursor keeps that value. The cursor
moves only once the last page of a run is stored (the API's page order is unknown, so a value
seen on page 1 does not prove pages 2.. were read); a run stopped half way reads again from the
previous value, and what it reads again is stored once. The API's filter may be inclusive: the
record(s) at the highest value then come back every run and are recognised as stored.

Changed records: when ``incremental.field`` holds a time, a document's ``version`` is that time
(microseconds since the epoch), so a record changed since it was stored (same id, later
``updated_at``) replaces the stored document. Otherwise (no ``incremental``, or a field that is
not a time) the first document stored for an id stays: records are create-once.

Fields: ``fields: {output: path}`` picks and renames; without it the record is stored as it is,
except top-level keys the envelope uses (``type``, ``site``, ``source``, ``@timestamp``...) and
keys starting with ``_`` (Elasticsearch's own), which are stored as ``record_<key>``.

Back-fill: a generic API has no date filter, so a back-fill reads the whole list again without
the incremental parameter and keeps the records whose ``time`` falls on the window's days (all
of them when ``time`` is not set); the cursor is not moved.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from marshmallow import Schema, ValidationError, fields, validate, validates

from metronome.sources.base import Cursor, Document, FetchContext, Page, Source, SourceError
from metronome.sources.http import MAX_RESPONSE_BYTES

STREAM = r"^[a-z0-9_]{1,32}\Z"
ENVELOPE = frozenset(
    {"@timestamp", "@version", "type", "site", "source", "source_type", "received_at"}
)
EPOCH_MILLIS_FROM = 100_000_000_000  # smaller epoch numbers are seconds (see the docstring)
NUMBER = re.compile(r"^-?\d+(\.\d+)?\Z")


DEFAULT_PORTS = {"http": 80, "https": 443}


class IncrementalOptions(Schema):
    param = fields.String(required=True, validate=validate.Length(min=1))
    field = fields.String(required=True, validate=validate.Length(min=1))


class HttpJsonOptions(Schema):
    url = fields.Url(required=True, require_tld=False)
    method = fields.String(load_default="GET", validate=validate.OneOf(["GET", "POST"]))
    headers = fields.Dict(
        keys=fields.String(), values=fields.String(), load_default=dict, metadata={"secret": True}
    )
    params = fields.Dict(keys=fields.String(), values=fields.Raw(), load_default=dict)
    records = fields.String(load_default="")
    field_paths = fields.Dict(
        data_key="fields",
        keys=fields.String(validate=validate.Length(min=1)),
        values=fields.String(validate=validate.Length(min=1)),
        load_default=None,
        allow_none=True,
    )
    id = fields.String(required=True, validate=validate.Length(min=1))
    time = fields.String(load_default=None, allow_none=True)
    incremental = fields.Nested(IncrementalOptions, load_default=None, allow_none=True)
    next = fields.String(load_default=None, allow_none=True)
    max_pages = fields.Integer(load_default=1000, validate=validate.Range(min=1))
    max_response_bytes = fields.Integer(
        load_default=MAX_RESPONSE_BYTES, validate=validate.Range(min=1024)
    )
    stream = fields.String(
        load_default="http_json",
        validate=validate.Regexp(STREAM, error="A stream is 1-32 lowercase letters, digits or _."),
    )

    @validates("params")
    def check_params(self, params: dict[str, Any], **_: Any) -> None:
        for name, value in params.items():
            if not isinstance(value, (str, int, float, bool)):
                raise ValidationError(f"{name}: a parameter is a string, number or boolean.")

    @validates("field_paths")
    def check_fields(self, paths: dict[str, str] | None, **_: Any) -> None:
        for name in paths or {}:
            if name in ENVELOPE or name.startswith("_"):
                raise ValidationError(f"{name}: the envelope's or Elasticsearch's own field name.")


# --- pure parts -----------------------------------------------------------------------------


def lookup(node: Any, path: str) -> Any:
    """The value at a dotted path (``data.items``, ``items.0.id``); None when it is missing.
    The empty path is the node itself."""
    if not path:
        return node
    for key in path.split("."):
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return None
    return node


def parse_time(value: Any) -> datetime | None:
    """ISO 8601, or epoch seconds / milliseconds (told apart by size); None when neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and NUMBER.match(value.strip()):
        value = float(value)
    if isinstance(value, (int, float)):
        seconds = value / 1000 if abs(value) >= EPOCH_MILLIS_FROM else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def micros(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (no float rounding)."""
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def order_key(value: Any) -> tuple[int, float, str]:
    """How incremental values compare: as times when they are, else as text."""
    moment = parse_time(value)
    if moment is not None:
        return (1, float(micros(moment)), "")
    return (0, 0.0, str(value))


def highest(values: Sequence[Any], current: Any = None) -> Any:
    candidates = [value for value in (current, *values) if value is not None]
    return max(candidates, key=order_key) if candidates else None


def param_text(value: Any) -> str:
    """An incremental value as a query parameter: strings as they are, numbers as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def stored_fields(record: dict[str, Any], paths: Mapping[str, str] | None) -> dict[str, Any]:
    """The document's fields: the picked paths, or the record with reserved keys renamed."""
    if paths is not None:
        picked = {name: lookup(record, path) for name, path in paths.items()}
        return {name: value for name, value in picked.items() if value is not None}
    return {
        (f"record_{key}" if key in ENVELOPE or key.startswith("_") else key): value
        for key, value in record.items()
    }


@dataclass(frozen=True)
class RecordRules:
    """How records become documents (from the options)."""

    id: str
    time: str | None = None
    version_field: str | None = None  # incremental.field
    paths: Mapping[str, str] | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> RecordRules:
        incremental = options.get("incremental")
        return cls(
            id=options["id"],
            time=options.get("time"),
            version_field=incremental["field"] if incremental else None,
            paths=options.get("field_paths"),
        )


def record_document(record: Any, rules: RecordRules, read_at: datetime) -> Document:
    """One record as a document; SourceError naming what is wrong with a malformed record."""
    if not isinstance(record, dict):
        raise SourceError(f"a record is not a JSON object: {str(record)[:200]}")
    key = lookup(record, rules.id)
    if isinstance(key, bool) or not isinstance(key, (str, int)) or key == "":
        raise SourceError(f"a record without a usable id at {rules.id!r}: {str(record)[:200]}")
    timestamp = read_at
    if rules.time:
        moment = parse_time(lookup(record, rules.time))
        if moment is None:
            raise SourceError(
                f"record {key}: {rules.time!r} is not a time: {lookup(record, rules.time)!r}"
            )
        timestamp = moment
    version = None
    if rules.version_field:
        changed = parse_time(lookup(record, rules.version_field))
        version = max(0, micros(changed)) if changed is not None else None
    return Document(
        key=str(key),
        timestamp=timestamp,
        fields=stored_fields(record, rules.paths),
        version=version,
    )


def records_of(answer: Any, path: str) -> list[Any]:
    found = lookup(answer, path)
    if not isinstance(found, list):
        where = f"at {path!r}" if path else "(the whole answer)"
        raise SourceError(f"expected a list of records {where}, found {type(found).__name__}")
    return found


def next_url(answer: Any, path: str | None, current: str) -> str | None:
    if not path:
        return None
    found = lookup(answer, path)
    if found in (None, ""):
        return None
    if not isinstance(found, str):
        raise SourceError(f"the next page {path!r} is not a URL: {found!r}")
    return urljoin(current, found)


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port (the scheme's default when not given), as browsers compare them."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: matches nothing
        port = -1
    return scheme, (parts.hostname or "").lower(), port or DEFAULT_PORTS.get(scheme)


def check_same_origin(following: str, configured: str) -> None:
    """The source's headers go with every request: never follow a next URL elsewhere."""
    if origin(following) != origin(configured):
        scheme, host, port = origin(configured)
        raise SourceError(
            f"the next page {following} is not on {scheme}://{host}:{port}, the origin of the "
            "configured url; not followed (the source's headers would be sent there)"
        )


def in_window(moment: datetime, first: date, last: date) -> bool:
    return first <= moment.astimezone(UTC).date() <= last


# --- the source -----------------------------------------------------------------------------


class HttpJsonSource(Source):
    type_name = "http_json"
    stream = "http_json"  # the default; each instance's own is its `stream` option
    options_schema = HttpJsonOptions
    natural_key = "the record's id (option `id`)"
    description = "Records listed by a JSON API, paged and optionally incremental"

    def __init__(self, name: str, site: str, options: Mapping[str, Any]) -> None:
        super().__init__(name, site, options)
        # Each instance names its own stream (the run loop and the CLI read `source.stream`).
        self.stream = str(options.get("stream") or type(self).stream)
        self.rules = RecordRules.from_options(options)

    def http_headers(self) -> dict[str, str]:
        return dict(self.options["headers"])

    def fetch(self, context: FetchContext) -> Iterator[Page]:
        incremental = self.options.get("incremental")
        window = context.backfill
        seen = context.cursor.get("since") if incremental else None
        since = seen if window is None else None  # a back-fill reads the whole list
        for number, (records, last) in enumerate(self._pages(context, since), start=1):
            documents = [record_document(record, self.rules, context.now) for record in records]
            if window is not None:
                if self.rules.time:
                    documents = [
                        document
                        for document in documents
                        if in_window(document.timestamp, window.first, window.last)
                    ]
                yield Page(documents, context.cursor, progress=f"page {number} (back-fill)")
                continue
            if incremental:
                seen = highest([lookup(record, incremental["field"]) for record in records], seen)
            moved = incremental is not None and last and seen is not None
            cursor: Cursor = {"since": seen} if moved else dict(context.cursor)
            yield Page(documents, cursor, progress=f"page {number}: {len(records)} records")

    def _pages(self, context: FetchContext, since: Any) -> Iterator[tuple[list[Any], bool]]:
        """Each page's records, and whether it is the last page."""
        query: dict[str, Any] = dict(self.options["params"])
        incremental = self.options.get("incremental")
        if incremental and since is not None:
            query[incremental["param"]] = since
        url: str | None = self.options["url"]
        visited: list[str] = []
        while url is not None:
            if len(visited) >= self.options["max_pages"] or url in visited:
                raise SourceError(f"the pages do not end (page {len(visited) + 1}: {url})")
            answer = self._answer(context, url, query, first=not visited)
            visited.append(url)
            records = records_of(answer, self.options["records"])
            url = next_url(answer, self.options.get("next"), url)
            if url is not None:
                check_same_origin(url, self.options["url"])
            yield records, url is None

    def _answer(self, context: FetchContext, url: str, query: dict[str, Any], first: bool) -> Any:
        """GET with the query as parameters (a next URL carries its own), or POST it as the
        JSON body of every page."""
        # the body is read within max_response_bytes; no redirect carries the source's
        # headers to another origin
        limit = self.options["max_response_bytes"]
        sending: dict[str, Any] = {"max_bytes": limit, "allow_redirects": False}
        if self.options["method"] == "POST":
            response = context.http.post(url, json=query, **sending)
        else:
            params = {name: param_text(value) for name, value in query.items()} if first else None
            response = context.http.get(url, params=params, **sending)
        body = response.content
        try:
            return json.loads(body)
        except ValueError:
            excerpt = body[:200].decode("utf-8", "replace")
            raise SourceError(f"the answer from {url} is not JSON: {excerpt!r}") from None
