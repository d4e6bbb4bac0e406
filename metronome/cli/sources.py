"""``metronome sources list | status | run NAME | backfill NAME --from --to | reset NAME``."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import click

from metronome.cli.context import Context, elasticsearch_errors, pass_context, say
from metronome.config import Settings, SourceSettings
from metronome.es.client import build_client
from metronome.es.templates import install_templates
from metronome.sources.base import Window
from metronome.sources.lease import LeaseStore, holder_id
from metronome.sources.registry import build_source, source_type, type_names
from metronome.sources.runner import RunReport, run_source, services_from_settings
from metronome.sources.scheduler import LEASE_NAME, describe_report
from metronome.sources.status import statuses
from metronome.sources.store import StateStore

SOURCES_KEPT = "source state and leases are kept there"


def ready(settings: Settings) -> Settings:
    """Templates in place before a source writes (safe to repeat): the state index's mapping
    keeps cursors unindexed, so cursors of any shape can be stored."""
    install_templates(build_client(settings.elasticsearch), settings.elasticsearch.index_prefix)
    return settings


@click.group()
def sources() -> None:
    """Scheduled sources: GitHub, S3 access logs, GA4, Prometheus, any JSON API."""


@sources.command("list")
@pass_context
def list_sources(ctx: Context) -> None:
    """The configured sources and the available source types (no Elasticsearch needed)."""
    settings = ctx.settings
    if not settings.sources:
        say("No sources are configured; add them under `sources:` in the config file.")
    for name, source in settings.sources.items():
        kind = source_type(source.type)
        built = build_source(source, settings.default_site)
        schedule = (
            f"cron {source.cron!r}"
            if source.cron
            else (f"every {source.interval or kind.default_interval:g}s")
        )
        state = "" if source.enabled else " (disabled)"
        say(
            f"{name}{state}: {source.type} -> stream {built.stream}, site "
            f"{source.site or settings.default_site}, {schedule}"
        )
        say(f"    options: {_shown_options(built.options, kind.secret_options())}")
    say(f"source types: {', '.join(type_names())}")


@sources.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@pass_context
@elasticsearch_errors(SOURCES_KEPT)
def status(ctx: Context, as_json: bool) -> None:
    """Last run, last success, lag and last error of every configured source."""
    settings = ctx.reachable_settings()
    client = build_client(settings.elasticsearch)
    store = StateStore(client, settings.elasticsearch.index_prefix)
    rows = statuses(settings.sources, store, datetime.now(UTC), _default_intervals(settings))
    lease = LeaseStore(client, settings.elasticsearch.index_prefix).current(LEASE_NAME)
    if as_json:
        scheduler = (
            None if lease is None else {"holder": lease.holder, "expires_at": lease.expires_at}
        )
        click.echo(json.dumps({"scheduler": scheduler, "sources": rows}, indent=2))
        return
    if lease is None or lease.expires_at < datetime.now(UTC).timestamp():
        say("scheduler: none running (start `metronome scheduler` or `metronome serve`)")
    else:
        say(f"scheduler: {lease.holder}")
    for row in rows:
        say(_status_line(row))
    failing = [row for row in rows if row["failing"]]
    sys.exit(1 if failing else 0)


@sources.command()
@click.argument("name")
@pass_context
@elasticsearch_errors(SOURCES_KEPT)
def run(ctx: Context, name: str) -> None:
    """Run one source now, from its stored cursor (exit 1 if it fails)."""
    settings = ready(ctx.reachable_settings())
    _exit_with(_run(settings, _configured(settings, name), None))


@sources.command()
@click.argument("name")
@click.option(
    "--from",
    "first",
    required=True,
    type=click.DateTime(["%Y-%m-%d"]),
    help="First UTC day to read again (YYYY-MM-DD).",
)
@click.option(
    "--to",
    "last",
    required=True,
    type=click.DateTime(["%Y-%m-%d"]),
    help="Last UTC day to read again, included.",
)
@pass_context
@elasticsearch_errors(SOURCES_KEPT)
def backfill(ctx: Context, name: str, first: datetime, last: datetime) -> None:
    """Read the days FROM..TO again (what the remote still offers); stored documents are
    not duplicated and the regular cursor does not move."""
    settings = ready(ctx.reachable_settings())
    try:
        window = Window(first.date(), last.date())
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--from/--to") from None
    if window.last > date.today():
        raise click.BadParameter("the range ends in the future", param_hint="--to")
    _exit_with(_run(settings, _configured(settings, name), window))


@sources.command()
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_context
@elasticsearch_errors(SOURCES_KEPT)
def reset(ctx: Context, name: str, yes: bool) -> None:
    """Forget a source's cursor: its next run reads everything again (nothing stored is
    duplicated; ids repeat)."""
    settings = ctx.reachable_settings()
    _configured(settings, name)
    if not yes:
        click.confirm(f"Forget the cursor and history of source {name!r}?", abort=True)
    store = StateStore(build_client(settings.elasticsearch), settings.elasticsearch.index_prefix)
    say("forgotten" if store.reset(name) else f"{name} had no stored state")


def _configured(settings: Settings, name: str) -> SourceSettings:
    if name not in settings.sources:
        known = ", ".join(settings.sources) or "none are configured"
        raise click.BadParameter(f"no source named {name!r} ({known})", param_hint="NAME")
    return settings.sources[name]


def _run(settings: Settings, source_settings: SourceSettings, window: Window | None) -> RunReport:
    services = services_from_settings(settings, holder_id(), progress=lambda m: say(f"  {m}"))
    source = build_source(source_settings, settings.default_site)
    what = f"back-filling {window.first}..{window.last}" if window else "running"
    say(f"{source.name}: {what} ({source.type_name} -> stream {source.stream})")
    stop = services.stop
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda signum, frame: stop.set()) for sig in signals}
    try:
        return run_source(source, services, window)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _exit_with(report: RunReport) -> None:
    say(describe_report(report))
    sys.exit(0 if report.ok else 1)


def _default_intervals(settings: Settings) -> dict[str, float]:
    return {s.type: source_type(s.type).default_interval for s in settings.sources.values()}


def _shown_options(options: Mapping[str, Any], secrets: frozenset[str]) -> str:
    shown: dict[str, Any] = {
        key: ("***" if key in secrets and value else value) for key, value in options.items()
    }
    return json.dumps(shown, default=str, sort_keys=True)


def _status_line(row: dict[str, Any]) -> str:
    if not row["enabled"]:
        return f"{row['name']}: disabled"
    last = row["last_success_at"] or "never"
    lag = f", lag {row['lag_seconds']:.0f}s" if row["lag_seconds"] is not None else ""
    flags = " STALE" if row["stale"] else ""
    line = (
        f"{row['name']} ({row['type']}): last success {last}{lag}{flags}, "
        f"{row['documents_total']} documents"
    )
    if row["last_error"]:
        error = row["last_error"]
        line += f"\n    failing ({row['consecutive_failures']} runs): {error['message']}"
        if error.get("retry_after"):
            line += f" (retry after {error['retry_after']})"
    for refusal in row.get("refused") or []:
        lasting = "refused, lasting" if refusal["permanent"] else "refused"
        what = f"{refusal['part']} {refusal['reading']}"
        line += f"\n    partial: {what} {lasting}: {refusal['reason']}"
    return line
