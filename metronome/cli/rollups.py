"""``metronome rollups run | backfill | status``, and the rollup job the scheduler runs under
its lease (``scheduler_task``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import click
from elasticsearch import Elasticsearch

from metronome.cli.context import (
    Context,
    elasticsearch_errors,
    pass_context,
    say,
    stop_on_signals,
)
from metronome.config import Settings
from metronome.es.client import build_client
from metronome.rollups.backfill import backfill_stream, default_range, format_seconds
from metronome.rollups.job import StreamPlan, utc_now
from metronome.rollups.status import status_lines, stream_status
from metronome.rollups.store import RollupService, rollup_service
from metronome.sources.scheduler import PeriodicTask

KEPT = "the rollups and their state are kept there"


def scheduler_task(
    settings: Settings, client: Elasticsearch, say: Callable[[str], None]
) -> PeriodicTask | None:
    """The rollup job (under the scheduler's lease), every ``rollups.interval`` seconds; None
    when rollups are off or no stream has a group."""
    if not settings.rollups.enabled:
        return None
    service = rollup_service(
        client,
        settings.elasticsearch.index_prefix,
        settings.rollups,
        raw_days=settings.retention.raw_days,
        rollup_days=settings.retention.rollup_days,
    )
    if not service.plans:
        return None

    def run() -> None:
        for outcome in service.job.run():
            if outcome.error or outcome.ranges or outcome.stale:
                say(outcome.describe())

    return PeriodicTask("rollups", settings.rollups.interval, run)


def _service(ctx: Context) -> tuple[Settings, RollupService]:
    settings = ctx.reachable_settings()
    if not settings.rollups.enabled:
        raise click.ClickException("rollups are off (rollups.enabled: false)")
    client = build_client(settings.elasticsearch)
    prefix = settings.elasticsearch.index_prefix
    retention = settings.retention
    return settings, rollup_service(
        client,
        prefix,
        settings.rollups,
        raw_days=retention.raw_days,
        rollup_days=retention.rollup_days,
    )


def _plans(service: RollupService, stream: str | None) -> list[StreamPlan]:
    if stream is None:
        return list(service.plans)
    plan = service.plan(stream)
    if plan is None:
        known = ", ".join(p.stream for p in service.plans) or "none"
        raise click.BadParameter(
            f"{stream!r} has no rollup groups (streams with groups: {known})",
            param_hint="--stream",
        )
    return [plan]


@click.group()
def rollups() -> None:
    """Hourly and daily rollups: run the job now, back-fill past data, show how current they
    are."""


@rollups.command()
@click.option("--stream", help="Only this stream (default: every stream with groups).")
@click.option(
    "--sweep/--no-sweep",
    default=None,
    help="Compare raw and rollup counts over the whole late-data window (default: when due).",
)
@pass_context
@elasticsearch_errors(KEPT)
def run(ctx: Context, stream: str | None, sweep: bool | None) -> None:
    """Run the rollup job once, as the scheduler does every rollups.interval seconds."""
    _, service = _service(ctx)
    service.job.streams = tuple(_plans(service, stream))
    failed = False
    for outcome in service.job.run(sweep=sweep):
        say(outcome.describe())
        failed = failed or outcome.error is not None
    if failed:
        raise SystemExit(1)


def _day(value: date | datetime | None) -> datetime | None:
    if value is None:
        return None
    return datetime.combine(value if isinstance(value, date) else value.date(), time(), UTC)


@rollups.command()
@click.option("--stream", help="Only this stream (default: every stream with groups).")
@click.option(
    "--from",
    "first",
    type=click.DateTime(["%Y-%m-%d"]),
    help="First UTC day (default: the day of the stream's first document).",
)
@click.option(
    "--to", "last", type=click.DateTime(["%Y-%m-%d"]), help="Last UTC day (default: today)."
)
@click.option("--restart", is_flag=True, help="Start over instead of resuming an interrupted run.")
@pass_context
@elasticsearch_errors(KEPT)
def backfill(
    ctx: Context,
    stream: str | None,
    first: datetime | None,
    last: datetime | None,
    restart: bool,
) -> None:
    """Build the rollups of past days from the raw events, with progress. Interrupted (Ctrl-C),
    the same command resumes after the last day done."""
    settings, service = _service(ctx)
    plans = _plans(service, stream)
    prefix = settings.elasticsearch.index_prefix
    start, end = _day(first), _day(last)
    if start is not None and end is not None and end < start:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    now = utc_now()
    with stop_on_signals() as stop:
        for plan in plans:
            found = default_range(service.rollups.client, prefix, plan.stream, now)
            if found is None and start is None:
                say(f"{plan.stream}: no documents: nothing to back-fill")
                continue
            tomorrow = datetime.combine(now.date() + timedelta(days=1), time(), UTC)
            begin = start if start is not None else found[0] if found else tomorrow
            finish = end + timedelta(days=1) if end is not None else tomorrow
            if begin >= finish:
                say(f"{plan.stream}: nothing to back-fill from {begin:%Y-%m-%d}")
                continue
            result = backfill_stream(
                service.rollups.client,
                service.rollups,
                service.store,
                plan,
                start=begin,
                end=finish,
                say=say,
                stop=stop,
                restart=restart,
                now=now,
            )
            if result.no_raw:
                days = ", ".join(f"{day:%Y-%m-%d}" for day in result.no_raw[:5])
                more = f" and {len(result.no_raw) - 5} more" if len(result.no_raw) > 5 else ""
                say(
                    f"{plan.stream}: {len(result.no_raw)} days have rollups but no raw documents "
                    f"(deleted by retention?); their rollups were kept: {days}{more}"
                )
            if result.stopped:
                say(f"{plan.stream}: stopped; run the same command again to resume")
                raise SystemExit(130)
            say(
                f"{plan.stream}: back-filled {result.days} days in "
                f"{format_seconds(result.seconds)} ({result.written:,} rollup documents "
                f"written, {result.deleted:,} deleted)"
            )


@rollups.command()
@click.option("--stream", help="Only this stream.")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@pass_context
@elasticsearch_errors(KEPT)
def status(ctx: Context, stream: str | None, as_json: bool) -> None:
    """Per stream and grain: complete from/through (the watermark), rollup documents and lag;
    then the job's last run, interrupted work and stale ranges."""
    settings, service = _service(ctx)
    prefix = settings.elasticsearch.index_prefix
    now = utc_now()
    streams = [
        stream_status(
            service.rollups.client,
            prefix,
            service.store,
            plan,
            now=now,
            settle=settings.rollups.settle,
        )
        for plan in _plans(service, stream)
    ]
    if as_json:
        click.echo(json.dumps({"streams": streams}, indent=2))
        return
    for line in status_lines(streams, now):
        say(line)
