"""Restore: archived days back into their stream's indices, through the normal bulk path.

Each document goes back with its archived ``_id`` into the index of its day at the stream's
index period (``<prefix>-<stream>-YYYY.MM.DD``, ``-YYYY.MM`` or ``-YYYY``) with
``op_type=create`` (``metronome.es.bulk``): a 409 means the document is already there, so
restoring over existing data changes nothing and a restore cut short can simply be repeated.
Only days with a manifest are restored; every part is checked against the manifest's size,
SHA-256 and document count before any of it is indexed.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Literal

from elasticsearch import Elasticsearch

from metronome.archive import layout
from metronome.archive.errors import ArchiveError, Stopped
from metronome.archive.manifest import Manifest, ManifestError, PartInfo
from metronome.archive.parts import read_part, spooled_file
from metronome.archive.source import es_errors
from metronome.archive.store import S3Store
from metronome.config import ArchiveSettings, ShipperSettings, StorageSettings
from metronome.es import retry
from metronome.es.bulk import BulkAction, GaveUp, ItemResult, bulk_create, bulk_until_settled
from metronome.es.templates import install_templates

MAX_ATTEMPTS = 8  # per batch, for 429/5xx items and an unreachable Elasticsearch


@dataclass
class DayRestore:
    stream: str
    day: date
    status: Literal["restored", "incomplete", "missing"]  # incomplete: parts, no manifest
    docs: int = 0  # documents in the archive
    created: int = 0
    present: int = 0  # already in the index (409)
    refused: int = 0  # refused by Elasticsearch (mapping conflicts and the like)
    first_refusal: str | None = None
    index: str = ""


class Restorer:
    def __init__(
        self,
        client: Elasticsearch,
        store: S3Store,
        index_prefix: str,
        settings: ArchiveSettings,
        shipper: ShipperSettings,
        *,
        stop: threading.Event | None = None,
        storage: StorageSettings | None = None,
    ) -> None:
        self.storage = storage or StorageSettings()  # which index a day goes back to
        self.client = client
        self.store = store
        self.index_prefix = index_prefix
        self.settings = settings
        self.shipper = shipper
        self.stop = stop or threading.Event()

    def restore(self, stream: str, first: date, last: date) -> Iterator[DayRestore]:
        """One report per day from ``first`` to ``last`` (both included), as each is done."""
        if last < first:
            raise ArchiveError(f"the range ends ({last}) before it starts ({first})")
        with es_errors("installing the index templates"):
            install_templates(self.client, self.index_prefix)
        stored = layout.catalog(
            self.settings.key_prefix,
            stream,
            (
                (o.key, o.size)
                for o in self.store.list(layout.stream_prefix(self.settings.key_prefix, stream))
            ),
        )
        for day in layout.days_between(first, last):
            if self.stop.is_set():
                raise Stopped
            objects = stored.get(day)
            if objects is None:
                yield DayRestore(stream, day, "missing")
            elif not objects.has_manifest:
                yield DayRestore(stream, day, "incomplete")
            else:
                yield self.restore_day(stream, day)

    def restore_day(self, stream: str, day: date) -> DayRestore:
        key = layout.object_key(self.settings.key_prefix, stream, day, layout.MANIFEST_NAME)
        data = self.store.get_bytes(key)
        if data is None:
            return DayRestore(stream, day, "incomplete")
        try:
            manifest = Manifest.from_json(data)
        except ManifestError as error:
            raise ArchiveError(f"{key}: {error}") from None
        report = DayRestore(
            stream,
            day,
            "restored",
            docs=manifest.doc_count,
            index=layout.index_name(self.index_prefix, stream, day, self.storage.period_of(stream)),
        )
        for part in manifest.parts:
            self._restore_part(stream, day, part, report)
        with es_errors(f"refreshing {report.index}"):
            self.client.indices.refresh(index=report.index, ignore_unavailable=True)
        return report

    def _restore_part(self, stream: str, day: date, part: PartInfo, report: DayRestore) -> None:
        key = layout.object_key(self.settings.key_prefix, stream, day, part.name)
        with spooled_file() as file:
            size, sha256 = self.store.download(key, file)
            if (size, sha256) != (part.bytes, part.sha256):
                raise ArchiveError(
                    f"{key} does not match its manifest ({size} bytes, sha256 {sha256[:12]}... "
                    f"instead of {part.bytes} bytes, {part.sha256[:12]}...): not restored"
                )
            batch: list[BulkAction] = []
            lines = 0
            try:
                for doc_id, source in read_part(file):
                    lines += 1
                    batch.append(BulkAction(report.index, doc_id, source))
                    if len(batch) >= self.shipper.batch_docs:
                        self._index(batch, report)
                        batch = []
            except (OSError, EOFError, ValueError) as error:
                raise ArchiveError(f"{key} cannot be read: {error}") from None
            if batch:
                self._index(batch, report)
            if lines != part.docs:
                raise ArchiveError(f"{key} holds {lines} documents, its manifest says {part.docs}")

    def _index(self, actions: list[BulkAction], report: DayRestore) -> None:
        try:
            results = bulk_until_settled(
                actions,
                functools.partial(bulk_create, self.client),
                retry.Retry(cap=self.shipper.max_backoff, tries=MAX_ATTEMPTS, stop=self.stop),
            )
        except GaveUp as error:
            raise ArchiveError(f"{error} (run it again)") from None
        except retry.Stopped:
            raise Stopped from None
        for action, result in zip(actions, results, strict=True):
            self._count(action, result, report)

    @staticmethod
    def _count(action: BulkAction, result: ItemResult, report: DayRestore) -> None:
        if result.status == 409:
            report.present += 1
        elif result.stored:
            report.created += 1
        else:
            report.refused += 1
            if report.first_refusal is None:
                error = result.error or {}
                report.first_refusal = (
                    f"{action.id}: {error.get('type', result.status)}: {error.get('reason', '')}"
                )
