"""The notify side of alerts: which channels exist (rules name them) and the outbox that
queues and sends their messages (``metronome.notify``)."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

from metronome.config import Settings
from metronome.notify.clock import Clock, system_clock


def _notify_section(settings: Settings) -> Any:
    return getattr(settings, "notify", None)


def channel_names(settings: Settings) -> list[str] | None:
    """The channels of ``notify.channels`` (a rule may name only these); None when this build
    has no notify settings."""
    section = _notify_section(settings)
    if section is None:
        return None
    from metronome import notify  # noqa: PLC0415

    return sorted(notify.channels_from_settings(section))  # type: ignore[attr-defined]


def build_outbox(settings: Settings, client: Elasticsearch, clock: Clock = system_clock) -> Any:
    """The outbox of ``notify.channels`` in ``<prefix>-notifications``; None without notify."""
    section = _notify_section(settings)
    if section is None:
        return None
    from metronome import notify  # noqa: PLC0415

    channels = notify.channels_from_settings(section)  # type: ignore[attr-defined]
    prefix = settings.elasticsearch.index_prefix
    return notify.Outbox(client, prefix, channels, clock)  # type: ignore[attr-defined]
