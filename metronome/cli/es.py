"""``metronome setup``, ``metronome mappings`` and ``metronome es``: the index templates, the
mapped fields, and the embedded Elasticsearch node."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

from metronome.cli.context import Context, pass_context, say, stop_on_signals, with_reachable_es
from metronome.es.client import ElasticsearchUnusable, build_client, check_connection
from metronome.es.embedded import EmbeddedElasticsearch, EmbeddedError
from metronome.es.layout import layout_estimate, rollup_streams, single_indices
from metronome.es.mapping_report import mapping_report
from metronome.es.migrate import MigrationError, migrate, plan_moves, stream_indices
from metronome.es.naming import stream_pattern
from metronome.es.shards import ShardLimitReached
from metronome.es.templates import install_templates


@click.command()
@pass_context
def setup(ctx: Context) -> None:
    """Install the index templates into Elasticsearch (safe to repeat)."""
    settings = with_reachable_es(ctx.settings)
    client = build_client(settings.elasticsearch)
    assert settings.elasticsearch.url is not None  # with_reachable_es set it
    try:
        check_connection(client, settings.elasticsearch.url)
    except ElasticsearchUnusable as error:
        raise click.ClickException(str(error)) from None
    for template in install_templates(client, settings.elasticsearch.index_prefix):
        say(f"installed {template.kind} template {template.name}")


@click.command()
@click.option("--stream", default="hits", show_default=True, help="Which stream's indices.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per index.")
@pass_context
def mappings(ctx: Context, stream: str, as_json: bool) -> None:
    """Report mapped fields against the limit and the fields Elasticsearch did not map."""
    settings = with_reachable_es(ctx.settings)
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


@click.group()
def es() -> None:
    """The embedded Elasticsearch node (used when elasticsearch.url is not set), and the
    index layout (index periods, their shard cost, moving indices into them)."""


@es.command("layout")
@click.option("--years", type=click.IntRange(1, 100), default=10, show_default=True)
@pass_context
def es_layout(ctx: Context, years: int) -> None:
    """The shards the built-in streams take over YEARS at their configured index periods."""
    settings = ctx.settings
    estimate = layout_estimate(
        settings.storage,
        years=years,
        single=single_indices(settings.elasticsearch.index_prefix),
        rollup_streams=rollup_streams(settings.rollups),
    )
    for line in estimate.lines():
        say(line)
    say("(one shard per index on one node; a replica doubles it on a cluster)")


@es.command("migrate-layout")
@click.option(
    "--stream", "streams", multiple=True, help="Only this stream (repeat for more; default: all)."
)
@click.option("--dry-run", is_flag=True, help="Only list the indices that would be moved.")
@pass_context
def es_migrate_layout(ctx: Context, streams: tuple[str, ...], dry_run: bool) -> None:
    """Move indices into their stream's index period (storage.index_periods), one at a time,
    keeping every document's _id; safe to run while ingest runs, and to run again after an
    interruption (it resumes with what is left)."""
    settings = with_reachable_es(ctx.settings)
    client = build_client(settings.elasticsearch)
    prefix = settings.elasticsearch.index_prefix
    if dry_run:
        moves = plan_moves(stream_indices(client, prefix), settings.storage, streams)
        for move in moves:
            say(f"{move.source.name} ({move.source.period}) -> {move.period}")
        say(f"{len(moves)} indices to move")
        return
    moved = documents = 0
    with stop_on_signals() as stop:
        try:
            for report in migrate(
                client, prefix, settings.storage, streams=streams, say=say, stop=stop.is_set
            ):
                moved += 1
                documents += report.documents
        except (MigrationError, ShardLimitReached) as error:
            raise click.ClickException(f"{error} ({moved} indices moved before)") from None
    say(f"moved {moved} indices ({documents} documents)")


def _embedded(ctx: Context, data_dir: str | None, port: int | None) -> EmbeddedElasticsearch:
    embedded = ctx.settings.elasticsearch.embedded
    if data_dir is not None:
        embedded = dataclasses.replace(embedded, data_dir=Path(data_dir))
    if port is not None:
        embedded = dataclasses.replace(embedded, http_port=port)
    return EmbeddedElasticsearch(embedded, say=say)


_data_dir = click.option("--data-dir", help="Data directory (default: var/es).")
_port = click.option("--port", type=int, help="HTTP port (default: 9200).")


@es.command("resolve")
@pass_context
def es_resolve(ctx: Context) -> None:
    """Download the Elasticsearch jars from Maven Central (once; later runs reuse them)."""
    node = _embedded(ctx, None, None)
    try:
        if node.is_resolved():
            say(f"Elasticsearch is resolved in {node.home}")
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
    say(f"Elasticsearch {'started' if started else 'is already running'} at {node.url}")


@es.command("stop")
@_data_dir
@_port
@pass_context
def es_stop(ctx: Context, data_dir: str | None, port: int | None) -> None:
    """Stop the node cleanly."""
    node = _embedded(ctx, data_dir, port)
    if not node.stop():
        say("Elasticsearch is not running")
    else:
        say("Elasticsearch stopped")


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
        say(f"running (pid {status.pid}) at {status.url}, cluster health {status.health}")
    else:
        say("not running")
    sys.exit(0 if status.running else 1)
