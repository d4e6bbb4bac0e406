from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from metronome.errors import ApiError
from metronome.hits.bodies import decode_body
from metronome.hits.schema import HitError, load_hit


def test_a_minimal_hit_defaults_to_a_view() -> None:
    assert load_hit({"id": "dataset-42"}) == {"id": "dataset-42", "event": "view"}


def test_free_parameters_are_kept_as_sent() -> None:
    hit = load_hit({"id": "p", "price": 12.5, "ok": True, "product_info": {"brand": "x"}})
    assert hit["price"] == 12.5
    assert hit["ok"] is True
    assert hit["product_info"] == {"brand": "x"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2015-01-22T13:05:00Z", datetime(2015, 1, 22, 13, 5, tzinfo=UTC)),
        ("2015-01-22T14:05:00+01:00", datetime(2015, 1, 22, 13, 5, tzinfo=UTC)),
        ("2015-01-22T13:05:00", datetime(2015, 1, 22, 13, 5, tzinfo=UTC)),
        (1421931900000, datetime(2015, 1, 22, 13, 5, tzinfo=UTC)),
    ],
)
def test_time_accepts_iso_and_epoch_millis(value: Any, expected: datetime) -> None:
    assert load_hit({"id": "x", "time": value})["time"] == expected


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({}, "id"),
        ({"id": ""}, "id"),
        ({"id": 42}, "id"),
        ({"id": "x", "event": ["view"]}, "event"),
        ({"id": "x", "event": "no spaces allowed"}, "event"),
        ({"id": "x", "time": "last tuesday"}, "time"),
        ({"id": "x", "time": True}, "time"),
        ({"id": "x", "time": "2999-01-01T00:00:00Z"}, "time"),
        ({"id": "x", "format": 3}, "format"),
        ({"id": "x", "hit_id": "has space"}, "hit_id"),
        ({"id": "x", "bad name": 1}, "bad name"),
        ({"id": "x", "@timestamp": "2015-01-01"}, "@timestamp"),
        ({"id": "x", "received_at": "2015-01-01"}, "received_at"),
        ({"id": "x", "list": [1, 2]}, "list"),
        ({"id": "x", "deep": {"a": {"b": 1}}}, "deep.a"),
        ({"id": "x", "big": 2**60}, "big"),
        ({"id": "x", "long": "y" * 2000}, "long"),
    ],
)
def test_invalid_hits_name_the_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(HitError) as caught:
        load_hit(raw)
    assert caught.value.field == field
    assert caught.value.message


@pytest.mark.parametrize("raw", [[1], "text", 3, None, True])
def test_a_hit_must_be_an_object(raw: Any) -> None:
    with pytest.raises(HitError, match="must be a JSON object"):
        load_hit(raw)


def test_too_many_parameters_are_refused() -> None:
    raw = {"id": "x", **{f"p{i}": i for i in range(200)}}
    with pytest.raises(HitError, match="at most 100 parameters"):
        load_hit(raw)


def test_bodies_decode_objects_and_arrays() -> None:
    assert decode_body("application/json", b'{"id": "a"}').hits == [{"id": "a"}]
    batch = decode_body("text/plain;charset=UTF-8", b'[{"id": "a"}, {"id": "b"}]')
    assert batch.batch and len(batch.hits) == 2


@pytest.mark.parametrize(
    ("content_type", "data", "status", "code"),
    [
        ("application/json", b"{not json", 400, "malformed_json"),
        ("application/json", b"", 400, "empty_body"),
        ("application/json", b"\xff\xfe", 400, "invalid_encoding"),
        ("application/json", b'{"id": NaN}', 400, "malformed_json"),
        ("application/xml", b"<hit/>", 415, "unsupported_media_type"),
        (None, b'{"id": "a"}', 415, "unsupported_media_type"),
        ("application/json", b"[" * 100_000, 400, "malformed_json"),
    ],
)
def test_bad_bodies_get_clear_errors(
    content_type: str | None, data: bytes, status: int, code: str
) -> None:
    with pytest.raises(ApiError) as caught:
        decode_body(content_type, data)
    assert (caught.value.status, caught.value.code) == (status, code)
