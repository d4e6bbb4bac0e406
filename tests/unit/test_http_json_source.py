"""The pure parts of the http_json source: paths, times, versions, records, pages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from marshmallow import ValidationError

from ingesters.http_json import (
    HttpJsonOptions,
    HttpJsonSource,
    RecordRules,
    highest,
    in_window,
    lookup,
    micros,
    next_url,
    param_text,
    parse_time,
    record_document,
    records_of,
    stored_fields,
)
from metronome.sources.base import SourceError

READ_AT = datetime(2024, 6, 1, 12, tzinfo=UTC)
MAY_1 = datetime(2024, 5, 1, 10, tzinfo=UTC)
ANSWER = {"data": {"items": [{"id": 1, "tags": ["a", "b"]}], "total": 0}}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", ANSWER),
        ("data.total", 0),
        ("data.items.0.id", 1),
        ("data.items.0.tags.1", "b"),
        ("data.items.5.id", None),
        ("data.missing.deeper", None),
        ("data.total.deeper", None),
        ("data.items.x", None),
    ],
)
def test_lookup_follows_dotted_paths_through_objects_and_lists(path: str, expected: Any) -> None:
    assert lookup(ANSWER, path) == expected


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-01T10:00:00Z",
        "2024-05-01T12:00:00+02:00",
        "2024-05-01T10:00:00",  # no offset: UTC
        1714557600,
        1714557600.0,
        1714557600000,  # milliseconds
        "1714557600",
        "1714557600000",
    ],
)
def test_times_are_iso_8601_or_epoch_seconds_or_milliseconds(value: Any) -> None:
    assert parse_time(value) == MAY_1


@pytest.mark.parametrize("value", [None, True, "yesterday", {"t": 1}, [], 1e300, ""])
def test_what_is_not_a_time_is_none(value: Any) -> None:
    assert parse_time(value) is None


def test_epoch_seconds_and_milliseconds_part_at_one_hundred_billion() -> None:
    assert parse_time(99_999_999_999) == datetime(5138, 11, 16, 9, 46, 39, tzinfo=UTC)
    assert parse_time(100_000_000_000) == datetime(1973, 3, 3, 9, 46, 40, tzinfo=UTC)


def test_micros_is_exact() -> None:
    assert micros(datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)) == 1714557600123456


def test_the_highest_incremental_value_compares_times_as_times() -> None:
    values = ["2024-05-01T10:00:00+02:00", "2024-05-01T09:00:00Z", None]
    assert highest(values) == "2024-05-01T09:00:00Z"  # 09:00Z is later than 08:00Z
    assert (
        highest(["2024-04-01T00:00:00Z"], current="2024-05-01T00:00:00Z") == "2024-05-01T00:00:00Z"
    )
    assert highest(["b", "c", "a"]) == "c"
    assert highest([], current=None) is None


def test_incremental_values_are_sent_as_text() -> None:
    assert param_text("2024-05-01T10:00:00Z") == "2024-05-01T10:00:00Z"
    assert param_text(1714557600) == "1714557600" and param_text(True) == "true"


def test_a_record_becomes_a_document_keyed_by_its_id() -> None:
    record = {"id": "ord-1", "created_at": 1714557600000, "type": "order", "_rev": 3, "n": 1}
    document = record_document(record, RecordRules(id="id", time="created_at"), READ_AT)
    assert document.key == "ord-1" and document.timestamp == MAY_1 and document.version is None
    assert document.fields == {
        "id": "ord-1",
        "created_at": 1714557600000,
        "record_type": "order",  # `type` is the envelope's
        "record__rev": 3,
        "n": 1,
    }


def test_without_a_time_the_document_has_the_time_of_reading() -> None:
    assert record_document({"id": 7}, RecordRules(id="id"), READ_AT).timestamp == READ_AT


def test_a_time_valued_incremental_field_is_the_version() -> None:
    rules = RecordRules(id="id", version_field="meta.updated")
    older = record_document({"id": 1, "meta": {"updated": "2024-05-01T10:00:00Z"}}, rules, READ_AT)
    newer = record_document({"id": 1, "meta": {"updated": "2024-05-01T10:00:01Z"}}, rules, READ_AT)
    assert older.version == 1714557600000000 and newer.version == older.version + 1_000_000
    counter = record_document({"id": 1, "meta": {"updated": "r17"}}, rules, READ_AT)
    assert counter.version is None  # not a time: create-once


def test_picked_fields_follow_paths_and_leave_out_what_is_missing() -> None:
    record = {"id": 1, "customer": {"country": "DE"}, "total": 3.5}
    paths = {"order": "id", "country": "customer.country", "total": "total", "gone": "x.y"}
    assert stored_fields(record, paths) == {"order": 1, "country": "DE", "total": 3.5}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ("ord-1", "not a JSON object"),
        ({"name": "x"}, "without a usable id"),
        ({"id": {"nested": 1}}, "without a usable id"),
        ({"id": True}, "without a usable id"),
        ({"id": 1, "created_at": "soon"}, "'created_at' is not a time"),
        ({"id": 1}, "'created_at' is not a time"),
    ],
)
def test_a_malformed_record_is_a_source_error(record: Any, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        record_document(record, RecordRules(id="id", time="created_at"), READ_AT)


def test_records_are_a_list_at_their_path() -> None:
    assert records_of([{"id": 1}], "") == [{"id": 1}]
    assert records_of(ANSWER, "data.items") == ANSWER["data"]["items"]
    with pytest.raises(SourceError, match=r"at 'data.total', found int"):
        records_of(ANSWER, "data.total")
    with pytest.raises(SourceError, match="whole answer"):
        records_of({"items": []}, "")


def test_the_next_page_url_is_resolved_against_the_current_one() -> None:
    current = "https://api.example/v1/orders?limit=4"
    assert next_url({"next": "/v1/orders?cursor=x"}, "next", current) == (
        "https://api.example/v1/orders?cursor=x"
    )
    assert (
        next_url({"next": "https://other.example/p2"}, "next", current)
        == "https://other.example/p2"
    )
    assert next_url({"next": None}, "next", current) is None
    assert next_url({"next": ""}, "next", current) is None
    assert next_url({}, "next", current) is None
    assert next_url({"next": "/p2"}, None, current) is None  # no pagination configured
    with pytest.raises(SourceError, match="not a URL"):
        next_url({"next": 2}, "next", current)


def test_a_back_fill_window_holds_whole_utc_days() -> None:
    assert in_window(datetime(2024, 5, 1, 23, 59, tzinfo=UTC), date(2024, 5, 1), date(2024, 5, 1))
    assert not in_window(datetime(2024, 5, 2, tzinfo=UTC), date(2024, 5, 1), date(2024, 5, 1))


BASE = {"url": "http://api.local/orders", "id": "id"}


def test_options_have_defaults() -> None:
    loaded = HttpJsonOptions().load(BASE)
    assert loaded["method"] == "GET" and loaded["stream"] == "http_json"
    assert (
        loaded["records"] == "" and loaded["field_paths"] is None and loaded["incremental"] is None
    )
    assert HttpJsonSource.secret_options() == frozenset({"headers"})


@pytest.mark.parametrize(
    "wrong",
    [
        {"id": ""},
        {"method": "DELETE"},
        {"stream": "Orders"},
        {"stream": "a-b"},
        {"params": {"ids": [1, 2]}},
        {"fields": {"type": "kind"}},
        {"fields": {"_id": "id"}},
        {"incremental": {"param": "since"}},
    ],
)
def test_wrong_options_are_refused(wrong: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        HttpJsonOptions().load({**BASE, **wrong})


def test_each_instance_has_its_own_stream() -> None:
    orders = HttpJsonSource("orders", "shop", HttpJsonOptions().load({**BASE, "stream": "orders"}))
    plain = HttpJsonSource("plain", "shop", HttpJsonOptions().load(BASE))
    assert orders.stream == "orders" and plain.stream == "http_json"
    assert HttpJsonSource.stream == "http_json"
