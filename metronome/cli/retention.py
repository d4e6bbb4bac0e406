"""``metronome retention plan | apply``, and the daily task the scheduler runs
(``scheduler_task``)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import click
from elasticsearch import Elasticsearch

from metronome.archive.errors import ArchiveError
from metronome.archive.store import S3Store
from metronome.cli.context import Context, pass_context, say, with_reachable_es
from metronome.config import Settings
from metronome.es.client import build_client
from metronome.retention.run import Verdict, apply_retention, plan_retention
from metronome.sources.scheduler import PeriodicTask

log = logging.getLogger(__name__)


@click.group()
def retention() -> None:
    """Delete raw indices and rollups older than `retention:` keeps (never an unarchived
    day while the archive is on)."""


@retention.command("plan")
@pass_context
def retention_plan(ctx: Context) -> None:
    """Print what `apply` would delete, and what it keeps and why."""
    settings = with_reachable_es(ctx.settings)
    verdicts = _plan(settings, build_client(settings.elasticsearch))
    for verdict in verdicts:
        say(verdict.line())
    going = sum(1 for v in verdicts if v.delete)
    say(f"retention: {going} indices would be deleted, {len(verdicts) - going} kept")


@retention.command("apply")
@pass_context
def retention_apply(ctx: Context) -> None:
    """Delete the indices `plan` shows as going."""
    settings = with_reachable_es(ctx.settings)
    client = build_client(settings.elasticsearch)
    verdicts = _plan(settings, client)
    for verdict in verdicts:
        if not verdict.delete:
            say(verdict.line())
    deleted = 0
    for verdict in apply_retention(client, verdicts):
        deleted += 1
        say(f"deleted {verdict.candidate.index}")
    say(f"retention: {deleted} indices deleted, {len(verdicts) - deleted} kept")


def _plan(settings: Settings, client: Elasticsearch) -> list[Verdict]:
    if not settings.retention.configured:
        say("retention: nothing is configured (retention.raw_days, retention.rollup_days)")
    try:
        store = S3Store(settings.archive) if settings.archive.enabled else None
        return plan_retention(client, settings, store=store)
    except ArchiveError as error:
        raise click.ClickException(f"{error}; nothing was deleted") from None


def scheduler_task(
    settings: Settings, es: Elasticsearch, tell: Callable[[str], None]
) -> PeriodicTask | None:
    """Retention applied every ``retention.every`` seconds, when any is configured."""
    if not settings.retention.configured:
        return None

    def run() -> None:
        store = S3Store(settings.archive) if settings.archive.enabled else None
        verdicts = plan_retention(es, settings, store=store)
        for verdict in apply_retention(es, verdicts):
            tell(f"retention: deleted {verdict.candidate.index} ({verdict.reason})")
        kept = [v for v in verdicts if not v.delete]
        if kept:
            tell(f"retention: kept {len(kept)} indices past their limit ({kept[0].line()})")

    return PeriodicTask("retention", settings.retention.every, run)
