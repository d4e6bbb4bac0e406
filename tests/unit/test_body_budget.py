"""The body budget: amplifying bodies are refused from their bytes, before objects are built."""

from __future__ import annotations

import gzip
import json
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from metronome.config import settings_from_mapping
from metronome.errors import ApiError
from metronome.hits.bodies import DEFAULT_BUDGET, decode_body
from metronome.hits.budget import (
    BodyBudget,
    json_value_marks,
    log_budget,
    tick_budget,
    user_tag_budget,
)
from metronome.logs.bodies import decode_log_body

MiB = 1024 * 1024
JSON = "application/json"
NDJSON = "application/x-ndjson"
FORM = "application/x-www-form-urlencoded"


def repeat(unit: bytes, size: int, head: bytes = b"", tail: bytes = b"") -> bytes:
    return head + unit * ((size - len(head) - len(tail)) // len(unit)) + tail


def peak_bytes(call: Callable[[], Any]) -> tuple[Any, int]:
    """What ``call`` returned or raised, and the most memory Python held meanwhile."""
    tracemalloc.start()
    try:
        try:
            outcome: Any = call()
        except ApiError as error:
            outcome = error
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return outcome, peak


# Each of these took hundreds of MB to parse before it could be refused.
BOMBS = {
    "gzip objects": (JSON, "gzip", gzip.compress(repeat(b"{},", 10 * MiB, b"[", b"{}]"))),
    "gzip ndjson objects": (NDJSON, "gzip", gzip.compress(repeat(b"{}\n", 10 * MiB))),
    "gzip ndjson numbers": (NDJSON, "gzip", gzip.compress(repeat(b"1\n", 10 * MiB))),
    "item flood": (JSON, None, repeat(b"{},", MiB, b"[", b"{}]")),
    "wide object": (
        JSON,
        "gzip",
        gzip.compress(b"{" + b",".join(b'"a%d":0' % i for i in range(400_000)) + b"}"),
    ),
    "array of zeros": (JSON, "gzip", gzip.compress(repeat(b"0,", 4 * MiB - 2, b"[", b"0]"))),
    "gzip form": (FORM, "gzip", gzip.compress(repeat(b"a=1&", 10 * MiB))),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_an_amplifying_body_is_refused_with_little_memory_and_time(name: str) -> None:
    content_type, encoding, data = BOMBS[name]
    started = time.perf_counter()
    error, peak = peak_bytes(lambda: decode_body(content_type, data, encoding))
    assert time.perf_counter() - started < 2.0  # parsed whole, the larger ones took seconds
    assert isinstance(error, ApiError), error
    assert error.status == 413
    assert error.code in {"decompressed_too_large", "too_many_values", "batch_too_large"}
    # At most the inflated body, its copy without strings and a chunk: no parsed objects.
    assert peak < 3 * DEFAULT_BUDGET.max_bytes


def test_the_inflate_ratio_refuses_a_small_bomb_early() -> None:
    bomb = gzip.compress(b" " * 20_000_000)  # ~20 KB that would inflate 1000 times
    error, peak = peak_bytes(lambda: decode_body(JSON, bomb, "gzip"))
    assert isinstance(error, ApiError)
    assert (error.status, error.code) == (413, "decompressed_too_large")
    assert "inflates more than 100 times" in error.message
    assert peak < 2 * 100 * len(bomb)


def test_a_well_compressed_small_batch_is_accepted_under_the_ratio_floor() -> None:
    # 500 identical hits compress ~200 times, but inflate to less than the 1 MiB floor.
    batch = json.dumps([{"id": "a", "event": "view"}] * 500).encode()
    data = gzip.compress(batch)
    assert len(batch) / len(data) > 100
    assert len(decode_body(JSON, data, "gzip").hits) == 500


def test_a_full_batch_at_the_per_hit_limits_fits_the_tick_budget() -> None:
    # 500 hits of 100 parameters each (33 of them nested objects of 2 keys): the most a
    # batch may hold, with every mark a parameter can bring.
    def hit(number: int) -> dict[str, Any]:
        fields: dict[str, Any] = {"id": f"item-{number}"}
        fields.update({f"p{i}": "x" for i in range(33)})
        fields.update({f"n{i}": {"a": 1} for i in range(33)})
        return fields

    data = json.dumps([hit(n) for n in range(500)], separators=(",", ":")).encode()
    assert len(decode_body(JSON, gzip.compress(data), "gzip").hits) == 500


def test_marks_inside_strings_do_not_count() -> None:
    text = json.dumps({"id": "a", "url": "https://x.example/?q={[,:]}" * 20}).encode()
    assert sum(text.count(mark) for mark in (b"{", b"[", b",", b":")) > 100
    assert json_value_marks(text, 10) == 4  # {, two :, and the , between the members


def test_escaped_quotes_do_not_end_a_string() -> None:
    text = b'{"a": "x\\",{{{{{{{{:::::", "b": 1}'
    assert json_value_marks(text, 0) == 4


def test_a_body_with_more_values_than_the_endpoint_accepts_names_the_budget() -> None:
    budget = BodyBudget(max_bytes=MiB, max_values=10, max_items=2)
    data = json.dumps([{"a": 1, "b": 2, "c": 3}] * 3).encode()
    error, _ = peak_bytes(lambda: decode_body(JSON, data, None, budget))
    assert isinstance(error, ApiError)
    assert (error.status, error.code) == (413, "too_many_values")
    assert "more than 10 JSON values" in error.message


def test_ndjson_with_more_lines_than_hits_is_refused_before_parsing() -> None:
    budget = BodyBudget(max_bytes=MiB, max_values=1_000, max_items=3)
    four = b'"a"\n"b"\n\n  \n"c"\n"d"\n'
    with pytest.raises(ApiError) as caught:
        decode_body(NDJSON, four, None, budget)
    assert (caught.value.status, caught.value.code) == (413, "batch_too_large")
    assert len(decode_body(NDJSON, four.replace(b'"d"\n', b""), None, budget).hits) == 3


def test_endpoint_budgets_follow_the_settings() -> None:
    settings = settings_from_mapping(
        {
            "ingest": {"max_batch": 10, "max_decompressed_bytes": 2 * MiB, "max_log_records": 7},
            "default_site": "a",
            "sites": {
                "a": {"write_auth": "none", "limits": {"max_params": 5}},
                "b": {"write_auth": "none", "limits": {"max_params": 20}},
            },
        }
    )
    tick = tick_budget(settings)
    assert (tick.max_bytes, tick.max_items, tick.max_values) == (2 * MiB, 10, 10 * 62 + 1)
    assert user_tag_budget(settings.ingest).max_items == 1
    logs = log_budget(settings.ingest)
    assert (logs.max_items, logs.max_values) == (7, 2 * MiB // 8)


def test_a_log_body_with_more_records_than_allowed_is_refused() -> None:
    budget = BodyBudget(max_bytes=MiB, max_values=1_000, max_items=2, what="log records")
    with pytest.raises(ApiError) as caught:
        decode_log_body(JSON, b'[{"m": 1}, {"m": 2}, {"m": 3}]', None, budget)
    assert (caught.value.status, caught.value.code) == (413, "batch_too_large")
    assert "at most 2 log records" in caught.value.message


def test_a_log_bomb_is_refused_with_little_memory() -> None:
    data = gzip.compress(repeat(b"{}\n", 10 * MiB))
    budget = log_budget(settings_from_mapping({}).ingest)
    error, peak = peak_bytes(lambda: decode_log_body(NDJSON, data, "gzip", budget))
    assert isinstance(error, ApiError)
    assert error.status == 413
    assert peak < 3 * budget.max_bytes
