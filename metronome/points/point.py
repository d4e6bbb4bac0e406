"""One metric point: validation, its deterministic id and its document. Pure functions.

A point is ``{"metric": "orders", "value": 3.5, "time": "2026-12-07T10:00:00Z",
"dimensions": {"region": "eu"}, "unit": "EUR"}``; only ``metric`` and ``value`` are required
(``time`` defaults to when it was received). Its identity is the site, the metric, the
dimensions and the time to the millisecond: the same point sent again gets the same id, and
is stored once (the first one stored stays; see ``point_id``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from metronome.errors import error_object
from metronome.hits.eventtime import MESSAGES, EventTimeError, parse_event_time
from metronome.spool.entry import Entry

STREAM = "metrics"
# Prometheus metric names fit (letters, digits, _ and :), and dotted names (orders.paid).
METRIC_PATTERN = r"[A-Za-z_:][A-Za-z0-9_.:-]{0,199}"
# Prometheus label names fit; no dot, so dimensions.<name> is one field, never an object.
DIMENSION_PATTERN = r"[A-Za-z_][A-Za-z0-9_]{0,63}"
METRIC_NAME = re.compile(METRIC_PATTERN)
DIMENSION_NAME = re.compile(DIMENSION_PATTERN)
MAX_METRIC_CHARS = 200
MAX_DIMENSION_CHARS = 64
MAX_DIMENSIONS = 32
MAX_DIMENSION_VALUE_CHARS = 1024  # the keyword mapping's ignore_above: longer would not group
MAX_UNIT_CHARS = 32
MAX_FUTURE = timedelta(days=1)
FIELDS = ("metric", "value", "time", "dimensions", "unit")


@dataclass(frozen=True)
class Point:
    metric: str
    value: float
    time: datetime  # aware, UTC, whole milliseconds
    dimensions: tuple[tuple[str, str], ...] = ()  # sorted by name
    unit: str | None = None


class PointError(ValueError):
    """Why a point is refused: an error object's code, message and field."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def error(self) -> dict[str, str]:
        return error_object(self.code, self.message, self.field)


def load_points(raws: Sequence[Any], now: datetime) -> tuple[list[Point], list[dict[str, Any]]]:
    """The valid points of a batch, and the others as ``{"index", "error"}`` by position. A
    point with the same metric, dimensions and time as an earlier one of the batch is refused
    (``duplicate_point``): only one of them could be stored."""
    points: list[Point] = []
    rejected: list[dict[str, Any]] = []
    first_of: dict[tuple[str, tuple[tuple[str, str], ...], datetime], int] = {}
    for index, raw in enumerate(raws):
        try:
            point = load_point(raw, now)
        except PointError as error:
            rejected.append({"index": index, "error": error.error()})
            continue
        key = (point.metric, point.dimensions, point.time)
        if key in first_of:
            message = f"Point {first_of[key]} has the same metric, dimensions and time."
            rejected.append(
                {"index": index, "error": error_object("duplicate_point", message, "time")}
            )
            continue
        first_of[key] = index
        points.append(point)
    return points, rejected


def load_point(raw: Any, now: datetime) -> Point:
    """A valid point, or ``PointError`` naming the first field at fault."""
    if not isinstance(raw, dict):
        raise PointError("invalid_point", f"A point is a JSON object, not {_json_type(raw)}.")
    unknown = sorted(str(name) for name in raw if name not in FIELDS)
    if unknown:
        message = f"Unknown field {unknown[0][:64]!r}; a point has {', '.join(FIELDS)}."
        raise PointError("invalid_point", message, unknown[0][:64])
    for name in ("time", "dimensions", "unit"):
        if name in raw and raw[name] is None:  # left out, it has its default; null is no value
            message = f"{name} may be left out, but not null."
            raise PointError("invalid_point", message, name)
    return Point(
        metric=metric_name(raw.get("metric")),
        value=point_value(raw.get("value")),
        time=point_time(raw.get("time"), now),
        dimensions=dimensions(raw.get("dimensions")),
        unit=_unit(raw.get("unit")),
    )


def metric_name(value: Any) -> str:
    if value is None:
        raise PointError("invalid_point", "metric is required.", "metric")
    if not isinstance(value, str) or not METRIC_NAME.fullmatch(value):
        raise PointError(
            "invalid_point",
            f"metric is 1 to {MAX_METRIC_CHARS} letters, digits, _ . : - starting with a "
            "letter, _ or :.",
            "metric",
        )
    return value


