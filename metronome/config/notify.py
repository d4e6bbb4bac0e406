"""``notify:``: the SMTP server, the channels messages go out on, and how the outbox retries.

    notify:
      smtp:                         # one SMTP server for every e-mail channel
        host: smtp.example.org
        port: 587                   # default: 25, 587 or 465 by security
        security: starttls          # none | starttls | tls
        username: metronome
        password: ...               # a secret: give it as METRONOME_NOTIFY__SMTP__PASSWORD
        sender: "Metronome <metronome@example.org>"
      channels:
        ops-mail: {type: email, to: [ops@example.org]}
        chat:     {type: webhook, url: https://chat.example.org/hooks/x, format: slack}
        signed:   {type: webhook, url: https://hooks.example/m, secret: ...}

A channel is referred to by its name (alert rules, digests). Each error names the channel and
the field. Secrets (``password``, ``secret``, ``headers``, URLs, templates) are kept out of
``repr()``, so they never reach a log or an error message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from marshmallow import ValidationError, fields
from marshmallow.validate import Length, Range

from metronome.config.bodytemplate import TemplateError, check_template, render_template
from metronome.config.bodytemplate import sample_values as template_samples
from metronome.config.declare import INTERNAL, SPLIT, Each, Loader, load_section
from metronome.config.elasticsearch import existing_file

CHANNEL_NAME = r"^[a-z0-9][a-z0-9_.-]{0,63}\Z"
# An address's local part and domain: no spaces, no characters of a header's structure.
ADDRESS = re.compile(
    r"[^@\s<>()\[\],;:\"\\]+@[A-Za-z0-9\u00a0-\uffff-]+(\.[A-Za-z0-9\u00a0-\uffff-]+)*"
)
DISPLAY_NAME = re.compile(r"(?P<name>[^<>\r\n]*)<(?P<address>[^<>\r\n]+)>")
DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}
MIN_SECRET = 16  # characters of a webhook's signing secret
DEFAULT_EMAIL_CHANNEL = "email"  # there whenever smtp is, unless a channel takes its name


def mailbox_address(value: str) -> str:
    """The address of ``addr@host`` or ``Name <addr@host>``; ``ValidationError`` else."""
    text = value.strip()
    named = DISPLAY_NAME.fullmatch(text)
    address = named.group("address").strip() if named else text
    if "\r" in value or "\n" in value or not ADDRESS.fullmatch(address):
        raise ValidationError(f"{value[:80]!r} is not an e-mail address (name@example.org).")
    return address


def http_url(value: str) -> str:
    """An http(s) URL with a host; the message never repeats the URL (it may hold a secret)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises for a port that is no number
    except ValueError:
        raise ValidationError("Not a valid URL.") from None
    if parts.scheme not in ("http", "https"):
        raise ValidationError("Use an http:// or https:// URL.")
    if not parts.hostname or any(c.isspace() for c in value):
        raise ValidationError("Not a valid URL: it needs a host, and no spaces.")
    return value


def headers(**options: Any) -> fields.Field:
    return fields.Dict(
        keys=fields.String(validate=Length(min=1)), values=fields.String(), **options
    )


@dataclass(frozen=True)
class SmtpSettings:
    """The one SMTP server every e-mail channel sends through."""

    host: Annotated[str, Length(min=1, max=253)]
    sender: Annotated[str, mailbox_address]  # the From: "Metronome <metronome@example.org>"
    port: Annotated[int | None, Range(min=1, max=65535)] = None  # None: by security
    # none: plain (on a trusted network only); starttls: upgraded before anything is sent,
    # refused when the server does not offer it; tls: TLS from the first byte (port 465)
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: Annotated[float, Range(min=1, max=300)] = 10.0  # seconds per network operation
    ca_file: Annotated[Path | None, existing_file] = None  # PEM of a private CA
    verify: bool = True  # false: any certificate is trusted (warned about at every start)

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]

    def check(self) -> None:
        if bool(self.username) != bool(self.password):
            missing = "password" if self.username else "username"
            raise ValidationError("Set both username and password, or neither.", missing)
        if self.ca_file and not self.verify:
            raise ValidationError("ca_file has no use with verify: false.", "ca_file")


