"""Archive runs: every closed day of every stream, written once, completed when cut short.

For each closed day with documents (a daily index, or a day of a monthly or yearly index read
with the day's range) the run lists the day's objects, reads its manifest and
counts the index, then ``plan_day`` decides: skip a day archived and unchanged, write a day
that is new, incomplete (parts but no manifest), damaged or has grown since, and never
overwrite an archive with an index that holds less (deleted or partly restored indices).

Writing a day: its old manifest (if any) is deleted first, so a run cut short always leaves a
day without one; the parts are written over the same deterministic names (``part-0``...);
parts left over from an earlier, longer write are deleted; the manifest goes last.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from elasticsearch import Elasticsearch

from metronome.archive import layout
from metronome.archive.errors import ArchiveError, Stopped
from metronome.archive.manifest import Decision, Manifest, ManifestError, PartInfo, plan_day
from metronome.archive.parts import PartWriter
from metronome.archive.source import DaySource, Snapshot, count_documents, day_sources
from metronome.archive.store import S3Store
from metronome.config import ArchiveSettings

PART_TYPE = "application/gzip"
MANIFEST_TYPE = "application/json"


@dataclass(frozen=True)
class DayReport:
    stream: str
    day: date
    archived: bool  # False: skipped
    docs: int  # documents archived now, or held by the skipped day's archive
    parts: int
    reason: str


def utc_now() -> datetime:
    return datetime.now(UTC)


class Archiver:
    def __init__(
        self,
        client: Elasticsearch,
        store: S3Store,
        index_prefix: str,
        settings: ArchiveSettings,
        *,
        stop: threading.Event | None = None,
        now: Callable[[], datetime] = utc_now,
        page_size: int = 1000,
    ) -> None:
        self.client = client
        self.store = store
        self.index_prefix = index_prefix
        self.settings = settings
        self.stop = stop or threading.Event()
        self.now = now
        self.page_size = page_size

    def is_closed(self, day: date) -> bool:
        return layout.is_closed(day, self.now(), self.settings.grace)

    def run(
        self, streams: Sequence[str] | None = None, day: date | None = None
    ) -> Iterator[DayReport]:
        """Archive the closed days of ``streams`` (default: ``archive.streams``), or only
        ``day``; one report per day with an index, as each is done. Raises ``Stopped`` when a
        stop is requested (the day in progress keeps no manifest) and ``ArchiveError``."""
        for stream in streams or self.settings.streams:
            yield from self.archive_stream(stream, day)

    def archive_stream(self, stream: str, only: date | None = None) -> Iterator[DayReport]:
        indices = day_sources(self.client, self.index_prefix, stream)
        days = sorted(d for d in indices if self.is_closed(d) and only in (None, d))
        if not days:
            return
        key_prefix = self.settings.key_prefix
        listing_prefix = (
            layout.day_prefix(key_prefix, stream, only)
            if only is not None
            else layout.stream_prefix(key_prefix, stream)
        )
        stored = layout.catalog(
            key_prefix, stream, ((o.key, o.size) for o in self.store.list(listing_prefix))
        )
        for day in days:
            self._check_stop()
            yield self.archive_day(
                stream, day, indices[day], stored.get(day) or layout.DayObjects()
            )

    def archive_day(
        self, stream: str, day: date, source: DaySource, stored: layout.DayObjects
    ) -> DayReport:
        manifest = self._manifest(stream, day) if stored.has_manifest else None
        index_docs = count_documents(self.client, source.index, source.query)
        plan = plan_day(manifest, index_docs, stored.parts)
        if plan.decision is not Decision.ARCHIVE:
            assert manifest is not None
            return DayReport(
                stream, day, False, manifest.doc_count, len(manifest.parts), plan.reason
            )
        if stored.has_manifest:
            self.store.delete(self._key(stream, day, layout.MANIFEST_NAME))
        written = self._write_day(stream, day, source)
        for name in sorted(set(stored.parts) - {p.name for p in written.parts}):
            self.store.delete(self._key(stream, day, name))
        self.store.put_bytes(
            self._key(stream, day, layout.MANIFEST_NAME), written.to_json(), MANIFEST_TYPE
        )
        return DayReport(stream, day, True, written.doc_count, len(written.parts), plan.reason)

    # --- writing a day -----------------------------------------------------------------------

    def _write_day(self, stream: str, day: date, source: DaySource) -> Manifest:
        parts: list[PartInfo] = []
        docs = 0
        index = source.index
        with Snapshot(self.client, index, self.page_size, source.query) as snapshot:
            writer: PartWriter | None = None
            try:
                for doc_id, document in snapshot.documents():
                    if docs % self.page_size == 0:
                        self._check_stop()
                    if writer is None:
                        writer = PartWriter()
                    writer.add(doc_id, document)
                    docs += 1
                    if writer.docs >= self.settings.part_docs:
                        parts.append(self._upload(stream, day, len(parts), writer))
                        writer = None
                        self._check_stop()
                if writer is not None:
                    parts.append(self._upload(stream, day, len(parts), writer))
                    writer = None
            finally:
                if writer is not None:
                    writer.close()
            if docs != snapshot.total:
                raise ArchiveError(
                    f"{index}: read {docs} documents where the point-in-time holds "
                    f"{snapshot.total}; the day is left incomplete"
                )
        return Manifest(
            stream=stream,
            day=day,
            index=index,
            doc_count=docs,
            index_doc_count=snapshot.total,
            parts=tuple(parts),
            archived_at=self.now().isoformat(timespec="seconds"),
        )

    def _upload(self, stream: str, day: date, number: int, writer: PartWriter) -> PartInfo:
        try:
            size, sha256 = writer.finish()
            name = layout.part_name(number)
            self.store.put_file(self._key(stream, day, name), writer.file, size, PART_TYPE)
            return PartInfo(name=name, docs=writer.docs, bytes=size, sha256=sha256)
        finally:
            writer.close()

    # --- helpers -----------------------------------------------------------------------------

    def _manifest(self, stream: str, day: date) -> Manifest | None:
        data = self.store.get_bytes(self._key(stream, day, layout.MANIFEST_NAME))
        if data is None:
            return None
        try:
            return Manifest.from_json(data)
        except ManifestError:
            return None  # written again, like a day without one

    def _key(self, stream: str, day: date, name: str) -> str:
        return layout.object_key(self.settings.key_prefix, stream, day, name)

    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise Stopped
