"""S3 server access logs: every request to a bucket, read from the log objects S3 delivers.

A run lists the log objects under ``prefix`` in the log bucket (both key layouts, see
``keys``) from the first day still watched, skips those already read, and reads the rest
oldest day first: one page per log object (big ones are cut every ``page_lines`` lines), one
document per line (``documents``). The cursor remembers, for the last ``lookback_days`` days of
logs, which objects were read, so a late delivery for one of those days is read exactly once
(``keys.ReadState``); a page of a cut object saves how many of its lines are stored.

A back-fill (``metronome sources backfill``) re-reads the objects whose key day falls in the
window, whatever the cursor says; the ids repeat, so only what was missed is added.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ingesters.s3_access_logs.bucket import (
    BucketSettings,
    LogBucket,
    ObjectGone,
    build_client,
    count_attempts,
)
from ingesters.s3_access_logs.documents import (
    DEFAULT_DOWNLOAD_OPERATIONS,
    RecordMapping,
    line_document,
)
from ingesters.s3_access_logs.keys import BadCursor, LogObject, ReadState
from metronome.enrich.geo import Geo
from metronome.sources.base import (
    Cursor,
    Document,
    FetchContext,
    Page,
    Source,
    SourceError,
    Window,
)

log = logging.getLogger(__name__)


class S3AccessLogsOptions(Schema):
    bucket = fields.String(required=True, validate=validate.Length(min=1))
    prefix = fields.String(load_default="")
    key_format = fields.String(
        load_default="simple", validate=validate.OneOf(["simple", "partitioned"])
    )
    endpoint_url = fields.Url(load_default=None, allow_none=True, require_tld=False)
    region = fields.String(load_default=None, allow_none=True)
    access_key_id = fields.String(load_default=None, allow_none=True, metadata={"secret": True})
    secret_access_key = fields.String(load_default=None, allow_none=True, metadata={"secret": True})
    path_style = fields.Boolean(load_default=False)
    lookback_days = fields.Integer(load_default=3, validate=validate.Range(min=0, max=366))
    download_operations = fields.List(
        fields.String(validate=validate.Length(min=1)),
        load_default=lambda: list(DEFAULT_DOWNLOAD_OPERATIONS),
    )
    ip_mode = fields.String(
        load_default="full", validate=validate.OneOf(["full", "truncate", "drop"])
    )
    download_id = fields.String(load_default="stem", validate=validate.OneOf(["stem", "key"]))
    page_lines = fields.Integer(load_default=5000, validate=validate.Range(min=1))
    list_page_size = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=1000))

    @validates_schema
    def _keys_come_in_pairs(self, data: Mapping[str, Any], **_: Any) -> None:
        if bool(data.get("access_key_id")) != bool(data.get("secret_access_key")):
            raise ValidationError(
                "set both access_key_id and secret_access_key, or neither (then the standard "
                "AWS credential chain is used)",
                field_name="access_key_id",
            )


@dataclass(frozen=True)
class Chunk:
    """Documents of consecutive lines of one object; ``last_line`` is the last line read."""

    documents: list[Document]
    last_line: int
    finished: bool  # the object is read to its end
    gone: bool = False  # ...or it was deleted before it could be


class S3AccessLogsSource(Source):
    type_name = "s3_access_logs"
    stream = "s3"
    options_schema = S3AccessLogsOptions
    natural_key = "log object key + line number"
    description = "S3 server access logs: one document per request, downloads counted like hits"
    default_interval = 3600.0

    def fetch(self, context: FetchContext) -> Iterator[Page]:
        settings = self._bucket_settings()
        client = build_client(settings, context.http.policy)
        count_attempts(client, context.http)
        bucket = LogBucket(client, settings)
        mapping = self._mapping(context.geo)
        if context.backfill is not None:
            yield from self._backfill(bucket, context.backfill, context.cursor, mapping)
        else:
            yield from self._regular(bucket, context.cursor, mapping)

    def _regular(self, bucket: LogBucket, cursor: Cursor, mapping: RecordMapping) -> Iterator[Page]:
        """The objects not read yet, from the first day still watched."""
        try:
            state = ReadState.from_cursor(cursor, bucket.settings.prefix)
        except BadCursor as error:
            raise SourceError(
                f"the stored cursor of {self.name!r} is not usable: {error}"
            ) from None
        lookback = int(self.options["lookback_days"])
        for log_object in bucket.logs_since(state.since):
            if state.has_read(log_object):
                continue
            done = state.lines_done(log_object)
            for chunk in self._chunks(bucket, log_object, done, mapping):
                if chunk.finished:
                    state = state.with_read(log_object, lookback)
                else:
                    state = state.with_partial(log_object, chunk.last_line)
                yield Page(chunk.documents, state.to_cursor(), _progress(log_object, chunk))

    def _backfill(
        self, bucket: LogBucket, window: Window, cursor: Cursor, mapping: RecordMapping
    ) -> Iterator[Page]:
        """Every object whose key day is in the window, read or not; the cursor stays."""
        for log_object in bucket.logs_between(window.first, window.last):
            for chunk in self._chunks(bucket, log_object, 0, mapping):
                yield Page(chunk.documents, dict(cursor), _progress(log_object, chunk))

    def _chunks(
        self, bucket: LogBucket, log_object: LogObject, done: int, mapping: RecordMapping
    ) -> Iterator[Chunk]:
        """The object's documents after line ``done``, ``page_lines`` at a time."""
        page_lines = int(self.options["page_lines"])
        documents: list[Document] = []
        number, unparsed = done, 0
        try:
            for number, line in enumerate(bucket.lines(log_object.key), start=1):
                if number <= done or not line.strip():
                    continue
                if len(documents) == page_lines:
                    yield Chunk(documents, number - 1, finished=False)
                    documents = []
                document = line_document(log_object, number, line, mapping)
                unparsed += document.fields["kind"] == "unparsed"
                documents.append(document)
        except ObjectGone:
            log.warning("source %s: %s was deleted before it was read", self.name, log_object.key)
            yield Chunk(documents, max(number, done), finished=True, gone=True)
            return
        if unparsed:
            log.warning(
                "source %s: %d unparsable lines in %s (stored as kind=unparsed)",
                self.name,
                unparsed,
                log_object.key,
            )
        yield Chunk(documents, max(number, done), finished=True)

    def _bucket_settings(self) -> BucketSettings:
        """The bucket options (each setting of ``BucketSettings`` is an option of this source)."""
        names = [item.name for item in dataclasses.fields(BucketSettings)]
        return BucketSettings(**{name: self.options[name] for name in names})

    def _mapping(self, geo: Geo | None) -> RecordMapping:
        return RecordMapping(
            geo=geo,
            download_operations=frozenset(self.options["download_operations"]),
            ip_mode=self.options["ip_mode"],
            download_id=self.options["download_id"],
        )


def _progress(log_object: LogObject, chunk: Chunk) -> str:
    """``logs/2019-02-06-00-12-34-0A1B: 120 requests`` (+ unparsed lines, + where a cut is)."""
    requests = sum(1 for document in chunk.documents if document.fields.get("kind") == "request")
    unparsed = len(chunk.documents) - requests
    if chunk.gone:
        return f"{log_object.key}: deleted before it was read"
    text = f"{log_object.key}: {requests} requests"
    if unparsed:
        text += f", {unparsed} unparsed lines"
    if not chunk.finished:
        text += f" (to line {chunk.last_line}, continued)"
    return text