@dataclass(frozen=True)
class ChannelSettings:
    """One channel: ``email`` (through ``notify.smtp``) or ``webhook`` (an HTTP POST)."""

    name: Annotated[str, INTERNAL]  # its key under notify.channels
    type: Literal["email", "webhook"]
    # email: the recipients (a message may name others: digests' --to)
    to: Annotated[tuple[str, ...], SPLIT, Each(mailbox_address)] = ()
    # webhook: where to POST (may hold a token in its path or query: a secret)
    url: Annotated[str | None, http_url] = field(default=None, repr=False)
    format: Literal["json", "slack", "mattermost"] = "json"
    # a body of one's own (SMS gateways...): see metronome.config.bodytemplate
    template: str | None = field(default=None, repr=False)
    content_type: Annotated[str, Length(min=1, max=200)] = "application/json"
    # signs each body (X-Metronome-Signature, HMAC-SHA256)
    secret: str | None = field(default=None, repr=False)
    # extra request headers (Authorization of an SMS gateway...): secrets
    headers: Annotated[Mapping[str, str], Loader(headers)] = field(default_factory=dict, repr=False)
    username: Annotated[str | None, Length(min=1, max=100)] = None  # slack, mattermost
    icon_url: Annotated[str | None, http_url] = None  # slack, mattermost
    timeout: Annotated[float, Range(min=1, max=300)] = 10.0  # seconds to connect, and to answer
    ca_file: Annotated[Path | None, existing_file] = None  # PEM of a private CA
    verify: bool = True

    def check(self) -> None:
        if self.type == "email":
            self._check_email()
        else:
            self._check_webhook()

    def _check_email(self) -> None:
        for name in WEBHOOK_ONLY:
            if getattr(self, name) != getattr(_WEBHOOK_DEFAULTS, name):
                raise ValidationError("Not a setting of an email channel.", name)

    def _check_webhook(self) -> None:
        if self.to:
            raise ValidationError("Not a setting of a webhook channel (e-mail only).", "to")
        if not self.url:
            raise ValidationError("A webhook channel needs a url.", "url")
        if self.secret is not None and len(self.secret) < MIN_SECRET:
            raise ValidationError(
                f"Too short: a signing secret has at least {MIN_SECRET} characters.", "secret"
            )
        if self.ca_file and not self.verify:
            raise ValidationError("ca_file has no use with verify: false.", "ca_file")
        if self.template is None:
            return
        if self.format != "json":
            raise ValidationError(
                f"A template gives the whole body: leave format out (it is {self.format!r}).",
                "template",
            )
        try:
            check_template(self.template)
        except TemplateError as error:
            raise ValidationError(str(error), "template") from None
        if is_json(self.content_type):
            try:
                json.loads(render_template(self.template, template_samples()))
            except ValueError:
                raise ValidationError(
                    f"The body is not valid JSON for every message (content_type is "
                    f"{self.content_type}): put {{{{ name }}}} inside quotes, or use "
                    "{{ name | tojson }} without them.",
                    "template",
                ) from None


WEBHOOK_ONLY = ("url", "template", "secret", "headers", "username", "icon_url")
_WEBHOOK_DEFAULTS = ChannelSettings(name="", type="webhook")


def is_json(content_type: str) -> bool:
    kind = content_type.split(";", maxsplit=1)[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


class Channels(fields.Field):
    """Channel name -> ``ChannelSettings``; errors under each name."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> dict[str, ChannelSettings]:
        if not isinstance(value, Mapping):
            raise ValidationError("A mapping of channel names to their settings.")
        errors: dict[str, Any] = {}
        loaded: dict[str, ChannelSettings] = {}
        for name, entry in value.items():
            if not isinstance(name, str) or not re.match(CHANNEL_NAME, name):
                errors[str(name)] = [
                    "A channel name is lowercase letters, digits, '_', '.' and '-'."
                ]
            elif not isinstance(entry, Mapping):
                errors[name] = ["Each channel is a mapping with at least a type."]
            else:
                try:
                    loaded[name] = load_section(ChannelSettings, entry, name=name)
                except ValidationError as error:
                    errors[name] = error.messages
        if errors:
            raise ValidationError(errors)
        return loaded


@dataclass(frozen=True)
class DeliverySettings:
    """How the outbox retries: 1 minute, 2, 4... up to an hour between attempts; given up
    after 3 days."""

    first_retry: Annotated[float, Range(min=1)] = 60.0  # seconds after the first failure
    max_retry: Annotated[float, Range(min=1)] = 3600.0  # the longest wait between attempts
    give_up_after: Annotated[float, Range(min=60)] = 3.0 * 86400  # seconds since queued
    # seconds a process may take to send one message: a claim older than this (its holder
    # died) is taken over, and the message sent again
    claim_ttl: Annotated[float, Range(min=10)] = 300.0
    batch: Annotated[int, Range(min=1, max=1000)] = 100  # messages per deliver_due run

    def check(self) -> None:
        if self.max_retry < self.first_retry:
            raise ValidationError("Must be at least first_retry.", "max_retry")


@dataclass(frozen=True)
class NotifySettings:
    smtp: SmtpSettings | None = None
    channels: Annotated[Mapping[str, ChannelSettings], Loader(Channels)] = field(
        default_factory=dict
    )
    delivery: DeliverySettings = field(default_factory=DeliverySettings)

    @property
    def all_channels(self) -> dict[str, ChannelSettings]:
        """The channels, and ``email`` (no recipients of its own: a message names them) when
        smtp is set and no channel has that name."""
        implicit = {}
        if self.smtp is not None and DEFAULT_EMAIL_CHANNEL not in self.channels:
            implicit[DEFAULT_EMAIL_CHANNEL] = ChannelSettings(DEFAULT_EMAIL_CHANNEL, "email")
        return {**self.channels, **implicit}

    def check(self) -> None:
        errors: dict[str, Any] = {}
        for name, channel in self.channels.items():
            if channel.type == "email" and self.smtp is None:
                errors[name] = {"type": ["An email channel needs notify.smtp (host, sender)."]}
        if errors:
            raise ValidationError({"channels": errors})
        longest = max(
            [c.timeout for c in self.channels.values()]
            + ([self.smtp.timeout] if self.smtp else [])
            + [0.0]
        )
        if self.delivery.claim_ttl < 10 * longest:
            message = (
                f"Must be at least 10 times the longest timeout ({longest:g} s): a send "
                "still under way when its claim expires may be repeated."
            )
            raise ValidationError({"delivery": {"claim_ttl": [message]}})
