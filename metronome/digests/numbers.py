"""Numbers and labels in a digest as the app writes them (clients/app/src/format.ts): thousands
separators, at most two decimals, bytes and durations in their units, changes as "+12.5%".
Pure; a unit test holds them to the app's own examples."""

from __future__ import annotations

import math
from typing import Any

NONE = "\u2013"  # what the app shows for a missing number
MINUS = "\u2212"
BYTE_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")
METRIC_NAMES = {"count": "Count", "visitors": "Visitors", "sessions": "Sessions"}
AGGREGATES = {
    "sum": "Sum", "avg": "Average", "min": "Min", "max": "Max",
    "p50": "Median", "p95": "p95", "p99": "p99",
}  # fmt: skip
FIELD_NAMES = {
    "http.bytes": "Bytes",
    "http.status": "Status",
    "http.method": "Method",
    "push.commits": "Commits",
    "url.path": "Page",
    "referrer.host": "Referrer",
    "referrer.path": "Referrer path",
    "user_agent.name": "Browser",
    "user_agent.os.name": "Operating system",
    "user_agent.os": "Operating system",
    "user_agent.device.type": "Device",
    "geo.country_name": "Country",
    "geo.country": "Country",
    "event": "Event",
    "format": "Format",
    "bot": "Bot",
    "id": "Item",
}


def _round_half_up(value: float, digits: int) -> float:
    """Intl.NumberFormat rounds halves away from zero; Python's round() to even."""
    scale = 10**digits
    return math.copysign(math.floor(abs(value) * scale + 0.5) / scale, value)


def _grouped(value: float, digits: int) -> str:
    """``value`` with thousands separators and at most ``digits`` decimals (en-US)."""
    rounded = _round_half_up(value, digits)
    text = f"{rounded:,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)


def format_number(value: Any, unit: str | None = None) -> str:
    """1234567 -> "1,234,567"; 0.5 -> "0.5"; None -> an en dash; bytes and ms in their units."""
    if not is_number(value):
        return NONE
    if unit == "bytes":
        return format_bytes(value)
    if unit == "ms":
        return format_duration(value)
    text = _grouped(value, 2)
    return f"{text}%" if unit == "%" else f"{text} {unit}" if unit else text


def format_bytes(value: float) -> str:
    scaled, index = abs(value), 0
    while scaled >= 1000 and index < len(BYTE_UNITS) - 1:
        scaled /= 1000
        index += 1
    sign = "-" if value < 0 else ""
    return f"{sign}{_grouped(scaled, 2 if index == 0 else 1)} {BYTE_UNITS[index]}"


def format_duration(ms: float) -> str:
    size = abs(ms)
    if size < 1000:
        return f"{_grouped(_round_half_up(ms * 10, 0) / 10, 2)} ms"
    if size < 60_000:
        return f"{_grouped(ms / 1000, 1)} s"
    if size < 3_600_000:
        return f"{_grouped(ms / 60_000, 1)} min"
    return f"{_grouped(ms / 3_600_000, 1)} h"


def format_change(change: Any) -> str:
    """A change in percent: "+12.5%", "-3%" (with a minus sign), "0%"; "" when there is none."""
    if not is_number(change):
        return ""
    rounded = _round_half_up(change, 0) if abs(change) >= 100 else _round_half_up(change, 1)
    if rounded == 0:
        return "0%"
    return f"{'+' if rounded > 0 else MINUS}{_grouped(abs(rounded), 1)}%"


def change_note(value: Any, previous: Any, change: Any) -> tuple[str, str]:
    """What a number says against the previous period, and its direction (up, down, flat,
    none), as the app's number cards do."""
    if not is_number(value) or not is_number(previous):
        return "no data to compare", "none"
    pct = change if is_number(change) else None
    if pct is None and previous != 0:
        pct = _round_half_up((value - previous) / abs(previous) * 100, 1)
    if pct is None:
        if value == 0:
            return "0%", "flat"
        return "new", "up" if value > 0 else "down"
    text = format_change(pct)
    return text, "flat" if text == "0%" else "up" if pct > 0 else "down"


def metric_unit(metric: str, unit: str | None = None) -> str | None:
    """The unit of a metric's values when the widget names none: counts have none."""
    if unit:
        return unit
    _, _, field = metric.partition(":")
    if field.endswith(("_ms", ".ms")):
        return "ms"
    if "bytes" in field or field.endswith("size"):
        return "bytes"
    return None


def field_label(field: str) -> str:
    if field in FIELD_NAMES:
        return FIELD_NAMES[field]
    words = field.rsplit(".", maxsplit=1)[-1].replace("_", " ")
    return words[:1].upper() + words[1:]


def metric_label(metric: str) -> str:
    """The name of a metric: "visitors" -> "Visitors", "p95:load_ms" -> "p95 load ms"."""
    if metric in METRIC_NAMES:
        return METRIC_NAMES[metric]
    aggregate, _, field = metric.partition(":")
    if not field:
        return metric
    if aggregate == "sum":
        return field_label(field)
    return f"{AGGREGATES.get(aggregate, aggregate)} {field_label(field).lower()}"


def value_label(value: Any, field: str | None = None) -> str:
    """A dimension value for reading: empty ones are "(none)", booleans read as words."""
    if value is None or value == "":
        return "(direct)" if field == "referrer.host" else "(none)"
    if field == "bot" and value in (True, "true"):
        return "Bots"
    if field == "bot" and value in (False, "false"):
        return "Humans"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)
