"""One document per report row: the dimensions and the typed metrics as fields."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from typing import Any

from ingesters.ga4.options import DATE
from ingesters.ga4.report import BadReport, Report, Row, parse_report_date, typed_metric
from metronome.sources.base import Document

KIND = "row"
# Fields the document or its envelope already uses: a GA4 dimension or metric of the same
# name (GA4 has a `source` dimension) is stored as `ga_<name>` instead.
RESERVED = frozenset(
    {
        "@timestamp",
        "@version",
        "type",
        "site",
        "source",
        "source_type",
        "received_at",
        "kind",
        "property_id",
        "time_zone",
        "currency_code",
    }
)


def field_name(api_name: str) -> str:
    return f"ga_{api_name}" if api_name in RESERVED else api_name


def row_day(report: Report, row: Row, requested: date) -> date:
    """The row's ``date`` (YYYYMMDD). A row outside the requested day is a bad answer; a row
    whose date is not a date (``(other)``) belongs to the requested day."""
    try:
        position = report.dimension_names.index(DATE)
    except ValueError:
        raise BadReport("the report has no `date` dimension") from None
    day = parse_report_date(row.dimensions[position])
    if day is not None and day != requested:
        raise BadReport(f"a row of {day} came back for a request of {requested}")
    return requested


def natural_key(property_id: str, day: date, report: Report, row: Row) -> str:
    """Property + day + every other dimension's value, by dimension name (so reordering the
    configured dimensions keeps the keys)."""
    others = sorted(
        (name, value)
        for name, value in zip(report.dimension_names, row.dimensions, strict=True)
        if name != DATE
    )
    return json.dumps([property_id, day.isoformat(), others], ensure_ascii=False)


def row_fields(property_id: str, day: date, report: Report, row: Row) -> dict[str, Any]:
    fields: dict[str, Any] = {"kind": KIND, "property_id": property_id}
    for name, value in zip(report.dimension_names, row.dimensions, strict=True):
        fields[field_name(name)] = day.isoformat() if name == DATE else value
    for header, value in zip(report.metric_headers, row.metrics, strict=True):
        fields[field_name(header.name)] = typed_metric(value, header.type, header.name)
    if report.time_zone:
        fields["time_zone"] = report.time_zone
    if report.currency_code:
        fields["currency_code"] = report.currency_code
    return fields


def row_document(
    property_id: str, requested: date, report: Report, row: Row, version: int
) -> Document:
    day = row_day(report, row, requested)
    return Document(
        key=natural_key(property_id, day, report, row),
        timestamp=datetime.combine(day, time(), UTC),
        fields=row_fields(property_id, day, report, row),
        version=version,
    )
