"""The answers' JSON, from Elasticsearch's responses: this module alone shapes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from metronome.compat.allezon.model import MINUTE, AggregatesQuery, millis
from metronome.compat.allezon.profiles import Tags


def profile_result(cookie: str, tags: Tags) -> dict[str, Any]:
    """``{"cookie", "views", "buys"}``: each tag exactly as it was received, newest first."""
    return {"cookie": cookie, "views": tags["VIEW"], "buys": tags["BUY"]}


def aggregates_result(query: AggregatesQuery, response: dict[str, Any]) -> dict[str, Any]:
    """One row per minute of ``[start, end)``, empty minutes included; every value a string."""
    buckets = response.get("aggregations", {}).get("minutes", {}).get("buckets", [])
    found = {int(bucket["key"]): bucket for bucket in buckets}
    filter_values = [value for _, value in query.filters]
    rows: list[list[str]] = []
    for minute in minutes(query.start, query.end):
        bucket = found.get(millis(minute), {})
        row = [format_minute(minute), query.action, *filter_values]
        for name in query.aggregates:
            if name == "COUNT":
                row.append(str(int(bucket.get("doc_count", 0))))
            else:
                row.append(format_sum(bucket.get("sum_price", {}).get("value")))
        rows.append(row)
    return {"columns": query.columns, "rows": rows}


def minutes(start: datetime, end: datetime) -> list[datetime]:
    result: list[datetime] = []
    moment = start
    while moment < end:
        result.append(moment)
        moment += MINUTE
    return result


def format_minute(minute: datetime) -> str:
    """``2022-03-01T00:05:00``: UTC, seconds, no zone (strftime would drop a year's zeros)."""
    return minute.replace(tzinfo=None).isoformat(timespec="seconds")


def format_sum(value: float | None) -> str:
    """A sum as a decimal string: ``1234`` (integers, exact below 2^53), else as computed."""
    if value is None:
        return "0"
    return str(int(value)) if float(value).is_integer() else repr(float(value))
