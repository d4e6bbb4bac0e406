"""A minimal in-memory stand-in for ``metronome.notify.outbox.Outbox`` with its documented
idempotency (one message per key and channel), for the alert tests that do not send e-mail."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordingOutbox:
    queued: dict[tuple[str, str], Any] = field(default_factory=dict)  # (key, channel) -> message
    sent_now: list[tuple[str, Any]] = field(default_factory=list)
    fail_after: int | None = None  # raise ``Crash`` once this many were queued (a dying process)
    on_enqueue: Callable[[str, str], None] | None = None

    def enqueue(self, key: str, channel: str, message: Any, to: tuple[str, ...] = ()) -> bool:
        if (key, channel) in self.queued:
            return False
        self.queued[(key, channel)] = message
        if self.fail_after is not None and len(self.queued) >= self.fail_after:
            raise Crash(f"killed after queueing {key}")
        return True

    def send_now(self, channel: str, message: Any, to: tuple[str, ...] = ()) -> None:
        self.sent_now.append((channel, message))

    def messages(self) -> list[Any]:
        return list(self.queued.values())


class Crash(BaseException):
    """The process dies here (not an ``Exception``: nothing on the way catches it)."""
