"""The ``sources:``, ``scheduler:`` and ``webhooks:`` sections of the configuration.

    sources:
      metronome-repo:          # the instance name: state, ids and metrics are per instance
        type: github           # a source type (built-in or registered by an entry point)
        interval: 3600         # seconds between runs; or cron: "15 * * * *" (UTC)
        site: default          # the site its documents belong to (default: default_site)
        enabled: true
        repos: [acme/metronome]   # ...and the type's own options, checked by its options_schema
        token: ghp_...

A source's own options are checked when the configuration is loaded, with the same
``sources.<name>.<option>: message`` errors as every other setting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

SOURCE_NAME = r"^[a-z0-9][a-z0-9_.-]{0,63}\Z"
FRAMEWORK_KEYS = ("type", "enabled", "interval", "cron", "site")


@dataclass(frozen=True)
class SourceSettings:
    name: str
    type: str
    enabled: bool = True
    interval: float | None = None  # seconds; None with no cron: the type's default_interval
    cron: str | None = None  # five-field crontab, UTC
    site: str | None = None  # None: default_site
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)  # may hold secrets


@dataclass(frozen=True)
class SchedulerSettings:
    """The scheduler process: one per cluster (lease), HTTP behaviour of every source."""

    enabled: bool = True  # false: `metronome serve` starts no scheduler (run sources by hand)
    lease_ttl: float = 30.0  # seconds; a dead scheduler's lease is taken over after this
    run_lease_ttl: float = 30.0  # seconds; a run renews it every third; a dead run's frees after
    request_timeout: float = 30.0  # seconds per HTTP request to a remote API
    attempts: int = 5  # tries per request (429/5xx/connection errors are retried)
    max_wait: float = 120.0  # longest rate-limit wait slept through inside one run


GITHUB_MAX_PAYLOAD_BYTES = 25 * 1024 * 1024  # GitHub caps a webhook payload at 25 MB
MAX_WEBHOOK_BODY_BYTES = 100 * 1024 * 1024  # Elasticsearch's default http.max_content_length
DEFAULT_MAX_AGE_DAYS = 4.0  # GitHub's 3 days of redelivery, and a day to spare


@dataclass(frozen=True)
class GitHubWebhookSettings:
    secret: str | None = field(default=None, repr=False)  # None: POST /webhooks/github is off
    site: str | None = None  # None: default_site
    # GitHub caps a payload at 25 MB; a smaller limit refuses big pushes, and GitHub does not
    # retry a refused delivery by itself.
    max_body_bytes: int = GITHUB_MAX_PAYLOAD_BYTES
    # A delivery whose signed payload dates the event earlier than this is refused (a
    # replay); GitHub redelivers for up to 3 days. None: no limit.
    max_age_days: float | None = DEFAULT_MAX_AGE_DAYS


@dataclass(frozen=True)
class WebhookSettings:
    github: GitHubWebhookSettings = field(default_factory=GitHubWebhookSettings)


class _FrameworkKeys(Schema):
    class Meta:
        unknown = EXCLUDE  # the rest are the type's own options

    type = fields.String(required=True)
    enabled = fields.Boolean(load_default=True)
    interval = fields.Float(allow_none=True, validate=validate.Range(min=1))
    cron = fields.String(allow_none=True)
    site = fields.String(allow_none=True)

    @validates_schema
    def check_schedule(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("interval") and data.get("cron"):
            raise ValidationError("Set interval or cron, not both.", "cron")
        if data.get("cron"):
            try:
                CronTrigger.from_crontab(data["cron"], timezone="UTC")
            except ValueError as error:
                raise ValidationError(f"Not a valid crontab expression: {error}", "cron") from None


class SourceSchema(Schema):
    """One entry of ``sources:``: the framework's keys, then the type's options."""

    def load_source(self, name: str, raw: Any) -> SourceSettings:
        if not isinstance(raw, Mapping):
            raise ValidationError({name: ["Each source is a mapping with at least a type."]})
        try:
            common = _FrameworkKeys().load(raw)
        except ValidationError as error:
            raise ValidationError({name: error.messages}) from None
        # registry imports the source types, which import this module's neighbours
        from metronome.sources.registry import UnknownSourceType, source_type  # noqa: PLC0415

        try:
            kind = source_type(common["type"])
        except UnknownSourceType as error:
            raise ValidationError({name: {"type": [str(error)]}}) from None
        own = {key: value for key, value in raw.items() if key not in FRAMEWORK_KEYS}
        try:
            options = kind.options_schema().load(own)
        except ValidationError as error:
            raise ValidationError({name: error.messages}) from None
        return SourceSettings(
            name=name,
            type=common["type"],
            enabled=common["enabled"],
            interval=common.get("interval"),
            cron=common.get("cron") or None,
            site=common.get("site") or None,
            options=options,
        )


def load_sources(raw: Any) -> dict[str, SourceSettings]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValidationError(["A mapping of source names to their settings."])
    errors: dict[str, Any] = {}
    loaded: dict[str, SourceSettings] = {}
    for name, entry in raw.items():
        if not isinstance(name, str) or not re.match(SOURCE_NAME, name):
            errors[str(name)] = ["A source name is lowercase letters, digits, '_', '.' and '-'."]
            continue
        try:
            loaded[name] = SourceSchema().load_source(name, entry)
        except ValidationError as error:
            errors.update(
                error.messages if isinstance(error.messages, dict) else {name: error.messages}
            )
    if errors:
        raise ValidationError(errors)
    return loaded


class SchedulerSchema(Schema):
    class Meta:
        unknown = RAISE

    enabled = fields.Boolean()
    lease_ttl = fields.Float(validate=validate.Range(min=2))
    run_lease_ttl = fields.Float(validate=validate.Range(min=1))
    request_timeout = fields.Float(validate=validate.Range(min=0.1))
    attempts = fields.Integer(validate=validate.Range(min=1, max=20))
    max_wait = fields.Float(validate=validate.Range(min=0))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> SchedulerSettings:
        return SchedulerSettings(**data)


class GitHubWebhookSchema(Schema):
    class Meta:
        unknown = RAISE

    secret = fields.String(allow_none=True)
    site = fields.String(allow_none=True)
    max_body_bytes = fields.Integer(
        validate=validate.Range(min=1024, max=MAX_WEBHOOK_BODY_BYTES),
        load_default=GITHUB_MAX_PAYLOAD_BYTES,
    )
    max_age_days = fields.Float(
        allow_none=True, load_default=DEFAULT_MAX_AGE_DAYS, validate=validate.Range(min=0)
    )


class WebhookSchema(Schema):
    class Meta:
        unknown = RAISE

    github = fields.Nested(GitHubWebhookSchema)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> WebhookSettings:
        github = data.get("github") or {}
        return WebhookSettings(
            github=GitHubWebhookSettings(
                secret=github.get("secret") or None,
                site=github.get("site") or None,
                max_body_bytes=github.get("max_body_bytes", GITHUB_MAX_PAYLOAD_BYTES),
                max_age_days=github.get("max_age_days", DEFAULT_MAX_AGE_DAYS),
            )
        )
