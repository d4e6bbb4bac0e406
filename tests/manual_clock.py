"""A clock the test moves by hand (``metronome.notify.clock.Clock``): time walks, nobody sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ManualClock:
    def __init__(self, start: datetime = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def timestamp(self) -> float:
        return self.now.timestamp()
