"""``metronome archive run | restore | list``: closed days to an S3-compatible bucket and back
(``metronome.archive``)."""

from __future__ import annotations

from datetime import datetime

import click

from metronome.archive.errors import ArchiveError, Stopped
from metronome.archive.listing import archived_days
from metronome.archive.restore import Restorer
from metronome.archive.run import archive_every, archive_now
from metronome.archive.store import S3Store, where
from metronome.cli.context import Context, pass_context, say, stop_on_signals, with_reachable_es
from metronome.config import Settings
from metronome.es.client import build_client
from metronome.es.naming import is_valid_stream


@click.group()
def archive() -> None:
    """Closed days of every stream to an S3-compatible bucket, and back (settings: archive)."""


_day = click.DateTime(formats=["%Y-%m-%d"])


@archive.command("run")
@click.option("--stream", help="Only this stream (default: every one of archive.streams).")
@click.option("--day", type=_day, help="Only this UTC day (YYYY-MM-DD).")
@click.option(
    "--every",
    type=click.FloatRange(min=1),
    metavar="SECONDS",
    help="Run again every SECONDS until stopped (SIGTERM or Ctrl-C).",
)
@pass_context
def archive_run(
    ctx: Context, stream: str | None, day: datetime | None, every: float | None
) -> None:
    """Archive every closed day that is not archived yet; days already archived are skipped."""
    settings = with_reachable_es(ctx.settings)
    streams = [_stream(stream)] if stream else list(settings.archive.streams)
    only = day.date() if day is not None else None
    with stop_on_signals() as stop:
        es = build_client(settings.elasticsearch)
        store = _archive_store(settings)
        try:
            if every is None:
                archive_now(settings, es, store, streams=streams, only=only, stop=stop, say=say)
            else:
                archive_every(
                    settings, es, store, streams=streams, only=only, every=every, stop=stop, say=say
                )
        except ArchiveError as error:
            raise click.ClickException(str(error)) from None
        except Stopped:
            raise click.ClickException(
                "stopped; the day in progress has no manifest and is written again by the next run"
            ) from None


@archive.command("restore")
@click.option("--stream", required=True, help="The stream to restore (hits, logs...).")
@click.option("--from", "first", required=True, type=_day, help="First UTC day (YYYY-MM-DD).")
@click.option("--to", "last", required=True, type=_day, help="Last UTC day (YYYY-MM-DD), included.")
@pass_context
def archive_restore(ctx: Context, stream: str, first: datetime, last: datetime) -> None:
    """Index archived days again; documents already in Elasticsearch are left as they are."""
    settings = with_reachable_es(ctx.settings)
    stream = _stream(stream)
    days = docs = created = present = refused = missing = 0
    first_refusal: str | None = None
    with stop_on_signals() as stop:
        restorer = Restorer(
            build_client(settings.elasticsearch),
            _archive_store(settings),
            settings.elasticsearch.index_prefix,
            settings.archive,
            settings.shipper,
            stop=stop,
            storage=settings.storage,
        )
        try:
            restorer.store.check()
            for report in restorer.restore(stream, first.date(), last.date()):
                if report.status == "missing":
                    missing += 1
                    continue
                if report.status == "incomplete":
                    say(
                        f"{stream} {report.day}: incomplete archive (no manifest), skipped; "
                        "`metronome archive run` completes it"
                    )
                    continue
                days += 1
                docs += report.docs
                created += report.created
                present += report.present
                refused += report.refused
                first_refusal = first_refusal or report.first_refusal
                say(
                    f"{stream} {report.day}: {report.docs} documents: {report.created} created, "
                    f"{report.present} already present"
                    + (f", {report.refused} refused" if report.refused else "")
                )
        except ArchiveError as error:
            raise click.ClickException(str(error)) from None
        except Stopped:
            raise click.ClickException("stopped; run the restore again to finish it") from None
    say(
        f"restore: {docs} documents of {days} archived days: {created} created, "
        f"{present} already present"
        + (f", {refused} refused" if refused else "")
        + (f"; not archived: {missing} of the days" if missing else "")
    )
    if refused:
        raise click.ClickException(
            f"Elasticsearch refused {refused} documents (first: {first_refusal}); "
            "they stay in the archive"
        )


@archive.command("list")
@click.option("--stream", help="Only this stream (default: every one of archive.streams).")
@pass_context
def archive_list(ctx: Context, stream: str | None) -> None:
    """Show the archived days of each stream with their document counts."""
    settings = ctx.settings
    streams = [_stream(stream)] if stream else list(settings.archive.streams)
    store = _archive_store(settings)
    found = 0
    try:
        store.check()
        for name in streams:
            for day in archived_days(store, settings.archive.key_prefix, name):
                found += 1
                if day.manifest is None:
                    say(f"{name} {day.day}  incomplete: {day.parts} parts, no manifest")
                    continue
                say(
                    f"{name} {day.day}  {day.manifest.doc_count} documents  "
                    f"{len(day.manifest.parts)} parts  {_size(day.bytes)}  "
                    f"archived {day.manifest.archived_at}"
                )
    except ArchiveError as error:
        raise click.ClickException(str(error)) from None
    if not found:
        say(f"nothing archived in {where(settings.archive)}")


def _archive_store(settings: Settings) -> S3Store:
    try:
        return S3Store(settings.archive)
    except ArchiveError as error:
        raise click.ClickException(str(error)) from None


def _stream(stream: str) -> str:
    if not is_valid_stream(stream):
        raise click.BadParameter(
            "use lowercase letters, digits and '_' (hits, logs...)", param_hint="--stream"
        )
    return stream


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"
