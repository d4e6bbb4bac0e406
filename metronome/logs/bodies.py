"""The bodies log shippers POST to ``/ingest/logs`` (docs/api.md section 3.4).

Fluentd ``out_http``: NDJSON (``application/x-ndjson``, its default ``json`` format) or a JSON
array (``json_array true``, ``application/json``). Fluent Bit ``http``: a JSON array
(``json``), NDJSON (``json_lines``, sent as ``application/x-ndjson`` or, by older builds,
``application/json``). Either may gzip the body. Each record may carry its time under
``date`` (Fluent Bit: epoch seconds as a double, epoch, epoch_ms, ISO 8601) or ``time`` /
``@timestamp`` / ``timestamp`` (Fluentd's ``<inject>``). A number there is read by the epoch
rule of every ingest time (``metronome.hits.eventtime``): a record whose time is a number that
rule refuses is rejected, naming its key, rather than stored at a guessed time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from werkzeug.http import parse_options_header

from metronome.errors import ApiError, error_object
from metronome.hits.bodies import UndecodableLine, decompress, loads_json, ndjson_values
from metronome.hits.budget import BodyBudget, check_json_values, check_lines, parsing_slot
from metronome.hits.eventtime import MESSAGES, EventTimeError, epoch_time
from metronome.logs.events import LogEvent

JSON_TYPES = frozenset({"application/json", "text/plain"})
NDJSON_TYPES = frozenset(
    {"application/x-ndjson", "application/jsonlines", "application/json-lines"}
)
TIME_KEYS = ("date", "time", "@timestamp", "timestamp")


@dataclass(frozen=True)
class BadRecord:
    """An item of the body that is not a record; it is rejected by its index."""

    message: str


def decode_log_body(
    content_type: str | None, data: bytes, content_encoding: str | None, budget: BodyBudget
) -> list[dict[str, Any] | BadRecord]:
    """The records of a body, refused whole (``ApiError``) when it is malformed or holds more
    than ``budget``: checked on the bytes, before any object is built."""
    media_type = _media_type(content_type)
    data = decompress(content_encoding, data, budget)
    check_json_values(budget, data)
    with parsing_slot(budget, len(data)):
        values = _values(media_type, data, budget)
    if len(values) > budget.max_items:
        raise ApiError(
            413,
            "batch_too_large",
            f"A body may hold at most {budget.max_items} log records, this one has {len(values)}.",
        )
    return [_record(value) for value in values]


def _values(media_type: str, data: bytes, budget: BodyBudget) -> list[Any]:
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_encoding", "The body is not valid UTF-8.") from None
    if not text.strip():
        raise ApiError(400, "empty_body", "The request body is empty; send log records.")
    if media_type in NDJSON_TYPES:
        check_lines(budget, data)
        return ndjson_values(text)
    try:
        whole = loads_json(text)
    except ValueError:
        check_lines(budget, data)
        values = ndjson_values(text)  # json_lines from Fluent Bit builds that say json
        if len(values) == 1 and isinstance(values[0], UndecodableLine):
            raise ApiError(400, "malformed_json", "The body is not valid JSON.") from None
        return values
    return whole if isinstance(whole, list) else [whole]


def _record(value: Any) -> dict[str, Any] | BadRecord:
    if isinstance(value, UndecodableLine):
        return BadRecord(value.message)
    if not isinstance(value, dict):
        return BadRecord(f"A log record is a JSON object, not {type(value).__name__}.")
    return value


class UnreadableTime(ValueError):
    """A record's time is a number the epoch rule refuses; ``key`` is where it is."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def log_events(
    records: list[dict[str, Any] | BadRecord], tag: str, received_at: datetime, key_prefix: str
) -> tuple[list[LogEvent], list[dict[str, Any]]]:
    """The events of a decoded body, and the rejections listed by index. The event time is the
    record's own (its time key is then dropped from the record), else the receive time."""
    events: list[LogEvent] = []
    rejected: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        if isinstance(record, BadRecord):
            error = error_object("invalid_record", record.message)
            rejected.append({"index": index, "error": error})
            continue
        try:
            moment, time_key = record_time(record)
        except UnreadableTime as error:
            message = f"{error.key}: {MESSAGES['epoch']}"
            rejected.append(
                {"index": index, "error": error_object("ambiguous_time", message, error.key)}
            )
            continue
        fields = {name: value for name, value in record.items() if name != time_key}
        events.append(
            LogEvent(
                tag=tag,
                time=moment or received_at,
                record=fields,
                input="http",
                key=f"{key_prefix}:{index}",
            )
        )
    return events, rejected


def record_time(record: dict[str, Any]) -> tuple[datetime | None, str | None]:
    """The record's own time and the key it was under, or (None, None); ``UnreadableTime``
    when it is a number the epoch rule refuses."""
    for key in TIME_KEYS:
        if key in record:
            try:
                moment = parse_time(record[key])
            except EventTimeError:
                raise UnreadableTime(key) from None
            if moment is not None:
                return moment, key
    return None, None


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 text or an epoch number (``EventTimeError`` when the epoch rule refuses
    it); ``None`` for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return epoch_time(value)
        except EventTimeError as error:
            if error.kind == "epoch":
                raise
            return None
    if isinstance(value, str) and 0 < len(value) <= 64:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def _media_type(content_type: str | None) -> str:
    media_type = parse_options_header(content_type or "")[0].lower()
    if media_type not in JSON_TYPES | NDJSON_TYPES:
        raise ApiError(
            415,
            "unsupported_media_type",
            "Send log records as application/json (an object or an array), "
            f"application/x-ndjson or text/plain JSON, not {media_type or 'no type'}.",
        )
    return media_type
