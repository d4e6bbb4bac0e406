"""``metronome notify channels | test CHANNEL [--to ADDRESS] | outbox | deliver``: the
notification channels, tried by hand, and the outbox."""

from __future__ import annotations

import html
import socket
from datetime import UTC, datetime
from typing import cast

import click

from metronome.cli.context import Context, elasticsearch_errors, pass_context, say
from metronome.config import Settings
from metronome.es.client import build_client
from metronome.notify import (
    Message,
    NotifyError,
    Outbox,
    OutboxEntry,
    channels_from_settings,
    notify_warnings,
    outbox_from_settings,
    send_now,
)
from metronome.notify.outbox import Status

STATUSES = ("pending", "sending", "sent", "failed")


@click.group()
def notify() -> None:
    """Notification channels (e-mail, webhooks) and the outbox."""


@notify.command("channels")
@pass_context
def list_channels(ctx: Context) -> None:
    """The configured channels and where each sends (no secret is shown)."""
    settings = ctx.settings
    _warn(settings)
    channels = channels_from_settings(settings.notify, warn=False)
    if not channels:
        say("No channels are configured; add them under `notify:` in the config file.")
    for name, channel in channels.items():
        say(f"{name}: {channel.describe()}")


@notify.command("test")
@click.argument("channel")
@click.option(
    "--to",
    "to",
    multiple=True,
    help="Send to this address instead of the channel's recipients (e-mail; repeatable).",
)
@pass_context
def test_channel(ctx: Context, channel: str, to: tuple[str, ...]) -> None:
    """Send a test message on CHANNEL now, and say what happened (exit 1 if it failed)."""
    settings = ctx.settings
    _warn(settings)
    channels = channels_from_settings(settings.notify, warn=False)
    target = channels.get(channel)
    if target is not None:
        where = target.describe() if not to else f"{target.describe()} (to {', '.join(to)})"
        say(f"Sending a test message on {channel!r}: {where}")
    try:
        note = send_now(channels, channel, test_message(channel), to)
    except NotifyError as error:
        raise click.ClickException(f"not sent: {error}") from None
    say(f"Sent: {note}")


@notify.command("outbox")
@click.option("--status", type=click.Choice(STATUSES), help="Only messages in this state.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@pass_context
@elasticsearch_errors("the outbox is kept there")
def outbox(ctx: Context, status: str | None, limit: int) -> None:
    """The latest queued messages: state, attempts, last error."""
    box = _outbox(ctx.reachable_settings())
    entries = box.entries(status=cast(Status | None, status), limit=limit)
    if not entries:
        say("The outbox is empty." if status is None else f"No message is {status}.")
    for entry in entries:
        say(_entry_line(entry))


@notify.command("deliver")
@pass_context
@elasticsearch_errors("the outbox is kept there")
def deliver(ctx: Context) -> None:
    """Send what is due in the outbox now (what the scheduler does periodically)."""
    report = _outbox(ctx.reachable_settings()).deliver_due()
    say(
        f"sent {report.sent}, to retry {report.retrying}, failed {report.failed}, "
        f"taken by another process {report.busy}, waiting for a failing channel "
        f"{report.deferred}"
    )
    for error in report.errors:
        say(f"  {error}")


def test_message(channel: str) -> Message:
    now = datetime.now(UTC).replace(microsecond=0)
    host = socket.gethostname()
    text = (
        f"This is a test message from Metronome on {host}, sent on channel {channel!r} at "
        f"{now.isoformat()}.\nIf you read it, the channel works."
    )
    return Message(
        subject=f"Metronome test message ({channel})",
        text=text,
        html="<p>" + html.escape(text).replace("\n", "<br>") + "</p>",
        fields={"test": True, "channel": channel, "host": host, "at": now.isoformat()},
    )


def _outbox(settings: Settings) -> Outbox:
    return outbox_from_settings(settings, build_client(settings.elasticsearch), warn=False)


def _warn(settings: Settings) -> None:
    for warning in notify_warnings(settings.notify):
        click.echo(f"Warning: {warning}", err=True)


def _entry_line(entry: OutboxEntry) -> str:
    when = entry.created_at.isoformat(timespec="seconds")
    line = f"{when} {entry.status:<7} {entry.channel} {entry.key} (attempts {entry.attempts})"
    if entry.status == "pending" and entry.attempts and entry.due_at:
        line += f", next at {entry.due_at.isoformat(timespec='seconds')}"
    if entry.status == "failed":
        line += f", {entry.failure}"
    if entry.last_error and entry.status != "sent":
        line += f": {entry.last_error}"
    return line
