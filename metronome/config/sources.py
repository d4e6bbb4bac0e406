"""``sources:`` (scheduled sources), ``scheduler:`` and ``webhooks:``.

    sources:
      metronome-repo:          # the instance name: state, ids and metrics are per instance
        type: github           # a source type (built-in or registered by an entry point)
        interval: 3600         # seconds between runs; or cron: "15 * * * *" (UTC)
        site: default          # the site its documents belong to (default: default_site)
        enabled: true
        repos: [acme/metronome]   # ...and the type's own options
        token: ghp_...

Here a source's keys above are checked; its type's own options are kept as given. The sources
package knows the types: ``metronome.sources.registry.check_source_options`` checks the
options against the type's ``options_schema`` (the entry points call it right after loading
the settings) and ``build_source`` hands the loaded options to the source.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from apscheduler.triggers.cron import CronTrigger
from marshmallow import EXCLUDE, ValidationError, fields
from marshmallow.validate import Range

from metronome.config.declare import INTERNAL, load_section, setting_names

SOURCE_NAME = r"^[a-z0-9][a-z0-9_.-]{0,63}\Z"
GITHUB_MAX_PAYLOAD_BYTES = 25 * 1024 * 1024  # GitHub caps a webhook payload at 25 MB
MAX_WEBHOOK_BODY_BYTES = 100 * 1024 * 1024  # Elasticsearch's default http.max_content_length
DEFAULT_MAX_AGE_DAYS = 4.0  # GitHub's 3 days of redelivery, and a day to spare


def crontab(value: str | None) -> None:
    if value:
        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as error:
            raise ValidationError(f"Not a valid crontab expression: {error}") from None


@dataclass(frozen=True)
class SourceSettings:
    name: Annotated[str, INTERNAL]  # its key under sources:
    type: str
    enabled: bool = True
    # seconds; None with no cron: the type's default_interval
    interval: Annotated[float | None, Range(min=1)] = None
    cron: Annotated[str | None, crontab] = None  # five-field crontab, UTC
    site: str | None = None  # None: default_site
    # the type's own options as configured (they may hold secrets: not in repr)
    options: Annotated[Mapping[str, Any], INTERNAL] = field(default_factory=dict, repr=False)

    def check(self) -> None:
        if self.interval and self.cron:
            raise ValidationError("Set interval or cron, not both.", "cron")


FRAMEWORK_KEYS = setting_names(SourceSettings)


class Sources(fields.Field):
    """Instance name -> ``SourceSettings``; errors under each name."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> dict[str, SourceSettings]:
        if not isinstance(value, Mapping):
            raise ValidationError("A mapping of source names to their settings.")
        errors: dict[str, Any] = {}
        loaded: dict[str, SourceSettings] = {}
        for name, entry in value.items():
            if not isinstance(name, str) or not re.match(SOURCE_NAME, name):
                errors[str(name)] = [
                    "A source name is lowercase letters, digits, '_', '.' and '-'."
                ]
            elif not isinstance(entry, Mapping):
                errors[name] = ["Each source is a mapping with at least a type."]
            else:
                own = {key: value for key, value in entry.items() if key not in FRAMEWORK_KEYS}
                try:
                    loaded[name] = load_section(
                        SourceSettings, entry, unknown=EXCLUDE, name=name, options=own
                    )
                except ValidationError as error:
                    errors[name] = error.messages
        if errors:
            raise ValidationError(errors)
        return loaded


@dataclass(frozen=True)
class SchedulerSettings:
    """The scheduler process: one per cluster (lease), HTTP behaviour of every source."""

    enabled: bool = True  # false: `metronome serve` starts no scheduler (run sources by hand)
    # seconds; a dead scheduler's lease is taken over after this
    lease_ttl: Annotated[float, Range(min=2)] = 30.0
    # seconds; a run renews it every third; a dead run's frees after
    run_lease_ttl: Annotated[float, Range(min=1)] = 30.0
    # seconds per HTTP request to a remote API
    request_timeout: Annotated[float, Range(min=0.1)] = 30.0
    # tries per request (429/5xx/connection errors are retried)
    attempts: Annotated[int, Range(min=1, max=20)] = 5
    max_wait: Annotated[float, Range(min=0)] = 120.0  # longest rate-limit wait slept in a run
    # bytes of one answer from a remote API, once decompressed; a larger one fails the run
    max_response_bytes: Annotated[int, Range(min=1024)] = 16 * 1024 * 1024


@dataclass(frozen=True)
class GitHubWebhookSettings:
    # None: POST /webhooks/github is off
    secret: str | None = field(default=None, repr=False)
    site: str | None = None  # None: default_site
    # GitHub caps a payload at 25 MB; a smaller limit refuses big pushes, and GitHub does not
    # retry a refused delivery by itself.
    max_body_bytes: Annotated[int, Range(min=1024, max=MAX_WEBHOOK_BODY_BYTES)] = (
        GITHUB_MAX_PAYLOAD_BYTES
    )
    # A delivery whose signed payload dates the event earlier than this is refused (a
    # replay); GitHub redelivers for up to 3 days. None: no limit.
    max_age_days: Annotated[float | None, Range(min=0)] = DEFAULT_MAX_AGE_DAYS


@dataclass(frozen=True)
class WebhookSettings:
    github: GitHubWebhookSettings = field(default_factory=GitHubWebhookSettings)
