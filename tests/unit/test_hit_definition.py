"""The hit's one definition (``metronome.hits.definition``): its check, the words of its
refusals, and the OpenAPI schema derived from it, which must accept exactly the hits the check
accepts (but for the rules the schema lists as beyond it, each recognised here by name).
"""

from __future__ import annotations

import copy
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from metronome.config import HitLimits
from metronome.hits.definition import (
    BEYOND_THE_SCHEMA,
    HIT_FIELDS,
    OPTIONAL_TEXT,
    RESERVED,
    SERVER_FIELDS,
    HitError,
    hit_schema,
    load_hit,
)
from metronome.hits.eventtime import (
    EVENT_TEXT_PATTERN,
    EventTimeError,
    anchored,
    iso_text,
    parse_event_time,
)
from metronome.hits.fields import Text, encodable
from tests.integration.test_bad_input_corpus import (
    BAD_PARAMETERS,
    HOSTILE_URLS,
    HOSTILE_VALUES,
    WRONG_TYPES,
)
from tests.openapi_schemas import component, spec, validator

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
SEED = 20261122
GENERATED = 3_000
LIMITS = (
    HitLimits(),
    HitLimits(max_params=6, max_value_chars=12),
)

# --- the check and its words -----------------------------------------------------------------

NAME_RULE = "Parameter names start with a letter and hold at most 64 letters, digits, _ or -."
VALUE_RULE = "Values are text, numbers, booleans or one nested object"
REFUSALS: list[tuple[Any, str | None, str]] = [  # (hit, field, message)
    ({}, "id", "id: Missing data for required field."),
    ({"id": None}, "id", "id: Field may not be null."),
    ({"id": 42}, "id", "id: Not a valid string."),
    ({"id": ""}, "id", "id: Length must be between 1 and 1024."),
    ({"id": "x", "event": "a b"}, "event", "event: Use 1-64 letters, digits or _ . : -"),
    ({"id": "x", "hit_id": "h" * 129}, "hit_id", "hit_id: Use 1-128 letters, digits or _ . : -"),
    ({"id": "x", "url": "u" * 4097}, "url", "url: Length must be between 1 and 4096."),
    ({"id": "x", "time": None}, "time", "time: Field may not be null."),
    (
        {"id": "x", "time": "last tuesday"},
        "time",
        "time: Use an ISO-8601 date-time, or epoch seconds or milliseconds.",
    ),
    ({"id": "x", "time": "1969-12-31"}, "time", "time: The time is before 1970 or after 9999."),
    ({"id": "x", "bad name": 1}, "bad name", NAME_RULE),
    ({"id": "x", "type": "spoofed"}, "type", "'type' is set by the server and cannot be sent."),
    ({"id": "x", "n": 2**60}, "n", "Integers beyond 2^53 lose precision; send them as strings."),
    ({"id": "x", "a": {"b": {"c": 1}}}, "a.b", "Only one level of nested objects is allowed."),
    ({"id": "x", "l": [1]}, "l", f"{VALUE_RULE}, not an array."),
    ({"id": "x", "s": "\ud800"}, "s", "Text holds an unpaired surrogate (not valid Unicode)."),
    ([{"id": "x"}], None, "A hit must be a JSON object, not an array."),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "field", "message"), REFUSALS)
def test_a_refusal_names_the_field_in_the_words_clients_know(
    raw: Any, field: str | None, message: str
) -> None:
    with pytest.raises(HitError) as caught:
        load_hit(raw, HitLimits(), NOW)
    assert (caught.value.field, caught.value.message) == (field, message)
    assert caught.value.as_error() == {
        "code": "invalid_hit",
        "message": message,
        **({"field": field} if field else {}),
    }
    assert caught.value.status == 422


def test_an_epoch_time_the_rule_cannot_read_is_a_400_that_states_the_rule() -> None:
    with pytest.raises(HitError) as caught:
        load_hit({"id": "x", "time": 1445900}, HitLimits(), NOW)
    refused = caught.value
    assert (refused.status, refused.code, refused.field) == (400, "ambiguous_time", "time")
    assert refused.message.startswith("time: Not an epoch time: a number is epoch seconds below")


