"""Index names. Each document goes to the daily index of its own ``@timestamp`` (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

STREAM_PATTERN = "abcdefghijklmnopqrstuvwxyz0123456789_"


def index_for(prefix: str, stream: str, timestamp: datetime) -> str:
    """``<prefix>-<stream>-YYYY.MM.DD`` for the UTC day of ``timestamp`` (zero-padded)."""
    if timestamp.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    day = timestamp.astimezone(UTC)
    return f"{prefix}-{stream}-{day:%Y.%m.%d}"


def stream_pattern(prefix: str, stream: str) -> str:
    """The wildcard that covers every daily index of one stream."""
    return f"{prefix}-{stream}-*"


def is_valid_stream(stream: str) -> bool:
    return 0 < len(stream) <= 32 and all(c in STREAM_PATTERN for c in stream)


def indices_for_range(
    prefix: str, stream: str, start: datetime, end: datetime, max_named: int = 62
) -> str:
    """The daily indices that can hold ``[start, end)``, comma-separated, or the stream's
    wildcard for longer ranges. Naming the days spares Elasticsearch a visit to every other
    daily index (search them with ``ignore_unavailable``: a quiet day has no index)."""
    first = start.astimezone(UTC).date()
    last = (end.astimezone(UTC) - timedelta(milliseconds=1)).date()
    days = (last - first).days + 1
    if days > max_named or days < 1:
        return stream_pattern(prefix, stream)
    return ",".join(f"{prefix}-{stream}-{first + timedelta(days=n):%Y.%m.%d}" for n in range(days))
