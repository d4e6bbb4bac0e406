"""``metronome shipper`` and ``metronome dead-letters``: the spool to Elasticsearch, and what
Elasticsearch refused of it."""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
import threading

import click

from metronome.cli.context import Context, pass_context, with_reachable_es
from metronome.es.bulk import GaveUp
from metronome.es.client import build_client
from metronome.spool.deadletters import DeadLetterStore
from metronome.spool.shipper import Shipper, ShipperAlreadyRunning


@click.command()
@pass_context
def shipper(ctx: Context) -> None:
    """Ship the spool to Elasticsearch until stopped (SIGTERM or Ctrl-C)."""
    settings = with_reachable_es(ctx.settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stop.set())
    worker = Shipper(
        settings.spool.dir,
        build_client(settings.elasticsearch),
        settings.elasticsearch.index_prefix,
        settings.shipper,
        stop=stop,
        storage=settings.storage,
    )
    logging.basicConfig(level=logging.INFO, format="shipper: %(levelname)s %(message)s")
    try:
        worker.run_forever()
    except ShipperAlreadyRunning as error:
        raise click.ClickException(str(error)) from None


@click.group("dead-letters")
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
    try:
        report = _dead_letter_store(ctx).replay(limit)
    except GaveUp as error:
        raise click.ClickException(
            f"{error}; no dead letter was removed: run the replay again later."
        ) from None
    click.echo(f"replayed: {report.stored} stored, {report.still_failing} still refused")


def _dead_letter_store(ctx: Context) -> DeadLetterStore:
    settings = with_reachable_es(ctx.settings)
    return DeadLetterStore(
        build_client(settings.elasticsearch), settings.elasticsearch.index_prefix, settings.storage
    )
