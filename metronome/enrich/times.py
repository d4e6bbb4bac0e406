"""Timestamps as documents store them."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_millis(moment: datetime) -> str:
    """``2026-11-22T13:05:09.123Z``: UTC, milliseconds, a ``Z`` for the zone."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
