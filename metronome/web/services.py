"""The services one app instance uses, built once by ``create_app`` and injected.

Views reach them through ``current_services()``; tests build them with their own settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from elasticsearch import Elasticsearch
from flask import current_app

from metronome.config import Settings
from metronome.enrich.visitors import DailySalts
from metronome.hits.budget import BodyBudgets
from metronome.hits.sink import HitSink
from metronome.logs.events import EventSink
from metronome.query.catalog import FieldCatalog
from metronome.query.public_cache import PublicCache
from metronome.spool.entry import Entry, encode_entry
from metronome.spool.writer import SpoolWriter
from metronome.web.sessions import SessionBook

EXTENSION_KEY = "metronome"


class EntrySink(Protocol):
    def append(self, entries: Sequence[Entry]) -> None:
        """Store ready-made entries (stream, id, document) durably, all or none.

        Raises ``AppendTooLarge``, ``SpoolFull`` or ``SpoolWriteError``.
        """


class SpoolEntrySink:
    """Any documents already built with their stream and deterministic id (webhook
    deliveries) into the same spool as hits and logs."""

    def __init__(self, writer: SpoolWriter) -> None:
        self.writer = writer

    def append(self, entries: Sequence[Entry]) -> None:
        self.writer.append([encode_entry(entry) for entry in entries])


@dataclass(frozen=True)
class Services:
    settings: Settings
    es: Elasticsearch
    sink: HitSink
    salts: DailySalts
    catalog: FieldCatalog
    log_sink: EventSink  # server logs (forward protocol, /ingest/logs) into the same spool
    entries: EntrySink  # documents that arrive whole (POST /webhooks/github) into the spool
    budgets: BodyBudgets  # what each ingest endpoint's body may hold (hits/budget.py)
    public_cache: PublicCache  # anonymous /tock answers (query/public_cache.py)
    sessions: SessionBook  # browser sign-in cookies (web/sessions.py)


def current_services() -> Services:
    services = current_app.extensions[EXTENSION_KEY]
    assert isinstance(services, Services)
    return services
