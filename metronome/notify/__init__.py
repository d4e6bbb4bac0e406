"""Notifications: the one way Metronome sends anything (alerts, digests, reports).

A ``Message`` goes to a named channel (``notify.channels``): e-mail over SMTP or a webhook.
Through the ``Outbox`` (queued in Elasticsearch, sent by ``deliver_due``, retried with
backoff, each message once) or at once with ``send_now``. Imports only ``metronome.es``,
``metronome.config`` and ``metronome.errors`` of Metronome.
"""

from metronome.notify.backoff import RetryPolicy, retry_delay
from metronome.notify.build import (
    channels_from_settings,
    notify_warnings,
    outbox_from_settings,
    retry_policy,
)
from metronome.notify.channel import Channel
from metronome.notify.clock import Clock, system_clock
from metronome.notify.errors import NotifyError, SendFailed
from metronome.notify.message import Attachment, Message
from metronome.notify.outbox import DeliveryReport, Outbox, OutboxEntry, send_now

__all__ = [
    "Attachment",
    "Channel",
    "Clock",
    "DeliveryReport",
    "Message",
    "NotifyError",
    "Outbox",
    "OutboxEntry",
    "RetryPolicy",
    "SendFailed",
    "channels_from_settings",
    "notify_warnings",
    "outbox_from_settings",
    "retry_delay",
    "retry_policy",
    "send_now",
    "system_clock",
]
