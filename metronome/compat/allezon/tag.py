"""One user tag: its definition (``TAG``), from which come the check of ``POST /user_tags``
(``check_tag``), the words of its refusals and its OpenAPI schema (``compat.allezon.openapi``),
and the hits document it becomes.

The tag as received is kept in ``allezon_tag`` (in ``_source`` only: the field is
``enabled: false``), so profiles return it unchanged; its fields are stored beside it as
queryable keywords, with ``product_info.price`` a double like every number of the hits stream.
A tag's time is text only (the platform sends no epoch numbers): ISO 8601 in UTC with ``Z``.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from metronome.config import HitLimits
from metronome.enrich.times import iso_millis
from metronome.hits.eventtime import (
    DATE,
    HOUR,
    MINUTE,
    EventTimeError,
    TimeFormat,
    anchored,
)
from metronome.hits.fields import (
    INTEGRAL_FLOATS,
    Choice,
    Integer,
    IntegerOrText,
    Record,
    Refusal,
    Text,
    Time,
)
from metronome.hits.pipeline import STREAM, Document

TAG_FIELD = "allezon_tag"  # the tag as received; not indexed (es_templates/index/hits.json)
DEVICES = ("PC", "MOBILE", "TV")
ACTIONS = ("VIEW", "BUY")
MAX_TEXT = 1024  # the keyword fields' ignore_above: a longer value could not be found again
MAX_PRICE = 2**53  # every integer up to this is exact in the double the price is indexed as
# Like every hit, no time before 1970; milliseconds (or up to microseconds) and Z.
TAG_TIME_TEXT = f"{DATE}T{HOUR}:{MINUTE}:{MINUTE}(?:\\.[0-9]{{1,6}})?Z"
TAG_TIME = re.compile(TAG_TIME_TEXT)  # fullmatch
TAG_TIME_EXAMPLE = "2022-03-22T12:15:00.000Z"


class TagError(Refusal):
    default_code = "invalid_user_tag"


def parse_tag_time(value: Any) -> datetime:
    """A tag's time (UTC), or ``EventTimeError``: the grammar (a real calendar day from 1970,
    the schema's pattern too) decides, ``fromisoformat`` reads."""
    if isinstance(value, str) and TAG_TIME.fullmatch(value):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise EventTimeError("invalid")


def _text(name: str) -> Text:
    invalid = f"Not a valid text of 1 to {MAX_TEXT} characters."
    return Text(name, MAX_TEXT, required=True, unicode_checked=True, invalid=invalid)


def _id(name: str) -> IntegerOrText:
    return IntegerOrText(name, _text(name), "Not a valid id.", required=True)


PRODUCT_INFO = Record(
    "product_info",
    (
        _id("product_id"),
        _id("brand_id"),
        _id("category_id"),
        Integer("price", MAX_PRICE, "±2^53", required=True),
    ),
    required=True,
    description="Ids are integers or text, as the platform sends them",
)
# Checked in this order: the first failing field is the one reported.
TAG = Record(
    "",
    (
        Time(
            "time",
            TimeFormat(
                parse_tag_time,
                {"type": "string", "pattern": anchored(TAG_TIME_TEXT), "example": TAG_TIME_EXAMPLE},
            ),
            required=True,
            invalid=f"Use ISO-8601 UTC with Z from 1970 on, e.g. {TAG_TIME_EXAMPLE}.",
        ),
        _text("cookie"),
        _text("country"),
        _text("origin"),
        Choice("device", DEVICES, required=True),
        Choice("action", ACTIONS, required=True),
        PRODUCT_INFO,
    ),
    required=True,
    not_an_object="A user tag is a JSON object.",
    description=(
        "One user tag; no other field is accepted. Not said by this schema: text is valid "
        "Unicode (no unpaired surrogate); the time is at most the site's max_future_seconds "
        "(default a day) ahead of the server clock and no older than its max_age_days if set; "
        f"for the price and the ids, {INTEGRAL_FLOATS}."
    ),
)
_CHECK = TAG.checker(TagError, "")


def check_tag(raw: Any, limits: HitLimits, now: datetime) -> datetime:
    """Check one tag against ``TAG`` and the site's time window; return its time (UTC).
    Raises ``TagError`` naming the field."""
    moment: datetime = _CHECK(raw)["time"]
    ahead, age = _window(limits)
    if moment > now + ahead:
        raise TagError(
            f"time: more than {limits.max_future_seconds} seconds ahead of the server clock.",
            "time",
        )
    if age is not None and moment < now - age:
        raise TagError(f"time: more than {limits.max_age_days} days in the past.", "time")
    return moment


@cache
def _window(limits: HitLimits) -> tuple[timedelta, timedelta | None]:
    """How far ahead of and behind the clock a tag may be: built once per site's limits."""
    age = None if limits.max_age_days is None else timedelta(days=limits.max_age_days)
    return timedelta(seconds=limits.max_future_seconds), age


def tag_document(tag: dict[str, Any], moment: datetime, site: str, now: datetime) -> Document:
    """The hits document of one checked tag: Logstash fields, queryable fields, the tag."""
    info = tag["product_info"]
    return {
        "@timestamp": iso_millis(moment),
        "@version": "1",
        "type": STREAM,
        "site": site,
        "received_at": iso_millis(now),
        "hit_id": uuid.uuid4().hex,  # two equal tags are two events: each is stored
        "id": str(info["product_id"]),  # so /tock/<product_id>?site=... shows views and buys
        "event": tag["action"].lower(),
        "visitor": tag["cookie"],
        "cookie": tag["cookie"],
        "country": tag["country"],
        "device": tag["device"],
        "action": tag["action"],
        "origin": tag["origin"],
        "product_info": dict(info),
        TAG_FIELD: tag,
    }
