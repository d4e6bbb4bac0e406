"""``digests:``: e-mailed summaries of a dashboard, daily, weekly or monthly.

    digests:
      weekly-team:              # the digest's name: its schedule and sends are recorded by it
        site: shop              # default: default_site
        dashboard: web          # a built-in, file or stored dashboard of the site (default web)
        schedule: weekly        # daily | weekly | monthly
        time: "08:00"           # local time of day it is sent, in tz
        weekday: monday         # weekly only (default monday)
        day: 1                  # monthly only: 1..28 or "last" (default 1)
        tz: Europe/Warsaw       # IANA zone of the periods and the time (default UTC)
        channels: [ops-mail]    # notify channels, and/or
        to: [boss@example.org]  # addresses, sent through notify.smtp
        enabled: true

A daily digest covers yesterday, a weekly one the previous Monday-to-Sunday week, a monthly
one the previous calendar month, all in ``tz``. Errors name the digest and the field
(``digests.weekly-team.day: ...``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import ValidationError, fields
from marshmallow.validate import Email, Regexp

from metronome.config.declare import INTERNAL, NULL_IS_EMPTY, SPLIT, Each, Loader, load_section

DIGEST_NAME = r"^[a-z0-9][a-z0-9_.-]{0,63}\Z"
DASHBOARD_ID = r"^[a-z0-9][a-z0-9-]{0,62}\Z"  # the dashboards' own id syntax
CHANNEL_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z"
LOCAL_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]\Z"
Schedule = Literal["daily", "weekly", "monthly"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = (
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
)  # fmt: skip
LAST_DAY = "last"
MAX_MONTH_DAY = 28  # every month has it; "last" is the month's last day
MonthDay = Union[int, Literal["last"]]  # noqa: UP007 (the settings loader reads a Union)


def time_zone(value: str | None) -> None:
    if value is None:
        return
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"{value[:64]!r} is not a time zone; use an IANA name such as Europe/Warsaw."
        ) from None


class DayOfMonth(fields.Field):
    """1 to 28, or "last" (a number given as text, as the environment gives it, is read)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> MonthDay:
        if value == LAST_DAY:
            return "last"
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_MONTH_DAY:
            return value
        raise ValidationError(
            f'A day of the month from 1 to {MAX_MONTH_DAY} (every month has it), or "last".'
        )


@dataclass(frozen=True)
class DigestSettings:
    name: Annotated[str, INTERNAL]  # its key under digests:
    schedule: Schedule
    site: Annotated[str | None, Regexp(r"^[A-Za-z0-9_.-]{1,64}\Z")] = None  # None: default_site
    dashboard: Annotated[str, Regexp(DASHBOARD_ID, error="Not a dashboard id.")] = "web"
    time: Annotated[str, Regexp(LOCAL_TIME, error='A local time of day as "HH:MM".')] = "08:00"
    weekday: Weekday = "monday"  # weekly: the day of the week it is sent
    day: Annotated[MonthDay, Loader(DayOfMonth)] = 1  # monthly: the day of the month
    tz: Annotated[str | None, time_zone] = None  # None: UTC
    channels: Annotated[
        tuple[str, ...],
        SPLIT,
        NULL_IS_EMPTY,
        Each(Regexp(CHANNEL_NAME, error="Not a channel name.")),
    ] = ()
    to: Annotated[
        tuple[str, ...], SPLIT, NULL_IS_EMPTY, Each(Email(error="Not an e-mail address."))
    ] = ()
    enabled: bool = True

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz or "UTC")

    @property
    def hour_minute(self) -> tuple[int, int]:
        hour, minute = self.time.split(":")
        return int(hour), int(minute)

    def check(self) -> None:
        if not self.channels and not self.to:
            raise ValidationError(
                "Name at least one notify channel (channels) or address (to).", "channels"
            )


EMAIL_CHANNEL = "email"  # notify's channel of notify.smtp: where the addresses of ``to`` go


def digest_channel_problems(
    digests: Mapping[str, DigestSettings], channel_types: Mapping[str, str]
) -> dict[str, Any]:
    """Each digest's channels are notify channels, and ``to`` has an e-mail channel to go
    through; problems by digest and field."""
    problems: dict[str, Any] = {}
    known = ", ".join(sorted(channel_types)) or "none configured"
    for name, digest in digests.items():
        unknown = [c for c in digest.channels if c not in channel_types]
        if unknown:
            problems[name] = {
                "channels": [f"{unknown[0]!r} is not one of the notify channels ({known})."]
            }
        elif digest.to and channel_types.get(EMAIL_CHANNEL) != "email":
            problems[name] = {
                "to": ["Addresses are sent through notify.smtp: set notify.smtp (host, sender)."]
            }
        elif digest.to and EMAIL_CHANNEL in digest.channels:
            problems[name] = {
                "to": [f"Send to the {EMAIL_CHANNEL!r} channel or to addresses, not both."]
            }
    return problems


ONLY_FOR: Mapping[str, Schedule] = {"weekday": "weekly", "day": "monthly"}


class Digests(fields.Field):
    """Digest name -> ``DigestSettings``; errors under each name."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> dict[str, DigestSettings]:
        if not isinstance(value, Mapping):
            raise ValidationError("A mapping of digest names to their settings.")
        errors: dict[str, Any] = {}
        loaded: dict[str, DigestSettings] = {}
        for name, entry in value.items():
            if not isinstance(name, str) or not re.match(DIGEST_NAME, name):
                errors[str(name)] = [
                    "A digest name is 1 to 64 lowercase letters, digits, '_', '.' and '-'."
                ]
            elif not isinstance(entry, Mapping):
                errors[name] = ["Each digest is a mapping with at least a schedule."]
            else:
                try:
                    digest = load_section(DigestSettings, entry, name=name)
                    _only_where_it_applies(entry, digest.schedule)
                    loaded[name] = digest
                except ValidationError as error:
                    errors[name] = error.messages
        if errors:
            raise ValidationError(errors)
        return loaded


def _only_where_it_applies(entry: Mapping[str, Any], schedule: Schedule) -> None:
    """A weekday on a daily digest, or a day of the month on a weekly one, is a mistake."""
    for key, applies_to in ONLY_FOR.items():
        if key in entry and schedule != applies_to:
            raise ValidationError({key: [f"Only a {applies_to} digest has a {key}."]})