def test_fields_are_checked_in_the_tables_order_whatever_the_hits_order() -> None:
    raw: dict[str, Any] = {"url": 1, "hit_id": "a b", "time": "never", "event": "a b", "id": None}
    fixed = {"url": "https://example.org/", "hit_id": "h", "time": 1445900000, "event": "view"}
    for name in [name for name in RESERVED if name in raw]:
        with pytest.raises(HitError) as caught:
            load_hit(raw, HitLimits(), NOW)
        assert caught.value.field == name
        raw[name] = fixed.get(name, "x")
    assert load_hit(raw, HitLimits(), NOW)["id"] == "x"


def test_the_derived_sets_follow_the_table() -> None:
    assert RESERVED[:4] == ("id", "event", "time", "hit_id")
    assert frozenset(RESERVED) - {"id", "time"} == OPTIONAL_TEXT
    assert all(isinstance(field, Text) for field in HIT_FIELDS if field.name != "time")


# --- the schema agrees with the check --------------------------------------------------------

JSON_VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 2**53, -(2**53), 2**53 + 1, 10**20, 0.0, 1.5, 1e300,
    [], [1], {}, {"a": 1}, {"a": {"b": 1}}, {"has space": 1}, {"k": "x" * 13}, {"k": [1]},
    {"k": None, "l": True, "m": 2.5}, {"1bad": 1}, {"k": 2**60},
]  # fmt: skip
TEXTS: list[Any] = [
    "a", "dataset-42", "ünïcødé 日本語 🎉", " ", "\n", "view\n", "a b", "a.b:c-d_e", "é", "",
    "x" * 63, "x" * 64, "x" * 65, "x" * 128, "x" * 129, "x" * 256, "x" * 257,
    "x" * 1024, "x" * 1025, "x" * 4096, "x" * 4097, "bad\ud800",
    *HOSTILE_VALUES, *HOSTILE_URLS,
]  # fmt: skip
TIMES: list[Any] = [
    "2015-01-22T13:05:00Z", "2015-01-22t13:05:00z", "2015-01-22T13:05:00+01:00",
    "2015-01-22T13:05:00.123456789-08:00", "2015-01-22T13:05:00,5+0100", "2015-01-22T13:05+01",
    "2015-01-22T13:05:00", "2015-01-22", "2015-01-22 13:05", "20150122T130500Z", "2015-W04-4",
    "2015-01-22T13", "2015-01-22T24:00:00", "2015-13-01", "2015-01-22T13:05:00Z\n",
    "2016-02-29", "2000-02-29T12:00Z", "2015-02-29", "2100-02-29", "2015-04-31", "2015-02-30",
    "1970-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z", "tomorrow", "", "1445900000",
    0, 1, -1, 42, 946684799, 946684800, 946684800.5, 1445900000, 1445900000.25,
    99_999_999_999, 100_000_000_000, 946_684_799_999, 946_684_800_000, 1445900000123,
    1421931900000.5, 99_999_999_999_999, 100_000_000_000_000, 10**20, -(10**20), 1e300,
    True, None, [], {},
]  # fmt: skip
EVENTS: list[Any] = ["view", "download", "a:b.c-d_e", "x" * 64, "x" * 65, "a b", "ünï", "a/b"]
NAMES: list[Any] = [
    "price", "label", "product_info", "a", "A-b_9", "x" * 64, "x" * 65, "1starts_with_digit",
    "has space", "has.dot", "_private", "@timestamp", "abc\n", "ünïcødé", "bad\ud800", "",
    *SERVER_FIELDS,
]  # fmt: skip


def reserved_value(rng: random.Random, name: str) -> Any:
    roll = rng.random()
    if roll < 0.15:
        return rng.choice(JSON_VALUES)
    if name == "time":
        return rng.choice(TIMES)
    if name in ("event", "hit_id") and roll < 0.7:
        return rng.choice(EVENTS)
    return rng.choice(TEXTS)


def free_value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.5:
        return rng.choice(JSON_VALUES)
    if roll < 0.6:
        return {
            rng.choice(NAMES): rng.choice(JSON_VALUES + TEXTS) for _ in range(rng.randint(1, 4))
        }
    return rng.choice(TEXTS)


