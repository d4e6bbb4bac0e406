"""The body of POST /api/v1/query is read with bounded work, before any key is checked: deep
nesting is a 400, a body of more JSON values than any query has is a 413, never a 500."""

from __future__ import annotations

import pytest

from metronome.errors import ApiError
from metronome.query.body import MAX_QUERY_VALUES, query_body

JSON = "application/json"


def refusal(raw: bytes) -> ApiError:
    with pytest.raises(ApiError) as caught:
        query_body(JSON, raw)
    return caught.value


def test_a_deeply_nested_body_is_a_400_not_a_recursion_error() -> None:
    error = refusal(b"[" * 10_000)  # within the value budget, beyond the parser's depth
    assert (error.status, error.code) == (400, "malformed_json")
    assert "nested too deeply" in error.message


def test_a_body_of_more_values_than_a_query_holds_is_a_413_before_it_is_parsed() -> None:
    error = refusal(b"[" + b"0," * MAX_QUERY_VALUES + b"0]")
    assert (error.status, error.code) == (413, "too_many_values")


def test_an_ordinary_query_with_strings_full_of_commas_is_read() -> None:
    text = ",:{[" * 1000
    body = query_body(
        JSON, b'{"metrics": ["count"], "filters": [["eq", "id", "' + text.encode() + b'"]]}'
    )
    assert body["filters"][0][2] == text


def test_nan_is_not_json() -> None:
    assert refusal(b'{"metrics": [NaN]}').code == "malformed_json"
