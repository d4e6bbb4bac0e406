"""What the bucket holds per day: complete days with their manifest, incomplete ones without."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from metronome.archive import layout
from metronome.archive.manifest import Manifest, ManifestError
from metronome.archive.store import S3Store


@dataclass(frozen=True)
class ArchivedDay:
    stream: str
    day: date
    manifest: Manifest | None  # None: incomplete (or an unreadable manifest)
    parts: int  # part objects in the bucket
    bytes: int  # their total size


def archived_days(store: S3Store, key_prefix: str, stream: str) -> Iterator[ArchivedDay]:
    listing = store.list(layout.stream_prefix(key_prefix, stream))
    days = layout.catalog(key_prefix, stream, ((o.key, o.size) for o in listing))
    for day in sorted(days):
        objects = days[day]
        manifest = None
        if objects.has_manifest:
            data = store.get_bytes(layout.object_key(key_prefix, stream, day, layout.MANIFEST_NAME))
            try:
                manifest = Manifest.from_json(data) if data is not None else None
            except ManifestError:
                manifest = None
        yield ArchivedDay(stream, day, manifest, len(objects.parts), sum(objects.parts.values()))
