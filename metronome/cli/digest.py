"""``metronome digest list | send NAME [--now] [--to ADDRESS] [--dry-run]``: the configured
digests, and one sent on demand (docs/digests.md).

``send`` without options sends the last full period (yesterday, last week, last month) as the
schedule would: through the outbox, recorded, so the scheduled run does not send it again (a
period already sent is not sent twice). ``--now`` sends the period so far (today, this week,
this month up to now), compared with as long a stretch just before it; it is not recorded.
``--to ADDRESS`` sends at once to that address only, outside the outbox, nothing recorded.
``--dry-run`` sends nothing: it prints the text and writes the HTML, the images and the
attachments to a directory."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import ParamSpec

import click
from elasticsearch import Elasticsearch

from metronome.cli.context import Context, elasticsearch_errors, pass_context, say
from metronome.config import ConfigError, DigestSettings, Settings, config_origin
from metronome.dashboards.builtins import builtin_dashboards
from metronome.dashboards.definition import Dashboard
from metronome.dashboards.files import dashboards_dir, load_dashboard_files
from metronome.dashboards.registry import Fixed
from metronome.digests.reports import render_with
from metronome.digests.runner import Built, DigestError, DigestRunner, digest_key, targets
from metronome.digests.schedule import Period, due_at, latest_due, period_containing
from metronome.errors import ApiError
from metronome.es.client import build_client
from metronome.es.templates import install_templates
from metronome.notify import NotifyError, outbox_from_settings, system_clock
from metronome.reports import ReportRenderer
from metronome.sources.scheduler import PeriodicTask

P = ParamSpec("P")
DIGEST_EVERY = 60.0  # seconds between the scheduler's looks at what is due


def _errors(command: Callable[P, None]) -> Callable[P, None]:
    """A digest or channel that cannot be made or sent is a one-line error."""

    @functools.wraps(command)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except (DigestError, NotifyError) as error:
            raise click.ClickException(str(error)) from None
        except ApiError as error:
            raise click.ClickException(f"the digest cannot be made: {error.message}") from None

    return elasticsearch_errors()(wrapped)


@click.group()
def digest() -> None:
    """E-mailed digests of a dashboard: daily, weekly, monthly."""


@digest.command("list")
@pass_context
@_errors
def list_digests(ctx: Context) -> None:
    """Each digest: its schedule, where it goes, the last period sent and the next send."""
    settings = ctx.reachable_settings()
    if not settings.digests:
        say("No digests are configured; add them under `digests:` in the config file.")
        return
    runner, _ = _runner(ctx, settings, render=False)
    now = datetime.now(UTC)
    for item in settings.digests.values():
        tz = item.zone
        last = runner.sent.last(item.name)
        latest = latest_due(now, item)
        following = period_containing(latest.end, item.schedule, tz)
        sent = (
            f"last sent: the period from {last.period_start.astimezone(tz):%Y-%m-%d}"
            if last
            else "never sent"
        )
        where = ", ".join(
            channel if not to else f"{channel} to {', '.join(to)}" for channel, to in targets(item)
        )
        state = "" if item.enabled else " (disabled)"
        say(
            f"{item.name}{state}: {_schedule(item)}; dashboard {item.dashboard} of site "
            f"{runner.site_of(item)}; to {where}; {sent}; next "
            f"{due_at(following, item).astimezone(tz):%Y-%m-%d %H:%M %Z}"
        )


def _schedule(item: DigestSettings) -> str:
    at = f"{item.time} {item.zone.key}"
    if item.schedule == "weekly":
        return f"weekly, {item.weekday} {at}"
    if item.schedule == "monthly":
        day = "the last day" if item.day == "last" else f"day {item.day}"
        return f"monthly, {day} {at}"
    return f"daily, {at}"


@digest.command("send")
@click.argument("name")
@click.option(
    "--now", "so_far", is_flag=True, help="The period so far instead of the last full one."
)
@click.option("--to", "address", help="Send at once to this address only (nothing is recorded).")
@click.option("--dry-run", is_flag=True, help="Send nothing: print the text, write the rest.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where --dry-run writes the HTML and attachments (default: var/digests/NAME-START).",
)
@pass_context
@_errors
def send(  # noqa: PLR0917 (click passes the options by keyword)
    ctx: Context, name: str, so_far: bool, address: str | None, dry_run: bool, out: Path | None
) -> None:
    """Send digest NAME now: its last full period, or with --now the period so far."""
    settings = ctx.reachable_settings()
    item = settings.digests.get(name)
    if item is None:
        known = ", ".join(sorted(settings.digests)) or "none configured"
        raise click.ClickException(f"no digest {name!r} (digests: {known})")
    runner, renderer = _runner(ctx, settings, render=True)
    try:
        period = runner.on_demand_period(item, so_far=so_far)
        if dry_run:
            _dry_run(runner.build(item, period), out)
        elif address:
            runner.send_to(item, period, address)
            say(f"sent {name} ({_span(period)}) to {address}")
        elif so_far:
            built = runner.queue_so_far(item, period)
            _deliver(runner, built)
        else:
            last = runner.sent.last(name)
            if last is not None and last.period_start >= period.start:
                say(f"{name}: the period {_span(period)} was already sent ({last.key}); "
                    "use --to ADDRESS to send it again to one address")  # fmt: skip
                return
            _deliver(runner, runner.send_period(item, period))
    finally:
        if renderer is not None:
            renderer.close()


def _deliver(runner: DigestRunner, built: Built) -> None:
    report = runner.outbox.deliver_due()
    channels = ", ".join(channel for channel, _ in targets(built.digest))
    say(
        f"queued {built.key} on {channels}; delivered now: {report.sent} sent, "
        f"{report.retrying} to retry, {report.failed} failed"
    )
    for error in report.errors:
        say(f"  {error}")


def _span(period: Period) -> str:
    return f"{period.start:%Y-%m-%d %H:%M} to {period.end:%Y-%m-%d %H:%M} UTC"


def _dry_run(built: Built, out: Path | None) -> None:
    start = built.period.start.astimezone(built.digest.zone)
    folder = out or Path("var") / "digests" / f"{built.digest.name}-{start:%Y%m%d}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "digest.html").write_text(built.mail.html, encoding="utf-8")
    (folder / "digest.txt").write_text(built.mail.text, encoding="utf-8")
    for file in built.mail.files:
        (folder / Path(file.filename).name).write_bytes(file.data)
    click.echo(f"Subject: {built.mail.subject}\n")
    click.echo(built.mail.text)
    say(f"(dry run: nothing sent; key would be {digest_key(built.digest.name, built.period)}; "
        f"HTML, images and attachments in {folder})")  # fmt: skip


def scheduler_task(
    settings: Settings, client: Elasticsearch, config_file: str | None
) -> PeriodicTask | None:
    """The scheduler's digest task (under its lease): every minute, the digests that are due
    are built and queued (the notifications task delivers them). None without digests."""
    if not any(item.enabled for item in settings.digests.values()):
        return None
    outbox = outbox_from_settings(settings, client, warn=False)
    renderer = ReportRenderer(settings.reports)
    runner = DigestRunner(
        settings,
        client,
        outbox,
        fixed=Fixed(builtin_dashboards(), _files(settings, config_file)),
        clock=system_clock,
        render=render_with(renderer),
    )

    def run() -> None:
        runner.run_due()

    return PeriodicTask("digests", DIGEST_EVERY, run)


def _files(settings: Settings, config_file: str | None) -> tuple[Dashboard, ...]:
    try:
        return load_dashboard_files(dashboards_dir(settings, config_origin(config_file)))
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


def _runner(
    ctx: Context, settings: Settings, *, render: bool
) -> tuple[DigestRunner, ReportRenderer | None]:
    client = build_client(settings.elasticsearch)
    prefix = settings.elasticsearch.index_prefix
    install_templates(client, prefix)
    files = _files(settings, ctx.config_file)
    outbox = outbox_from_settings(settings, client)
    renderer = ReportRenderer(settings.reports) if render else None
    runner = DigestRunner(
        settings,
        client,
        outbox,
        fixed=Fixed(builtin_dashboards(), files),
        clock=system_clock,
        render=render_with(renderer) if renderer else None,
    )
    return runner, renderer