def generated_hit(rng: random.Random) -> Any:
    if rng.random() < 0.03:
        return rng.choice([None, 1, "text", [], [{"id": "a"}], True])
    hit: dict[str, Any] = {}
    if rng.random() < 0.9:
        hit["id"] = (
            f"dataset-{rng.randint(0, 99)}" if rng.random() < 0.7 else reserved_value(rng, "id")
        )
    for name in RESERVED[1:]:
        if rng.random() < 0.25:
            hit[name] = reserved_value(rng, name)
    for _ in range(rng.choice([0, 0, 1, 2, 3, 5, 8])):
        hit[rng.choice(NAMES)] = free_value(rng)
    if rng.random() < 0.1:
        hit[rng.choice(sorted(OPTIONAL_TEXT))] = ""
    return hit


def valid_hit(rng: random.Random) -> dict[str, Any]:
    """Shaped like real traffic, so the accepting side is covered as much as refusals."""
    hit: dict[str, Any] = {"id": f"item-{rng.randint(0, 999)}"}
    if rng.random() < 0.5:
        hit["event"] = rng.choice(["view", "download", "signup:done", ""])
    if rng.random() < 0.4:
        hit["time"] = rng.choice(
            ["2026-11-22T09:00:00Z", 1_795_300_000, 1_795_300_000_000, "2015-01-22"]
        )
    for name in ("url", "referrer", "format", "visitor", "session", "hit_id"):
        if rng.random() < 0.3:
            hit[name] = rng.choice(["https://example.org/p", "csv", "v-1", ""])
    for number in range(rng.randint(0, 3)):
        hit[f"p{number}"] = rng.choice([1, 2.5, "text", True, None, {"price": 3, "brand": "b"}])
    return hit


def corpus() -> Iterator[tuple[Any, HitLimits]]:
    rng = random.Random(SEED)
    for _ in range(GENERATED):
        yield generated_hit(rng), rng.choice(LIMITS)
        yield valid_hit(rng), rng.choice(LIMITS)
    for name, value in [*WRONG_TYPES, *BAD_PARAMETERS]:
        yield {"id": "bad", name: value}, LIMITS[0]
    for raw, _, _ in REFUSALS:
        yield raw, LIMITS[0]
    for name in ("event", "hit_id"):  # "$" would let a final newline through
        yield {"id": "x", name: "view\n"}, LIMITS[0]
    for day in ("2016-02-29", "2015-02-29", "2100-02-29", "2015-04-31", "2015-04-30"):
        yield {"id": "x", "time": day}, LIMITS[0]  # the calendar is in the schema
    yield {"id": "x", **{f"p{n}": n for n in range(99)}}, LIMITS[0]  # 100: the limit
    yield {"id": "x", **{f"p{n}": n for n in range(100)}}, LIMITS[0]


CASES = [(json.loads(json.dumps(raw)), limits) for raw, limits in corpus()]  # JSON values only


def beyond_the_schema(raw: Any, limits: HitLimits) -> str | None:
    """Which rule of ``BEYOND_THE_SCHEMA`` decides this hit, if one may."""
    if not isinstance(raw, dict):
        return None
    free = [value for name, value in raw.items() if name not in RESERVED]
    nested = [inner for value in free if isinstance(value, dict) for inner in value.values()]
    counted = {k: v for k, v in raw.items() if not (v == "" and k in OPTIONAL_TEXT)}
    nested_keys = sum(len(value) for value in free if isinstance(value, dict))
    if len(raw) > limits.max_params or len(counted) + nested_keys > limits.max_params:
        return BEYOND_THE_SCHEMA[0]
    try:
        moment = parse_event_time(raw["time"]) if "time" in raw else None
    except EventTimeError:
        moment = None
        if isinstance(raw["time"], str) and re.search(EVENT_TEXT_PATTERN, raw["time"]):
            return BEYOND_THE_SCHEMA[2]  # an offset moves it out of UTC's 1970-9999
    if moment is not None and moment > NOW.replace(day=23):
        return BEYOND_THE_SCHEMA[2]
    texts = [
        text
        for key, value in raw.items()
        for text in (key, value, *(value.items() if isinstance(value, dict) else ()))
    ]
    if any(isinstance(t, str) and not encodable(t) for t in _flat(texts)):
        return BEYOND_THE_SCHEMA[3]
    if any(
        isinstance(value, float) and value.is_integer() and abs(value) > 2**53
        for value in [*free, *nested]
    ):
        return BEYOND_THE_SCHEMA[4]
    return None


