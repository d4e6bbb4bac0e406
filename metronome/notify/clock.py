"""Time, injected: everything that decides on time takes a ``Clock`` (aware datetimes in UTC),
so tests walk hours, days and DST changes by passing their own instead of sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)