def point_value(value: Any) -> float:
    if value is None:
        raise PointError("invalid_point", "value is required.", "value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        message = f"value is a number, not {_json_type(value)}."
        raise PointError("invalid_point", message, "value")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise PointError("invalid_point", "value must be a finite number.", "value")
    return number


def point_time(value: Any, now: datetime) -> datetime:
    """The point's time in UTC, to the millisecond; ``now`` when none is given."""
    if value is None:
        moment = now.astimezone(UTC)
    else:
        try:
            moment = parse_event_time(value)
        except EventTimeError as error:
            raise PointError("invalid_point", f"time: {MESSAGES[error.kind]}", "time") from None
        if moment - now > MAX_FUTURE:
            message = "time: more than a day ahead of the server clock."
            raise PointError("invalid_point", message, "time")
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def dimensions(value: Any) -> tuple[tuple[str, str], ...]:
    """The dimensions sorted by name; text values, whole numbers and booleans as text."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        message = f"dimensions is an object of names to values, not {_json_type(value)}."
        raise PointError("invalid_point", message, "dimensions")
    if len(value) > MAX_DIMENSIONS:
        message = f"A point has at most {MAX_DIMENSIONS} dimensions, this one {len(value)}."
        raise PointError("invalid_point", message, "dimensions")
    pairs = []
    for name, raw in value.items():
        if not DIMENSION_NAME.fullmatch(name):
            message = (
                f"Dimension {name[:64]!r}: a name is 1 to {MAX_DIMENSION_CHARS} letters, digits "
                "or _, starting with a letter or _."
            )
            raise PointError("invalid_point", message, "dimensions")
        pairs.append((name, _dimension_value(name, raw)))
    return tuple(sorted(pairs))


def _dimension_value(name: str, raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # 200.0 is the whole number 200 (as JSON Schema reads it)
    if isinstance(raw, int):
        text = str(raw)  # the body's parser allows at most 4,000 digits
    elif isinstance(raw, str):
        text = raw
    else:
        message = f"Dimension {name!r} is text, a whole number or a boolean, not {_json_type(raw)}."
        raise PointError("invalid_point", message, f"dimensions.{name}")
    if not 1 <= len(text) <= MAX_DIMENSION_VALUE_CHARS:
        message = f"Dimension {name!r} holds 1 to {MAX_DIMENSION_VALUE_CHARS} characters."
        raise PointError("invalid_point", message, f"dimensions.{name}")
    return text


def _unit(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_UNIT_CHARS:
        message = f"unit is text of 1 to {MAX_UNIT_CHARS} characters."
        raise PointError("invalid_point", message, "unit")
    return value


def point_id(site: str, point: Point) -> str:
    """The Elasticsearch ``_id``: a hash of the site, metric, dimensions and time (ms).

    Two points with the same four share it: the spool stores a document once per id (the
    first stored stays), so a retried request adds nothing, and a point sent again with
    another value does not replace the stored one."""
    millis = round(point.time.timestamp() * 1000)
    key = json.dumps([site, point.metric, [list(pair) for pair in point.dimensions], millis])
    return hashlib.sha256(key.encode()).hexdigest()[:40]


def point_fields(point: Point) -> dict[str, Any]:
    """The point's own fields of its document (the envelope is the caller's)."""
    fields: dict[str, Any] = {
        "metric": point.metric,
        "value": point.value,
        "dimensions": dict(point.dimensions),
    }
    if point.unit is not None:
        fields["unit"] = point.unit
    return fields


def point_document(site: str, point: Point, received_at: datetime) -> dict[str, Any]:
    """The Logstash-style document of the ``metrics`` stream."""
    return {
        "@timestamp": iso_millis(point.time),
        "@version": "1",
        "type": STREAM,
        "site": site,
        **point_fields(point),
        "received_at": iso_millis(received_at),
    }


def point_entries(site: str, points: Sequence[Point], received_at: datetime) -> list[Entry]:
    """The spool entries of a batch of points."""
    return [
        Entry(STREAM, point_id(site, point), point_document(site, point, received_at))
        for point in points
    ]


def iso_millis(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