def _flat(values: list[Any]) -> Iterator[Any]:
    for value in values:
        yield from value if isinstance(value, tuple) else (value,)


def accepted_by_check(raw: Any, limits: HitLimits) -> bool:
    try:
        load_hit(raw, limits, NOW)
    except HitError:
        return False
    return True


Decision = Callable[[Any, HitLimits], bool]


def schema_decision(schema_of: Callable[[HitLimits], dict[str, Any]]) -> Decision:
    validators = {limits: validator(schema_of(limits)) for limits in LIMITS}
    return lambda raw, limits: validators[limits].is_valid(raw)


def disagreements(schema_accepts: Decision, first_only: bool = False) -> list[str]:
    found = []
    for raw, limits in CASES:
        if beyond_the_schema(raw, limits):
            continue
        check, schema = accepted_by_check(raw, limits), schema_accepts(raw, limits)
        if check != schema:
            found.append(f"{raw!r:.300} with {limits}: check {check}, schema {schema}")
            if first_only:
                break
    return found


def test_the_schema_accepts_exactly_the_hits_the_check_accepts() -> None:
    problems = disagreements(schema_decision(hit_schema))
    assert not problems, f"{len(problems)} disagreements, e.g.\n" + "\n".join(problems[:10])


def test_the_published_hit_schema_is_the_derived_one() -> None:
    assert component("Hit").is_valid({"id": "a", "time": 1445900000})
    assert not component("Hit").is_valid({"id": "a", "time": 1445900})
    published = spec()["components"]["schemas"]["Hit"]
    assert published == json.loads(json.dumps(hit_schema()))
    example = published["example"]
    assert accepted_by_check(example, HitLimits())


def test_the_corpus_reaches_both_outcomes_every_field_and_every_rule_beyond_the_schema() -> None:
    """Agreement means little on a corpus that never reaches a rule: make sure it does."""
    outcomes = Counter(accepted_by_check(raw, limits) for raw, limits in CASES)
    assert outcomes[True] > len(CASES) // 4
    assert outcomes[False] > len(CASES) // 4
    fields = set()
    for raw, limits in CASES:
        try:
            load_hit(raw, limits, NOW)
        except HitError as error:
            fields.add(error.field)
    assert set(RESERVED) <= fields
    beyond = Counter(beyond_the_schema(raw, limits) for raw, limits in CASES)
    assert set(BEYOND_THE_SCHEMA) - {BEYOND_THE_SCHEMA[1]} <= set(beyond)
    assert beyond[None] > len(CASES) // 2  # most hits are judged by the schema alone


def _without_server_fields(limits: HitLimits) -> dict[str, Any]:
    schema = hit_schema(limits)
    del schema["not"]
    return schema


def _without_the_name_rule(limits: HitLimits) -> dict[str, Any]:
    schema = hit_schema(limits)
    del schema["propertyNames"]
    return schema


def _without_the_calendar(limits: HitLimits) -> dict[str, Any]:
    schema = copy.deepcopy(hit_schema(limits))
    schema["properties"]["time"]["oneOf"][0]["pattern"] = anchored(iso_text(exact=False))
    return schema


def _with_a_dollar_anchor(limits: HitLimits) -> dict[str, Any]:
    schema = hit_schema(limits)
    schema["properties"]["event"]["pattern"] = "^(?:[A-Za-z0-9_.:-]{1,64})?$"
    return schema


def _with_the_default_text_limit(limits: HitLimits) -> dict[str, Any]:
    return hit_schema(HitLimits())


def _without_the_integer_bound(limits: HitLimits) -> dict[str, Any]:
    schema = copy.deepcopy(hit_schema(limits))
    del schema["additionalProperties"]["anyOf"]
    return schema


@pytest.mark.parametrize(
    "broken",
    [
        _without_server_fields,
        _without_the_name_rule,
        _without_the_calendar,
        _with_a_dollar_anchor,
        _with_the_default_text_limit,
        _without_the_integer_bound,
    ],
)
def test_the_comparison_notices_a_schema_that_differs(
    broken: Callable[[HitLimits], dict[str, Any]],
) -> None:
    assert disagreements(schema_decision(broken), first_only=True)
