"""The notify side of alerts: which channels exist (rules name them) and the outbox that
queues and sends their messages (``metronome.notify``)."""

from __future__ import annotations

from elasticsearch import Elasticsearch

from metronome.config import Settings
from metronome.notify import Clock, Outbox, outbox_from_settings, system_clock


def channel_names(settings: Settings) -> list[str]:
    """The channels of ``notify.channels`` (and the implicit ``email``): a rule names these."""
    return sorted(settings.notify.all_channels)


def build_outbox(settings: Settings, client: Elasticsearch, clock: Clock = system_clock) -> Outbox:
    """The outbox of every notify channel, in ``<prefix>-notifications``, retrying as
    ``notify.delivery`` says."""
    return outbox_from_settings(settings, client, clock)
