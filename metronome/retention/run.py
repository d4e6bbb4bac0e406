"""``retention plan`` and ``apply``: the indices past their limit, what the archive lets go of
them, and deleting those.

With ``archive.enabled``, a raw index is deleted only when its stream is one the archive
archives and every UTC day it holds documents of has a manifest in the bucket that covers the
day as it is now (the archive's own rule, ``plan_day``: a day that grew since, or has no
manifest, is unarchived). A listing or a manifest that cannot be read keeps the index: nothing
unarchived is ever deleted. Rollup indices are derived data and go by ``rollup_days`` alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

from elasticsearch import Elasticsearch

from metronome.archive import layout
from metronome.archive.manifest import Decision, Manifest, ManifestError, plan_day
from metronome.archive.store import S3Store
from metronome.config import Settings
from metronome.es.days import day_counts
from metronome.es.migrate import stream_indices
from metronome.es.naming import IndexSpan
from metronome.retention.plan import Candidate, past_limit, rollup_span

Say = Callable[[str], None]


@dataclass(frozen=True)
class Verdict:
    candidate: Candidate
    delete: bool
    reason: str

    def line(self) -> str:
        c = self.candidate
        span = f"{c.first_day}..{c.last_day}" if c.first_day != c.last_day else str(c.first_day)
        verb = "delete" if self.delete else "keep  "
        return f"{verb} {c.index} ({c.kind} {c.stream}, {span}): {self.reason}"


def rollup_indices(client: Elasticsearch, prefix: str) -> list[tuple[str, IndexSpan]]:
    resolved = client.indices.resolve_index(name=f"{prefix}-rollup.*", expand_wildcards="open").body
    spans = [rollup_span(prefix, str(entry["name"])) for entry in resolved.get("indices", [])]
    return [span for span in spans if span is not None]


def plan_retention(
    client: Elasticsearch,
    settings: Settings,
    *,
    store: S3Store | None = None,
    now: datetime | None = None,
) -> list[Verdict]:
    """A verdict per index past its limit, oldest first. ``store``: the archive's bucket,
    needed when the archive is on."""
    prefix = settings.elasticsearch.index_prefix
    moment = now or datetime.now(UTC)
    candidates = past_limit(
        stream_indices(client, prefix), rollup_indices(client, prefix), settings.retention, moment
    )
    archive = settings.archive
    guard = _ArchiveGuard(client, store, settings) if archive.enabled else None
    verdicts = []
    for candidate in candidates:
        reason = f"every document is older than {candidate.days} days"
        if candidate.kind == "rollup" or guard is None:
            verdicts.append(Verdict(candidate, True, reason))
        elif candidate.stream not in archive.streams:
            verdicts.append(
                Verdict(candidate, False, "the archive is on and does not archive this stream")
            )
        else:
            missing = guard.unarchived_days(candidate)
            if missing:
                more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
                verdicts.append(Verdict(candidate, False, f"{missing[0]}{more} not archived yet"))
            else:
                verdicts.append(Verdict(candidate, True, f"{reason}, and archived"))
    return verdicts


def apply_retention(client: Elasticsearch, verdicts: list[Verdict]) -> Iterator[Verdict]:
    """Delete the indices the verdicts let go, one at a time; each as it is deleted."""
    for verdict in verdicts:
        if verdict.delete:
            client.indices.delete(index=verdict.candidate.index, ignore_unavailable=True)
            yield verdict


class _ArchiveGuard:
    """Which days of an index the archive does not hold as they are now."""

    def __init__(self, client: Elasticsearch, store: S3Store | None, settings: Settings) -> None:
        if store is None:
            raise ValueError("the archive is on: its store is needed to check what is archived")
        self.client = client
        self.store = store
        self.key_prefix = settings.archive.key_prefix
        self._catalogs: dict[str, dict[date, layout.DayObjects]] = {}

    def unarchived_days(self, candidate: Candidate) -> list[date]:
        stream = candidate.stream
        if stream not in self._catalogs:
            listing = self.store.list(layout.stream_prefix(self.key_prefix, stream))
            self._catalogs[stream] = layout.catalog(
                self.key_prefix, stream, ((o.key, o.size) for o in listing)
            )
        catalog = self._catalogs[stream]
        missing = []
        for day, docs in day_counts(self.client, candidate.index).items():
            objects = catalog.get(day)
            if objects is None or not objects.has_manifest:
                missing.append(day)
                continue
            data = self.store.get_bytes(
                layout.object_key(self.key_prefix, stream, day, layout.MANIFEST_NAME)
            )
            try:
                manifest = Manifest.from_json(data) if data is not None else None
            except ManifestError:
                manifest = None
            if plan_day(manifest, docs, objects.parts).decision is Decision.ARCHIVE:
                missing.append(day)
        return missing
