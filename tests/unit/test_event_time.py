"""Epoch seconds and milliseconds are read unambiguously wherever a hit's time is read: the
rule of ``metronome.hits.eventtime``, and the ingest requests that used to store epoch seconds
in January 1970 (the pixel, JSON hits, batches, beacons, form bodies)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from metronome.hits.eventtime import EventTimeError, epoch_time, parse_event_time
from metronome.web.app import create_app
from tests.conftest import make_settings
from tests.unit.test_allezon import spooled

INSTANT = datetime(2015, 10, 26, 22, 53, 20, tzinfo=UTC)  # 1445900000 in epoch seconds
STORED = "2015-10-26T22:53:20.000Z"


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (1445900000, INSTANT),
        (1445900000.5, datetime(2015, 10, 26, 22, 53, 20, 500000, tzinfo=UTC)),
        (1445900000000, INSTANT),
        (1445900000123, datetime(2015, 10, 26, 22, 53, 20, 123000, tzinfo=UTC)),
        (946684800, datetime(2000, 1, 1, tzinfo=UTC)),  # the first second read
        (946684800000, datetime(2000, 1, 1, tzinfo=UTC)),  # the first millisecond read
        (99_999_999_999, datetime(5138, 11, 16, 9, 46, 39, tzinfo=UTC)),  # the last second
        (99_999_999_999_999, datetime(5138, 11, 16, 9, 46, 39, 999000, tzinfo=UTC)),
    ],
)
def test_an_epoch_number_is_seconds_below_1e11_and_milliseconds_up_to_1e14(
    number: float, expected: datetime
) -> None:
    assert epoch_time(number) == parse_event_time(number) == expected


@pytest.mark.parametrize(
    "number",
    [
        0,
        42,
        946684799,  # 1999-12-31T23:59:59 in seconds
        100_000_000_000,  # 1e11 is milliseconds: March 1973
        946_684_799_999,
        100_000_000_000_000,  # 1e14: microseconds of 1973, or milliseconds of 5138
        1_445_900_000_000_000,  # microseconds
        1_445_900_000_000_000_000,  # nanoseconds
        -1445900000,
        1e300,
    ],
)
def test_a_number_the_rule_cannot_read_is_refused_as_such(number: float) -> None:
    with pytest.raises(EventTimeError) as caught:
        parse_event_time(number)
    assert caught.value.kind == "epoch"
    assert "epoch seconds below 1e11 and epoch milliseconds from 1e11" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-10-26T22:53:20Z", INSTANT),
        ("2015-10-26t22:53:20z", INSTANT),
        ("2015-10-26T23:53:20+01:00", INSTANT),
        ("2015-10-26T23:53:20+0100", INSTANT),
        ("2015-10-26T23:53:20+01", INSTANT),
        ("2015-10-26T22:53:20", INSTANT),  # no offset: UTC
        ("2015-10-26 22:53:20.000000000", INSTANT),
        ("2015-10-26T22:53:20,000Z", INSTANT),
        ("2015-10-26T22:53Z", datetime(2015, 10, 26, 22, 53, tzinfo=UTC)),
        ("2015-10-26", datetime(2015, 10, 26, tzinfo=UTC)),
        ("1970-01-01T00:00:00Z", datetime(1970, 1, 1, tzinfo=UTC)),  # text may be older
    ],
)
def test_iso_text_follows_the_stated_grammar(text: str, expected: datetime) -> None:
    assert parse_event_time(text) == expected


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("20151026T225320Z", "invalid"),  # the basic format: not in the grammar
        ("2015-W44-1", "invalid"),
        ("2015-10-26T22", "invalid"),
        ("2015-10-26T22:53:20Z\n", "invalid"),
        ("2015-02-30", "invalid"),
        ("1445900000", "invalid"),  # digits in JSON text are text, not a number
        ("1969-12-31T23:59:59Z", "range"),
        ("1970-01-01T00:30:00+01:00", "range"),
        ("9999-12-31T23:59:59-01:00", "range"),
    ],
)
def test_other_text_is_refused(text: str, kind: str) -> None:
    with pytest.raises(EventTimeError) as caught:
        parse_event_time(text)
    assert caught.value.kind == kind


# --- every ingest request that carries a time ------------------------------------------------


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    settings = make_settings("http://127.0.0.1:9", "unit", tmp_path / "spool")
    return create_app(settings, es=Elasticsearch("http://127.0.0.1:9")).test_client()


def stored_times(tmp_path: Path) -> list[str]:
    return [doc["@timestamp"] for doc in spooled(tmp_path / "spool")]


SENT: list[tuple[str, dict[str, Any]]] = [
    ("/tick.gif?id=x&time=1445900000", {}),
    ("/tick.gif?id=x&time=1445900000000", {}),
    ("/tick", {"json": {"id": "x", "time": 1445900000}}),
    ("/tick", {"json": [{"id": "x", "time": 1445900000}, {"id": "y", "time": 1445900000000}]}),
    ("/tick", {"data": json.dumps({"id": "x", "time": 1445900000}), "content_type": "text/plain"}),
    (
        "/tick",
        {
            "data": '{"id": "x", "time": 1445900000}\n{"id": "y", "time": 1445900000000}\n',
            "content_type": "application/x-ndjson",
        },
    ),
    (
        "/tick",
        {"data": "id=x&time=1445900000.000", "content_type": "application/x-www-form-urlencoded"},
    ),
]


@pytest.mark.parametrize(("url", "request_kwargs"), SENT)
def test_epoch_seconds_and_milliseconds_are_stored_as_the_same_instant(
    client: FlaskClient, tmp_path: Path, url: str, request_kwargs: dict[str, Any]
) -> None:
    method = client.get if url.startswith("/tick.gif") else client.post
    response = method(url, **request_kwargs)
    assert response.status_code in (200, 202), response.data
    times = stored_times(tmp_path)
    assert times and set(times) == {STORED}


@pytest.mark.parametrize(
    ("url", "request_kwargs"),
    [
        ("/tick.gif?id=x&time=42", {}),
        ("/tick.gif?id=x&time=1445900000000000", {}),
        ("/tick", {"json": {"id": "x", "time": 1445900}}),
        ("/tick", {"json": {"id": "x", "time": -1445900000}}),
    ],
)
def test_an_epoch_number_the_rule_cannot_read_is_a_400_naming_the_field_and_the_rule(
    client: FlaskClient, tmp_path: Path, url: str, request_kwargs: dict[str, Any]
) -> None:
    method = client.get if url.startswith("/tick.gif") else client.post
    response = method(url, **request_kwargs)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert (error["code"], error["field"]) == ("ambiguous_time", "time")
    assert "epoch seconds below 1e11 and epoch milliseconds from 1e11" in error["message"]
    assert stored_times(tmp_path) == []
