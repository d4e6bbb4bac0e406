from __future__ import annotations

import dataclasses
import gzip
import time
import tracemalloc
from typing import Any

import pytest
from werkzeug.datastructures import MultiDict

from metronome.errors import ApiError
from metronome.hits.bodies import DEFAULT_BUDGET, UndecodableLine, decode_body, hit_from_query
from metronome.hits.budget import BodyBudget
from metronome.hits.definition import load_hit

NDJSON = "application/x-ndjson"
FORM = "application/x-www-form-urlencoded"


def refused(
    content_type: str | None,
    data: bytes,
    content_encoding: str | None = None,
    max_decompressed_bytes: int = DEFAULT_BUDGET.max_bytes,
) -> ApiError:
    with pytest.raises(ApiError) as caught:
        decode_body(content_type, data, content_encoding, within(max_decompressed_bytes))
    assert caught.value.message.endswith(".")
    return caught.value


def within(max_bytes: int) -> BodyBudget:
    return dataclasses.replace(DEFAULT_BUDGET, max_bytes=max_bytes)


# --- JSON ----------------------------------------------------------------------------------


def test_a_json_object_is_one_hit() -> None:
    body = decode_body("application/json", b'{"id": "a"}')
    assert (body.hits, body.batch) == ([{"id": "a"}], False)


def test_a_json_array_is_a_batch() -> None:
    body = decode_body("application/json; charset=utf-8", b'[{"id": "a"}, {"id": "b"}]')
    assert (body.hits, body.batch) == ([{"id": "a"}, {"id": "b"}], True)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain;charset=UTF-8",
        "text/plain",
        "Application/JSON",
        'application/json; charset="utf8"',
    ],
)
def test_json_is_read_from_beacon_text_and_any_case_of_the_type(content_type: str) -> None:
    assert decode_body(content_type, b'{"id": "a"}').hits == [{"id": "a"}]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=iso-8859-1",
        "text/plain;charset=UTF-16",
        f"{FORM}; charset=latin1",
    ],
)
def test_a_charset_other_than_utf8_is_unsupported(content_type: str) -> None:
    error = refused(content_type, b'{"id": "a"}')
    assert (error.status, error.code) == (415, "unsupported_charset")


@pytest.mark.parametrize(
    ("content_type", "data", "status", "code"),
    [
        ("application/json", b"{not json", 400, "malformed_json"),
        ("application/json", b"", 400, "empty_body"),
        ("application/json", b" \r\n\t", 400, "empty_body"),
        ("application/json", b"\xff\xfe", 400, "invalid_encoding"),
        ("application/json", b'{"id": NaN}', 400, "malformed_json"),
        ("application/json", b'{"id": "a", "n": -Infinity}', 400, "malformed_json"),
        pytest.param(
            "application/json", b'{"n": 1' + b"0" * 5000 + b"}", 400, "malformed_json", id="huge"
        ),
        pytest.param("application/json", b"[" * 100_000, 400, "malformed_json", id="deep"),
        ("application/xml", b"<hit/>", 415, "unsupported_media_type"),
        ("multipart/form-data; boundary=x", b"--x--", 415, "unsupported_media_type"),
        (None, b'{"id": "a"}', 415, "unsupported_media_type"),
    ],
)
def test_bad_bodies_get_clear_errors(
    content_type: str | None, data: bytes, status: int, code: str
) -> None:
    error = refused(content_type, data)
    assert (error.status, error.code) == (status, code)


def test_too_deep_json_says_it_is_nested_too_deeply() -> None:
    assert "nested too deeply" in refused("application/json", b"[" * 100_000).message


def test_a_number_of_thousands_of_digits_is_refused_in_plain_words() -> None:
    error = refused("application/json", b'{"id": "a", "n": ' + b"9" * 5000 + b"}")
    assert error.message == "The body is not valid JSON: a number has more than 4000 digits."


# --- NDJSON --------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [NDJSON, "application/jsonlines; charset=utf-8"])
def test_ndjson_is_one_hit_per_line_and_always_a_batch(content_type: str) -> None:
    body = decode_body(content_type, b'{"id": "a"}\n{"id": "b"}\n')
    assert (body.hits, body.batch) == ([{"id": "a"}, {"id": "b"}], True)


def test_a_single_ndjson_line_is_still_a_batch() -> None:
    assert decode_body(NDJSON, b'{"id": "a"}').batch


