"""Channels from the settings (``notify.channels``, and the implicit ``email`` channel when
``notify.smtp`` is set), and the warnings a configuration deserves."""

from __future__ import annotations

import logging

from elasticsearch import Elasticsearch

from metronome.config import ChannelSettings, NotifySettings, Settings, SmtpSettings
from metronome.notify.backoff import RetryPolicy
from metronome.notify.channel import Channel
from metronome.notify.clock import Clock, system_clock
from metronome.notify.outbox import Outbox
from metronome.notify.payload import BodySpec
from metronome.notify.smtp import EmailChannel, SmtpServer
from metronome.notify.webhook import Endpoint, WebhookChannel

log = logging.getLogger(__name__)


def outbox_from_settings(
    settings: Settings, client: Elasticsearch, clock: Clock = system_clock, *, warn: bool = True
) -> Outbox:
    """The outbox of every channel, in ``<prefix>-notifications``, retrying as
    ``notify.delivery`` says. Build it once per process (``warn`` logs the warnings)."""
    channels = channels_from_settings(settings.notify, clock, warn=warn)
    policy = retry_policy(settings.notify)
    return Outbox(client, settings.elasticsearch.index_prefix, channels, clock, policy=policy)


def channels_from_settings(
    settings: NotifySettings, clock: Clock = system_clock, *, warn: bool = True
) -> dict[str, Channel]:
    """Every channel by name; ``warn``: log the configuration's warnings (once per call)."""
    if warn:
        for warning in notify_warnings(settings):
            log.warning("%s", warning)
    return {
        name: channel_from_settings(channel, settings.smtp, clock)
        for name, channel in settings.all_channels.items()
    }


def channel_from_settings(
    channel: ChannelSettings, smtp: SmtpSettings | None, clock: Clock = system_clock
) -> Channel:
    if channel.type == "email":
        assert smtp is not None  # the settings' check refuses an email channel without smtp
        return EmailChannel(channel.name, smtp_server(smtp), channel.to, clock)
    assert channel.url is not None
    endpoint = Endpoint(
        url=channel.url,
        secret=channel.secret,
        headers=dict(channel.headers),
        timeout=channel.timeout,
        ca_file=channel.ca_file,
        verify=channel.verify,
    )
    body = BodySpec(
        format=channel.format,
        template=channel.template,
        content_type=channel.content_type,
        username=channel.username,
        icon_url=channel.icon_url,
    )
    return WebhookChannel(channel.name, endpoint, body, clock)


def smtp_server(smtp: SmtpSettings) -> SmtpServer:
    return SmtpServer(
        host=smtp.host,
        port=smtp.effective_port,
        security=smtp.security,
        sender=smtp.sender,
        username=smtp.username,
        password=smtp.password,
        timeout=smtp.timeout,
        ca_file=smtp.ca_file,
        verify=smtp.verify,
    )


def retry_policy(settings: NotifySettings) -> RetryPolicy:
    delivery = settings.delivery
    return RetryPolicy(
        first_retry=delivery.first_retry,
        max_retry=delivery.max_retry,
        give_up_after=delivery.give_up_after,
        claim_ttl=delivery.claim_ttl,
        batch=delivery.batch,
    )


def notify_warnings(settings: NotifySettings) -> list[str]:
    """What is allowed but unsafe: certificates not verified, a password or a webhook sent
    in clear."""
    warnings: list[str] = []
    smtp = settings.smtp
    if smtp is not None and not smtp.verify and smtp.security != "none":
        warnings.append(
            "notify.smtp.verify is false: any certificate is trusted, so anyone on the way "
            "to the SMTP server can read the mail and the password; set ca_file instead"
        )
    if smtp is not None and smtp.security == "none" and smtp.password:
        warnings.append(
            "notify.smtp.security is none: the SMTP password and every message travel "
            "unencrypted; use starttls or tls"
        )
    for name, channel in settings.channels.items():
        if channel.type != "webhook":
            continue
        if not channel.verify:
            warnings.append(
                f"notify.channels.{name}.verify is false: any certificate is trusted; "
                "set ca_file instead"
            )
        if channel.url and channel.url.startswith("http://") and channel.secret:
            warnings.append(
                f"notify.channels.{name}.url is plain http: the signed messages can be read "
                "on the way (the signature still proves who sent them)"
            )
    return warnings
