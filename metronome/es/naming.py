"""Index names. Each document goes to the daily index of its own ``@timestamp`` (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

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