def test_ndjson_skips_blank_lines_and_accepts_crlf() -> None:
    body = decode_body(NDJSON, b'\r\n{"id": "a"}\r\n   \r\n\n{"id": "b"}\r\n')
    assert body.hits == [{"id": "a"}, {"id": "b"}]


def test_a_line_separator_inside_a_json_string_does_not_split_the_line() -> None:
    body = decode_body(NDJSON, '{"id": "a\u2028b"}\n'.encode())
    assert body.hits == [{"id": "a\u2028b"}]


def test_one_bad_ndjson_line_is_rejected_alone_and_the_good_lines_are_kept() -> None:
    body = decode_body(NDJSON, b'{"id": "a"}\n\n{"id": \n{"id": "c"}\n')
    assert body.hits[0] == {"id": "a"}
    assert body.hits[2] == {"id": "c"}
    bad = body.hits[1]
    assert isinstance(bad, UndecodableLine)
    assert bad.line_number == 3  # counts the blank line: the number a user finds in an editor
    assert bad.message.startswith("Line 3 is not valid JSON: Expecting value")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'{"id": "a", "n": NaN}', "NaN is not a JSON number"),
        pytest.param(b"[" * 100_000, "nested too deeply", id="deep"),
        (b'{"id": "a"} {"id": "b"}', "Extra data"),
    ],
)
def test_ndjson_lines_that_json_refuses_become_per_hit_rejections(
    line: bytes, message: str
) -> None:
    body = decode_body(NDJSON, b'{"id": "ok"}\n' + line)
    assert body.hits[0] == {"id": "ok"}
    assert isinstance(body.hits[1], UndecodableLine)
    assert message in body.hits[1].message


def test_an_ndjson_body_that_is_not_utf8_is_refused_whole() -> None:
    error = refused(NDJSON, b'{"id": "a"}\n{"id": "\xff"}\n')
    assert (error.status, error.code) == (400, "invalid_encoding")


# --- form bodies and the pixel --------------------------------------------------------------


def test_a_form_body_is_one_flat_hit_with_numbers_typed() -> None:
    data = b"id=0042&event=download&price=12.5&count=3&zip=02134&delta=-4&label=hello+world"
    body = decode_body(FORM, data)
    assert body.batch is False
    assert body.hits == [
        {
            "id": "0042",
            "event": "download",
            "price": 12.5,
            "count": 3,
            "zip": "02134",
            "delta": -4,
            "label": "hello world",
        }
    ]


def test_reserved_text_fields_stay_text_even_when_they_look_like_numbers() -> None:
    names = ("id", "event", "hit_id", "url", "referrer", "format", "visitor", "session", "site")
    hit = hit_from_query({name: "7" for name in (*names, "key")})
    assert all(value == "7" for value in hit.values())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("-0", 0),
        ("10", 10),
        ("-2.50", -2.5),
        ("0.5", 0.5),
        ("9007199254740992", 2**53),
        ("9007199254740993", "9007199254740993"),  # a double cannot hold it: kept exact
        pytest.param("1" * 5000, "1" * 5000, id="5000-digits"),
        pytest.param("1" * 400 + ".5", "1" * 400 + ".5", id="infinite-as-double"),
        ("007", "007"),
        ("1e5", "1e5"),
        ("1.", "1."),
        (".5", ".5"),
        ("+3", "+3"),
        ("1_000", "1_000"),
        ("١٢", "١٢"),  # Arabic-Indic digits
        (" 3", " 3"),
        ("", ""),
        ("true", "true"),
    ],
)
def test_free_form_values_become_numbers_only_when_plain_decimals(text: str, expected: Any) -> None:
    value = hit_from_query({"id": "x", "v": text})["v"]
    assert (value, type(value)) == (expected, type(expected))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1421931900000", 1421931900000),
        ("1421931900", 1421931900),
        ("1421931900.5", 1421931900.5),
        ("2015-01-22T13:05:00Z", "2015-01-22T13:05:00Z"),
    ],
)
def test_form_time_of_digits_is_an_epoch_number_and_other_text_stays_iso(
    text: str, expected: Any
) -> None:
    hit = hit_from_query({"id": "x", "time": text})
    assert hit["time"] == expected
    assert load_hit(hit)["time"].year == 2015


def test_dotted_form_keys_become_one_level_of_nesting() -> None:
    hit = decode_body(FORM, b"id=p&product_info.price=3&product_info.brand=acme").hits[0]
    assert hit == {"id": "p", "product_info": {"price": 3, "brand": "acme"}}
    assert load_hit(hit)["product_info"] == {"price": 3, "brand": "acme"}


