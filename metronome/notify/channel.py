"""The interface every channel (``smtp``, ``webhook``) implements."""

from __future__ import annotations

from typing import Protocol

from metronome.notify.message import Message


class Channel(Protocol):
    name: str  # its key under notify.channels
    kind: str  # "email" or "webhook"

    def describe(self) -> str:
        """Where it sends, for people: no secret (``e-mail via smtp.example.org:587``)."""
        ...

    def send(self, message: Message, *, key: str, to: tuple[str, ...] = ()) -> str:
        """Send once; answer a short note of what happened (``250 accepted``). ``key`` is the
        outbox key (e-mail derives its Message-ID from it, webhooks send it as
        ``X-Metronome-Message-Key``). ``to`` replaces an e-mail channel's recipients.
        Raises ``SendFailed``."""
        ...
