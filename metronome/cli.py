"""The ``metronome`` command: serve, setup, and the embedded Elasticsearch (``es``)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import signal
import ssl
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path

import click

from metronome import __version__
from metronome.archive.archiver import Archiver
from metronome.archive.errors import ArchiveError, Stopped
from metronome.archive.listing import archived_days
from metronome.archive.restore import Restorer
from metronome.archive.schedule import ArchiveLease, run_every
from metronome.archive.store import S3Store, where
from metronome.config import ConfigError, Settings, load_settings
from metronome.enrich.visitors import SECRET_FILE, DailySalts
from metronome.es.client import ElasticsearchUnusable, build_client, check_connection
from metronome.es.embedded import EmbeddedElasticsearch, EmbeddedError
from metronome.es.mapping_report import mapping_report
from metronome.es.naming import is_valid_stream, stream_pattern
from metronome.es.templates import install_templates
from metronome.fsutil import load_or_create_secret
from metronome.logs.context import log_context
from metronome.logs.forward import run_forward_server, server_options
from metronome.logs.forward.metrics import CounterMirror
from metronome.logs.sink import SpoolEventSink
from metronome.serve.supervisor import ServeError
from metronome.serve.supervisor import serve as run_serve
from metronome.sources import cli as sources_cli
from metronome.sources.lease import LeaseStore, holder_id
from metronome.spool.deadletters import DeadLetterStore
from metronome.spool.shipper import Shipper, ShipperAlreadyRunning
from metronome.spool.writer import SpoolWriter


class Context:
    def __init__(self, config_file: str | None) -> None:
        self.config_file = config_file
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_file)
            except ConfigError as error:
                raise click.ClickException(str(error)) from None
        return self._settings

    def reachable_settings(self) -> Settings:
        return _with_reachable_es(self.settings)


pass_context = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    envvar="METRONOME_CONFIG",
    help="YAML configuration file (default: config/metronome.yml when present).",
)
@click.version_option(__version__, prog_name="metronome")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None) -> None:
    """Metronome: self-hosted usage analytics on Elasticsearch."""
    ctx.obj = Context(config_file)


@cli.command()
@pass_context
def serve(ctx: Context) -> None:
    """Start Metronome in the foreground (and the embedded Elasticsearch if no URL is set)."""

    try:
        code = run_serve(ctx.settings, ctx.config_file, say=_say)
    except (EmbeddedError, ServeError, ElasticsearchUnusable) as error:
        raise click.ClickException(str(error)) from None
    sys.exit(code)


@cli.command()
@pass_context
def setup(ctx: Context) -> None:
    """Install the index templates into Elasticsearch (safe to repeat)."""
    settings = _with_reachable_es(ctx.settings)
    client = build_client(settings.elasticsearch)
    assert settings.elasticsearch.url is not None  # _with_reachable_es set it
    try:
        check_connection(client, settings.elasticsearch.url)
    except ElasticsearchUnusable as error:
        raise click.ClickException(str(error)) from None
    for template in install_templates(client, settings.elasticsearch.index_prefix):
        _say(f"installed {template.kind} template {template.name}")


@cli.group()
def es() -> None:
    """The embedded Elasticsearch node (used when elasticsearch.url is not set)."""


def _embedded(ctx: Context, data_dir: str | None, port: int | None) -> EmbeddedElasticsearch:
    embedded = ctx.settings.elasticsearch.embedded
    if data_dir is not None:
        embedded = dataclasses.replace(embedded, data_dir=Path(data_dir))
    if port is not None:
        embedded = dataclasses.replace(embedded, http_port=port)
    return EmbeddedElasticsearch(embedded, say=_say)


_data_dir = click.option("--data-dir", help="Data directory (default: var/es).")
_port = click.option("--port", type=int, help="HTTP port (default: 9200).")


@es.command("resolve")
@pass_context
def es_resolve(ctx: Context) -> None:
    """Download the Elasticsearch jars from Maven Central (once; later runs reuse them)."""
    node = _embedded(ctx, None, None)
    try:
        if node.is_resolved():
            _say(f"Elasticsearch is resolved in {node.home}")
            return
        node.resolve()
    except EmbeddedError as error:
        raise click.ClickException(str(error)) from None


@es.command("start")
@_data_dir
@_port
@pass_context
def es_start(ctx: Context, data_dir: str | None, port: int | None) -> None:
    """Start the node in the background and wait until it is ready."""
    node = _embedded(ctx, data_dir, port)
    try:
        started = node.start()
    except EmbeddedError as error:
        raise click.ClickException(str(error)) from None
    _say(f"Elasticsearch {'started' if started else 'is already running'} at {node.url}")


@es.command("stop")
@_data_dir
@_port
@pass_context
def es_stop(ctx: Context, data_dir: str | None, port: int | None) -> None:
    """Stop the node cleanly."""
    node = _embedded(ctx, data_dir, port)
    if not node.stop():
        _say("Elasticsearch is not running")
    else:
        _say("Elasticsearch stopped")


@es.command("status")
@_data_dir
@_port
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@pass_context
def es_status(ctx: Context, data_dir: str | None, port: int | None, as_json: bool) -> None:
    """Say whether the node runs and how healthy it is; exit code 1 when it does not run."""
    status = _embedded(ctx, data_dir, port).status()
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(status)))
    elif status.running:
        _say(f"running (pid {status.pid}) at {status.url}, cluster health {status.health}")
    else:
        _say("not running")
    sys.exit(0 if status.running else 1)


@cli.command()
@pass_context
def shipper(ctx: Context) -> None:
    """Ship the spool to Elasticsearch until stopped (SIGTERM or Ctrl-C)."""
    settings = _with_reachable_es(ctx.settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stop.set())
    worker = Shipper(
        settings.spool.dir,
        build_client(settings.elasticsearch),
        settings.elasticsearch.index_prefix,
        settings.shipper,
        stop=stop,
    )
    logging.basicConfig(level=logging.INFO, format="shipper: %(levelname)s %(message)s")
    try:
        worker.run_forever()
    except ShipperAlreadyRunning as error:
        raise click.ClickException(str(error)) from None


@cli.command()
@click.option("--host", help="Listen address (default: logs.forward.host).")
@click.option("--port", type=int, help="TCP and UDP port (default: logs.forward.port, 24224).")
@pass_context
def forward(ctx: Context, host: str | None, port: int | None) -> None:
    """Receive Fluentd / Fluent Bit forward-protocol traffic into the spool until stopped.

    Acks are sent once the records are durably spooled; the shipper indexes them into the
    logs stream. Needs no Elasticsearch to accept data.
    """
    settings = ctx.settings
    options = settings.logs.forward
    spool = settings.spool
    secret = load_or_create_secret(settings.privacy.visitor_secret, spool.dir.parent / SECRET_FILE)
    sink = SpoolEventSink(
        SpoolWriter(spool.dir, spool.segment_bytes, spool.max_bytes),
        log_context(settings, DailySalts(secret)),
    )
    logging.basicConfig(level=logging.INFO, format="forward: %(levelname)s %(message)s")
    listen = (host or options.host, options.port if port is None else port)
    try:
        server = server_options(options)
    except (OSError, ssl.SSLError) as error:
        raise click.ClickException(f"logs.forward.tls: cannot use the files: {error}") from None
    _say(f"forward: listening on {listen[0]}:{listen[1]} (Ctrl-C stops)")
    try:
        run_forward_server(
            listen[0],
            listen[1],
            sink,
            **server,
            report=CounterMirror(),
            # One thread builds and spools batches: several would only fight over the GIL
            # (bench/forward.py: 4 connections, 2,853 -> 4,268 records/s).
            executor=ThreadPoolExecutor(1, thread_name_prefix="forward-sink"),
        )
    except OSError as error:
        raise click.ClickException(f"cannot listen on {listen[0]}:{listen[1]}: {error}") from None


@cli.command()
@click.option("--stream", default="hits", show_default=True, help="Which stream's indices.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per index.")
@pass_context
def mappings(ctx: Context, stream: str, as_json: bool) -> None:
    """Report mapped fields against the limit and the fields Elasticsearch did not map."""
    settings = _with_reachable_es(ctx.settings)
    client = build_client(settings.elasticsearch)
    pattern = stream_pattern(settings.elasticsearch.index_prefix, stream)
    reports = mapping_report(client, pattern)
    if not reports:
        click.echo(f"no indices match {pattern}")
    for report in reports:
        if as_json:
            click.echo(json.dumps(dataclasses.asdict(report)))
            continue
        click.echo(
            f"{report.index}: {report.mapped_fields}/{report.field_limit} fields mapped, "
            f"{report.documents_with_ignored} of {report.documents} documents with unmapped "
            "fields"
        )
        for field, documents in report.ignored_fields.items():
            click.echo(f"    {field}: not mapped in {documents} sampled documents")


@cli.group("dead-letters")
def dead_letters() -> None:
    """Documents Elasticsearch refused as invalid: list them, index them again."""


@dead_letters.command("list")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_context
def dead_letters_list(ctx: Context, limit: int, as_json: bool) -> None:
    """Show dead letters, oldest first."""
    store = _dead_letter_store(ctx)
    letters = store.list(limit)
    if as_json:
        for letter in letters:
            click.echo(json.dumps(dataclasses.asdict(letter), ensure_ascii=False))
        return
    click.echo(f"{store.count()} dead letters")
    for letter in letters:
        click.echo(
            f"{letter.failed_at}  {letter.target_index}/{letter.doc_id}  "
            f"{letter.error_type}: {letter.error_reason[:160]}"
        )


@dead_letters.command("replay")
@click.option("--limit", type=click.IntRange(1, 100_000), default=10_000, show_default=True)
@pass_context
def dead_letters_replay(ctx: Context, limit: int) -> None:
    """Index dead letters again; those Elasticsearch now accepts are removed from the list."""
    report = _dead_letter_store(ctx).replay(limit)
    click.echo(f"replayed: {report.stored} stored, {report.still_failing} still refused")


def _dead_letter_store(ctx: Context) -> DeadLetterStore:
    settings = _with_reachable_es(ctx.settings)
    return DeadLetterStore(
        build_client(settings.elasticsearch), settings.elasticsearch.index_prefix
    )


@cli.group()
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
    settings = _with_reachable_es(ctx.settings)
    streams = [_stream(stream)] if stream else list(settings.archive.streams)
    only = day.date() if day is not None else None
    with _stop_on_signals() as stop:
        es = build_client(settings.elasticsearch)
        archiver = Archiver(
            es,
            _archive_store(settings),
            settings.elasticsearch.index_prefix,
            settings.archive,
            stop=stop,
        )
        if only is not None and not archiver.is_closed(only):
            raise click.ClickException(
                f"{only} is not closed yet: a day is archived once it has ended (UTC) and "
                f"archive.grace ({settings.archive.grace:g} s) has passed"
            )
        lease = ArchiveLease(
            LeaseStore(es, settings.elasticsearch.index_prefix),
            holder_id(),
            settings.scheduler.run_lease_ttl,
        )
        if every is None:
            try:
                if not lease.run(lambda: _archive_once(archiver, streams, only, every_day=True)):
                    raise click.ClickException(
                        f"{lease.busy_message()}; try again when that run has finished"
                    )
            except ArchiveError as error:
                raise click.ClickException(str(error)) from None
            except Stopped:
                raise click.ClickException(
                    "stopped; the day in progress has no manifest and is written again by the "
                    "next run"
                ) from None
            return
        _say(f"archive: to {where(settings.archive)} every {every:g}s (SIGTERM or Ctrl-C stops)")
        run_every(
            lambda: _archive_or_skip(lease, lambda: _archive_once(archiver, streams, only)),
            every,
            stop,
            on_error=lambda error: _say(f"archive: {error} (trying again in {every:g}s)"),
        )
        _say("archive: stopped")


def _archive_or_skip(lease: ArchiveLease, job: Callable[[], None]) -> None:
    if not lease.run(job):
        _say(f"archive: skipped this time, {lease.busy_message()}")


def _archive_once(
    archiver: Archiver, streams: Sequence[str], only: date | None, *, every_day: bool = False
) -> None:
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
            _say(
                f"{label}: archived {report.docs} documents in {report.parts} parts "
                f"({report.reason})"
            )
        else:
            skipped += 1
            if every_day:
                _say(f"{label}: skipped, {report.reason} ({report.docs} documents)")
    if only is not None:
        for stream in streams:
            if stream not in seen:
                _say(f"{stream} {only}: no index, nothing to archive")
    _say(f"archive: {archived} archived, {skipped} skipped ({docs} documents in {parts} parts)")


@archive.command("restore")
@click.option("--stream", required=True, help="The stream to restore (hits, logs...).")
@click.option("--from", "first", required=True, type=_day, help="First UTC day (YYYY-MM-DD).")
@click.option("--to", "last", required=True, type=_day, help="Last UTC day (YYYY-MM-DD), included.")
@pass_context
def archive_restore(ctx: Context, stream: str, first: datetime, last: datetime) -> None:
    """Index archived days again; documents already in Elasticsearch are left as they are."""
    settings = _with_reachable_es(ctx.settings)
    stream = _stream(stream)
    days = docs = created = present = refused = missing = 0
    first_refusal: str | None = None
    with _stop_on_signals() as stop:
        restorer = Restorer(
            build_client(settings.elasticsearch),
            _archive_store(settings),
            settings.elasticsearch.index_prefix,
            settings.archive,
            settings.shipper,
            stop=stop,
        )
        try:
            restorer.store.check()
            for report in restorer.restore(stream, first.date(), last.date()):
                if report.status == "missing":
                    missing += 1
                    continue
                if report.status == "incomplete":
                    _say(
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
                _say(
                    f"{stream} {report.day}: {report.docs} documents: {report.created} created, "
                    f"{report.present} already present"
                    + (f", {report.refused} refused" if report.refused else "")
                )
        except ArchiveError as error:
            raise click.ClickException(str(error)) from None
        except Stopped:
            raise click.ClickException("stopped; run the restore again to finish it") from None
    _say(
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
                    _say(f"{name} {day.day}  incomplete: {day.parts} parts, no manifest")
                    continue
                _say(
                    f"{name} {day.day}  {day.manifest.doc_count} documents  "
                    f"{len(day.manifest.parts)} parts  {_size(day.bytes)}  "
                    f"archived {day.manifest.archived_at}"
                )
    except ArchiveError as error:
        raise click.ClickException(str(error)) from None
    if not found:
        _say(f"nothing archived in {where(settings.archive)}")


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


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """SIGINT and SIGTERM set the event (work stops at the next safe point) while inside."""
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda signum, frame: stop.set())
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def _with_reachable_es(settings: Settings) -> Settings:
    if settings.elasticsearch.url:
        return settings
    node = EmbeddedElasticsearch(settings.elasticsearch.embedded, say=_say)
    if not node.status().running:
        raise click.ClickException(
            "no elasticsearch.url is set and the embedded node is not running: "
            "start it with `metronome es start` or set METRONOME_ES_URL"
        )
    return dataclasses.replace(
        settings, elasticsearch=dataclasses.replace(settings.elasticsearch, url=node.url)
    )


def _say(message: str) -> None:
    click.echo(message, err=False)
    sys.stdout.flush()


cli.add_command(sources_cli.sources)
cli.add_command(sources_cli.scheduler)


def main() -> None:
    cli(prog_name="metronome")


if __name__ == "__main__":
    main()
