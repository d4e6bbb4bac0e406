"""The runReport answer, read strictly: headers, rows (all values are strings), the row count,
metadata and the property's quota; and Google's error bodies turned into one readable line."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from metronome.sources.base import SourceError

INTEGER_TYPES = frozenset({"TYPE_INTEGER"})
Metric = int | float | None


class BadReport(SourceError):
    """The Data API answered something that is not a runReport response."""


@dataclass(frozen=True)
class MetricHeader:
    name: str
    type: str  # TYPE_INTEGER, TYPE_FLOAT, TYPE_SECONDS, TYPE_CURRENCY, ...


@dataclass(frozen=True)
class Row:
    dimensions: tuple[str, ...]
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class Quota:
    """``propertyQuota``: tokens left today and this hour (None when not reported)."""

    day_remaining: int | None
    hour_remaining: int | None

    def describe(self) -> str:
        parts = []
        if self.day_remaining is not None:
            parts.append(f"{self.day_remaining:,} tokens left today")
        if self.hour_remaining is not None:
            parts.append(f"{self.hour_remaining:,} this hour")
        return ", ".join(parts)


@dataclass(frozen=True)
class Report:
    dimension_names: tuple[str, ...]
    metric_headers: tuple[MetricHeader, ...]
    rows: tuple[Row, ...]
    row_count: int  # all rows of the query, whatever limit and offset were
    time_zone: str | None
    currency_code: str | None
    quota: Quota | None


def parse_report(payload: Any) -> Report:
    if not isinstance(payload, dict):
        raise BadReport("the runReport answer is not a JSON object")
    kind = payload.get("kind", "analyticsData#runReport")
    if kind != "analyticsData#runReport":
        raise BadReport(f"the answer is a {kind!r}, not a runReport response")
    dimension_names = tuple(
        _string(header, "name", "dimensionHeaders[]")
        for header in _objects(payload, "dimensionHeaders")
    )
    metric_headers = tuple(
        MetricHeader(
            _string(header, "name", "metricHeaders[]"),
            str(header.get("type") or "METRIC_TYPE_UNSPECIFIED"),
        )
        for header in _objects(payload, "metricHeaders")
    )
    rows = tuple(
        _row(raw, len(dimension_names), len(metric_headers)) for raw in _objects(payload, "rows")
    )
    row_count = payload.get("rowCount", 0)  # omitted when zero, as proto3 JSON does
    if isinstance(row_count, str) and row_count.isdigit():
        row_count = int(row_count)
    if isinstance(row_count, bool) or not isinstance(row_count, int) or row_count < 0:
        raise BadReport(f"rowCount is not a count: {row_count!r}")
    metadata = payload.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise BadReport("metadata is not an object")
    return Report(
        dimension_names=dimension_names,
        metric_headers=metric_headers,
        rows=rows,
        row_count=max(row_count, len(rows)),
        time_zone=_optional_string(metadata.get("timeZone")),
        currency_code=_optional_string(metadata.get("currencyCode")),
        quota=parse_quota(payload.get("propertyQuota")),
    )


def _objects(payload: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = payload.get(name) or []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise BadReport(f"{name} is not a list of objects")
    return value


def _string(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise BadReport(f"{where} lacks a string {key!r}")
    return value


def _optional_string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _row(raw: dict[str, Any], dimensions: int, metrics: int) -> Row:
    row = Row(
        dimensions=tuple(_values(raw, "dimensionValues")),
        metrics=tuple(_values(raw, "metricValues")),
    )
    if len(row.dimensions) != dimensions or len(row.metrics) != metrics:
        raise BadReport(
            f"a row has {len(row.dimensions)} dimension and {len(row.metrics)} metric values "
            f"for {dimensions} and {metrics} headers"
        )
    return row


def _values(raw: dict[str, Any], name: str) -> list[str]:
    values = raw.get(name) or []
    if not isinstance(values, list):
        raise BadReport(f"a row's {name} is not a list")
    out = []
    for value in values:
        text = value.get("value", "") if isinstance(value, dict) else None
        if not isinstance(text, str):
            raise BadReport(f"a row's {name} holds a value that is not a string")
        out.append(text)
    return out


def parse_quota(raw: Any) -> Quota | None:
    if not isinstance(raw, dict):
        return None
    return Quota(_remaining(raw.get("tokensPerDay")), _remaining(raw.get("tokensPerHour")))


def _remaining(status: Any) -> int | None:
    value = status.get("remaining", 0) if isinstance(status, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def typed_metric(value: str, metric_type: str, name: str = "metric") -> Metric:
    """A metric value from its string: TYPE_INTEGER is an int, every other type (float,
    seconds, milliseconds, currency, lengths, custom standard) a float. NaN and infinities,
    which JSON cannot carry, become None."""
    try:
        if metric_type in INTEGER_TYPES:
            try:
                return int(value)
            except ValueError:
                number = float(value)
                if number.is_integer():
                    return int(number)
                raise
        number = float(value)
    except ValueError:
        raise BadReport(f"{name} is {metric_type} but its value is {value!r}") from None
    return number if math.isfinite(number) else None


def parse_report_date(value: str) -> date | None:
    """``20240501`` -> 2024-05-01; None for anything else (``(other)``)."""
    if len(value) != 8 or not value.isdigit():
        return None
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        return None


def google_error(text: str) -> str:
    """One line from Google's error body ``{"error": {"code", "message", "status"}}`` (or the
    token endpoint's ``{"error", "error_description"}``); the text itself when it is neither."""
    try:
        payload = json.loads(text)
    except ValueError:
        return text.strip()[:300] or "no details"
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        status = error.get("status") or error.get("code") or "ERROR"
        message = str(error.get("message") or "no message").strip()
        return f"{status}: {message}"
    if isinstance(error, str):
        return f"{error}: {payload.get('error_description') or 'no description'}"
    return text.strip()[:300] or "no details"


def google_status(text: str) -> str | None:
    """The ``status`` of Google's error body (``PERMISSION_DENIED``), if it has one."""
    try:
        payload = json.loads(text)
    except ValueError:
        return None
    error = payload.get("error") if isinstance(payload, dict) else None
    status = error.get("status") if isinstance(error, dict) else None
    return status if isinstance(status, str) else None


def report_request(
    dimensions: list[str], metrics: list[str], day: date, limit: int, offset: int
) -> dict[str, Any]:
    """The runReport body for one day's rows ``offset .. offset + limit``. Ordering by every
    dimension keeps the rows in the same order from one page request to the next."""
    return {
        "dateRanges": [{"startDate": day.isoformat(), "endDate": day.isoformat()}],
        "dimensions": [{"name": name} for name in dimensions],
        "metrics": [{"name": name} for name in metrics],
        "orderBys": [{"dimension": {"dimensionName": name}} for name in dimensions],
        "limit": str(limit),  # int64 fields are strings in Google's JSON
        "offset": str(offset),
        "returnPropertyQuota": True,
    }
