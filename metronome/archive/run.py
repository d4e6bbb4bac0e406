"""``metronome archive run``: archive every closed day that is not archived yet, holding the
``archive`` lease, once (``archive_now``) or every N seconds until stopped (``archive_every``,
which `metronome serve` runs). Progress goes to ``say``, line by line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import date

from elasticsearch import Elasticsearch

from metronome.archive.archiver import Archiver
from metronome.archive.errors import ArchiveError
from metronome.archive.schedule import ArchiveLease, run_every
from metronome.archive.store import S3Store, where
from metronome.config import Settings
from metronome.sources.lease import LeaseStore, holder_id

Say = Callable[[str], None]


class ArchiveBusy(ArchiveError):
    """Another process holds the archive lease; a run by hand does not wait for it."""


def archive_now(
    settings: Settings,
    es: Elasticsearch,
    store: S3Store,
    *,
    streams: Sequence[str],
    only: date | None,
    stop: threading.Event,
    say: Say,
) -> None:
    """One run: each day archived or skipped is reported. Raises ``ArchiveBusy``,
    ``ArchiveError`` and ``Stopped`` (the day in progress is written again by the next run)."""
    archiver, lease = _archiver(settings, es, store, only, stop)
    if not lease.run(lambda: archive_days(archiver, streams, only, say, every_day=True)):
        raise ArchiveBusy(f"{lease.busy_message()}; try again when that run has finished")


def archive_every(
    settings: Settings,
    es: Elasticsearch,
    store: S3Store,
    *,
    streams: Sequence[str],
    only: date | None,
    every: float,
    stop: threading.Event,
    say: Say,
) -> None:
    """A run every ``every`` seconds until ``stop`` is set; a failed run is reported and tried
    again, a turn another process holds the lease for is skipped."""
    archiver, lease = _archiver(settings, es, store, only, stop)
    say(f"archive: to {where(settings.archive)} every {every:g}s (SIGTERM or Ctrl-C stops)")

    def turn() -> None:
        if not lease.run(lambda: archive_days(archiver, streams, only, say)):
            say(f"archive: skipped this time, {lease.busy_message()}")

    run_every(
        turn,
        every,
        stop,
        on_error=lambda error: say(f"archive: {error} (trying again in {every:g}s)"),
    )
    say("archive: stopped")


def archive_days(
    archiver: Archiver,
    streams: Sequence[str],
    only: date | None,
    say: Say,
    *,
    every_day: bool = False,
) -> None:
    """Archive what is due, a line per day archived (and per day skipped with ``every_day``),
    then a summary."""
    archiver.store.check()
    archived = skipped = docs = parts = 0
    seen: set[str] = set()
    for report in archiver.run(streams, only):
        seen.add(report.stream)
        label = f"{report.stream} {report.day}"
        if report.archived:
            archived += 1
            docs += report.docs
            parts += report.parts
            say(
                f"{label}: archived {report.docs} documents in {report.parts} parts "
                f"({report.reason})"
            )
        else:
            skipped += 1
            if every_day:
                say(f"{label}: skipped, {report.reason} ({report.docs} documents)")
    if only is not None:
        for stream in streams:
            if stream not in seen:
                say(f"{stream} {only}: no index, nothing to archive")
    say(f"archive: {archived} archived, {skipped} skipped ({docs} documents in {parts} parts)")


def _archiver(
    settings: Settings,
    es: Elasticsearch,
    store: S3Store,
    only: date | None,
    stop: threading.Event,
) -> tuple[Archiver, ArchiveLease]:
    prefix = settings.elasticsearch.index_prefix
    archiver = Archiver(es, store, prefix, settings.archive, stop=stop)
    if only is not None and not archiver.is_closed(only):
        raise ArchiveError(
            f"{only} is not closed yet: a day is archived once it has ended (UTC) and "
            f"archive.grace ({settings.archive.grace:g} s) has passed"
        )
    lease = ArchiveLease(LeaseStore(es, prefix), holder_id(), settings.scheduler.run_lease_ttl)
    return archiver, lease