@pytest.mark.parametrize(
    ("data", "field"), [(b"id=a&id=b", "id"), (b"id=a&p.q=1&p.q=2", "p.q"), (b"id=a&n=&n=", "n")]
)
def test_a_repeated_form_key_is_refused_naming_it(data: bytes, field: str) -> None:
    error = refused(FORM, data)
    assert (error.status, error.code, error.field) == (400, "duplicate_parameter", field)


@pytest.mark.parametrize("data", [b"id=a&p=1&p.q=2", b"id=a&p.q=2&p=1"])
def test_a_key_sent_as_value_and_as_object_is_refused(data: bytes) -> None:
    error = refused(FORM, data)
    assert (error.status, error.code, error.field) == (400, "conflicting_parameter", "p")


def test_a_percent_encoded_form_value_that_is_not_utf8_is_refused() -> None:
    error = refused(FORM, b"id=%FF")
    assert (error.status, error.code) == (400, "invalid_encoding")


def test_the_pixel_query_follows_the_form_rules() -> None:
    args = MultiDict([("id", "42"), ("event", "open"), ("key", "12345678"), ("n", "3")])
    assert hit_from_query(args) == {"id": "42", "event": "open", "key": "12345678", "n": 3}


def test_a_repeated_pixel_parameter_is_refused() -> None:
    with pytest.raises(ApiError) as caught:
        hit_from_query(MultiDict([("id", "a"), ("id", "b")]))
    assert (caught.value.status, caught.value.code, caught.value.field) == (
        400,
        "duplicate_parameter",
        "id",
    )


# --- gzip ----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "GZIP", " gzip "])
def test_a_gzip_body_is_inflated(encoding: str) -> None:
    body = decode_body("application/json", gzip.compress(b'{"id": "a"}'), encoding)
    assert body.hits == [{"id": "a"}]


@pytest.mark.parametrize("encoding", [None, "", "identity"])
def test_identity_or_no_encoding_leaves_the_body_as_sent(encoding: str | None) -> None:
    assert decode_body("application/json", b'{"id": "a"}', encoding).hits == [{"id": "a"}]


def test_every_member_of_a_multi_member_gzip_body_is_read() -> None:
    data = gzip.compress(b'{"id": "a"}\n') + gzip.compress(b'{"id": "b"}\n')
    assert decode_body(NDJSON, data, "gzip").hits == [{"id": "a"}, {"id": "b"}]


def test_a_gzip_bomb_is_stopped_at_the_limit_without_inflating_it() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)
    started = time.perf_counter()
    error = refused("application/json", bomb, "gzip")
    assert time.perf_counter() - started < 1.0  # inflating all 50 MB would take longer
    assert (error.status, error.code) == (413, "decompressed_too_large")


def test_a_gzip_bomb_never_holds_much_more_than_the_limit_in_memory() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)
    tracemalloc.start()
    try:
        error = refused("application/json", bomb, "gzip", 1_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.code == "decompressed_too_large"
    assert peak < 2_000_000  # the limit plus one chunk, not the 50 MB it inflates to


def test_the_decompressed_limit_is_inclusive() -> None:
    data = b'{"id": "' + b"a" * 90 + b'"}'
    assert len(data) == 100
    assert decode_body("application/json", gzip.compress(data), "gzip", within(100)).hits
    error = refused("application/json", gzip.compress(data + b" "), "gzip", 100)
    assert (error.status, error.code) == (413, "decompressed_too_large")


@pytest.mark.parametrize(
    "data",
    [
        b'{"id": "a"}',  # not compressed at all
        gzip.compress(b'{"id": "a"}')[:-6],  # truncated
        gzip.compress(b'{"id": "a"}') + b"trailing garbage",
        gzip.compress(b'{"id": "a"}')[:12] + b"\0" * 20,  # corrupt deflate stream
    ],
)
def test_a_body_that_is_not_valid_gzip_is_refused(data: bytes) -> None:
    error = refused("application/json", data, "gzip")
    assert (error.status, error.code) == (400, "invalid_gzip")


def test_an_empty_gzip_body_is_an_empty_body() -> None:
    assert refused("application/json", gzip.compress(b""), "gzip").code == "empty_body"


@pytest.mark.parametrize("encoding", ["br", "deflate", "compress", "gzip, gzip"])
def test_other_content_encodings_are_unsupported(encoding: str) -> None:
    error = refused("application/json", b'{"id": "a"}', encoding)
    assert (error.status, error.code) == (415, "unsupported_encoding")
