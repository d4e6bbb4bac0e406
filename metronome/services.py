"""The services one app instance uses, built once by ``create_app`` and injected.

Views reach them through ``current_services()``; tests build them with their own settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from elasticsearch import Elasticsearch
from flask import current_app

from metronome.config import Settings
from metronome.hits.privacy import DailySalts
from metronome.hits.sink import HitSink
from metronome.logs.events import EventSink
from metronome.query.catalog import FieldCatalog

EXTENSION_KEY = "metronome"


@dataclass(frozen=True)
class Services:
    settings: Settings
    es: Elasticsearch
    sink: HitSink
    salts: DailySalts
    catalog: FieldCatalog
    log_sink: EventSink  # server logs (forward protocol, /ingest/logs) into the same spool


def current_services() -> Services:
    services = current_app.extensions[EXTENSION_KEY]
    assert isinstance(services, Services)
    return services
