"""What every log input produces: one event with a tag, a time and a record.

The forward protocol server and ``POST /ingest/logs`` both turn what they receive into
``LogEvent``s and hand a batch to an ``EventSink``, which returns only once the events are
durably spooled (and raises when they cannot be).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class LogEvent:
    tag: str  # Fluentd's routing tag, e.g. "nginx.access"
    time: datetime  # timezone-aware UTC, the event's own time
    record: dict[str, Any]  # string keys; byte strings already decoded as UTF-8
    input: str  # "forward" or "http": which path it came in by
    # What makes a resend recognisable: the forward chunk id or the HTTP body digest, plus the
    # event's position in it. Empty: the event's content (tag, time, record) decides.
    key: str = ""


class EventSink(Protocol):
    def accept(self, events: Sequence[LogEvent]) -> None:
        """Spool the events durably (fsync) before returning; raise if that is impossible."""
