"""The options of a ``ga4`` source, checked when the configuration is loaded.

sources:
  ga4-shop:
    type: ga4
    property_id: "123456789"
    metrics: [activeUsers, sessions]
    dimensions: [date, country]        # `date` is added when missing
    credentials_file: /etc/metronome/ga4-key.json   # or access_token: ya29...
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from ingesters.ga4.auth import CredentialsError, load_service_account

DEFAULT_API_URL = "https://analyticsdata.googleapis.com"
DEFAULT_PAGE_SIZE = 10_000
MAX_PAGE_SIZE = 250_000  # runReport returns at most this many rows per request
MAX_DIMENSIONS = 9  # per runReport request
MAX_METRICS = 10
DATE = "date"
API_NAME = r"^[A-Za-z][A-Za-z0-9_:]*\Z"  # `country`, `customEvent:plan`


class PropertyId(fields.Field):
    """The numeric GA4 property id, kept as a string. YAML reads ``property_id: 123456`` as a
    number, and the GA4 console shows ``properties/123456``: both are accepted."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValidationError("A GA4 property id: digits, such as 123456789.")
        text = str(value).strip().removeprefix("properties/")
        if not re.fullmatch(r"[0-9]{1,20}", text):
            raise ValidationError("A GA4 property id: digits, such as 123456789.")
        return text


class Day(fields.Date):
    """``2024-05-01``, quoted or not: YAML reads an unquoted date as a date already."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Any:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        return super()._deserialize(value, attr, data, **kwargs)


def _api_names() -> fields.String:
    return fields.String(
        validate=validate.Regexp(API_NAME, error="Not a GA4 API name (such as activeUsers).")
    )


class Ga4Options(Schema):
    property_id = PropertyId(required=True)
    dimensions = fields.List(
        _api_names(),
        load_default=lambda: [DATE],
        validate=validate.Length(max=MAX_DIMENSIONS),
    )
    metrics = fields.List(
        _api_names(), required=True, validate=validate.Length(min=1, max=MAX_METRICS)
    )
    api_url = fields.Url(require_tld=False, load_default=DEFAULT_API_URL)
    page_size = fields.Integer(
        load_default=DEFAULT_PAGE_SIZE, validate=validate.Range(min=1, max=MAX_PAGE_SIZE)
    )
    lookback_days = fields.Integer(load_default=3, validate=validate.Range(min=0, max=60))
    start_date = Day(load_default=None, allow_none=True)  # None: 30 days before the first run
    access_token = fields.String(load_default=None, allow_none=True, metadata={"secret": True})
    credentials_file = fields.String(load_default=None, allow_none=True)

    @validates_schema
    def check(self, data: dict[str, Any], **_: Any) -> None:
        if bool(data.get("access_token")) == bool(data.get("credentials_file")):
            raise ValidationError(
                "Set exactly one of access_token (a static OAuth token) and credentials_file "
                "(a service-account JSON key file).",
                "credentials_file",
            )
        if len(set(data.get("metrics") or [])) != len(data.get("metrics") or []):
            raise ValidationError("A metric is named twice.", "metrics")
        if data.get("credentials_file"):
            try:
                load_service_account(data["credentials_file"])
            except CredentialsError as error:
                raise ValidationError(str(error), "credentials_file") from None

    @post_load
    def finish(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["dimensions"] = with_date(data["dimensions"])
        if len(data["dimensions"]) > MAX_DIMENSIONS:
            raise ValidationError(
                f"At most {MAX_DIMENSIONS} dimensions, `date` included.", "dimensions"
            )
        data["api_url"] = data["api_url"].rstrip("/")
        return data


def with_date(dimensions: list[str]) -> list[str]:
    """Every report is read one day at a time and keyed by day: `date` is always a dimension
    (put first when the configuration left it out); a name given twice is kept once."""
    unique = list(dict.fromkeys(dimensions))
    return unique if DATE in unique else [DATE, *unique]
