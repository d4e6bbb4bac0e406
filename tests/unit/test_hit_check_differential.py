"""The hand-written validator (``load_hit``) against the marshmallow reference.

``load_hit_with_schema`` validates through ``HitSchema``, the documented form; ``load_hit`` is
what the ingest path runs. Over a seeded corpus of generated hits (valid, invalid, hostile, the
bad-input corpus of the integration tests, and values JSON cannot even hold) both must accept
the same hits with the same result, and refuse the others with the same field and message.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from metronome.config import HitLimits
from metronome.hits.bodies import UndecodableLine, hit_from_pairs
from metronome.hits.check import RESERVED
from metronome.hits.rules import OPTIONAL_TEXT, SERVER_FIELDS, TEXT_MAX_CHARS, HitError
from metronome.hits.schema import HitSchema, load_hit, load_hit_with_schema
from tests.integration.test_bad_input_corpus import (
    BAD_PARAMETERS,
    HOSTILE_URLS,
    HOSTILE_VALUES,
    WRONG_TYPES,
)

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
SEED = 20261122
GENERATED = 6_000  # twice this many hits: generated and realistic

Validator = Callable[[Any, HitLimits, datetime], dict[str, Any]]
LIMITS = (
    HitLimits(),
    HitLimits(max_params=6, max_value_chars=12, max_future_seconds=60, max_age_days=7),
    HitLimits(max_params=1, max_value_chars=1, max_future_seconds=0, max_age_days=1),
)


class Text(str):
    """A str subclass: marshmallow's String hands back a plain str for it."""


class Opaque:
    def __repr__(self) -> str:
        return "Opaque()"


# --- the values the generator draws from ---------------------------------------------------

LONE_SURROGATE = "\ud800"
TEXTS: list[Any] = [
    "a",
    "dataset-42",
    "ünïcødé 日本語 🎉",
    " ",
    "\n",
    "view\n",
    "x" * 63,
    "x" * 64,
    "x" * 65,
    "x" * 128,
    "x" * 129,
    "x" * 255,
    "x" * 256,
    "x" * 257,
    "x" * 1024,
    "x" * 1025,
    "x" * 4096,
    "x" * 4097,
    "https://www.example.org/a/b?q=1#top",
    "a/b",
    "a b",
    "a.b:c-d_e",
    "é",
    f"bad{LONE_SURROGATE}",
    "\ufeffbom",
    "",
    *HOSTILE_VALUES,
    *HOSTILE_URLS,
]
OTHER_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2**53,
    -(2**53),
    2**53 + 1,
    -(2**53) - 1,
    10**20,
    0.0,
    -0.0,
    1.5,
    5e-324,
    1.7976931348623157e308,
    float("nan"),
    float("inf"),
    float("-inf"),
    [],
    [1, 2],
    {},
    {"a": 1},
    {"a": {"b": 1}},
    {"has space": 1},
    {"k": "x" * 13},
    {"k": [1]},
    {"k": None, "l": True, "m": 2.5},
    {f"bad{LONE_SURROGATE}": 1},
    {1: "int key"},
]
# Values JSON cannot hold; load_hit is a function and must still agree on them.
NON_JSON: list[Any] = [
    b"bytes",
    b"",
    b"\xff\xfe",
    b"x" * 2000,
    Text("sub"),
    Text(""),
    ("tuple",),
    {"set"},
    Opaque(),
]
TIMES: list[Any] = [
    "2015-01-22T13:05:00Z",
    "2015-01-22T13:05:00z",
    "2015-01-22T13:05:00+01:00",
    "2015-01-22T13:05:00.123456-08:00",
    "2015-01-22T13:05:00",
    "2015-01-22",
    "2015-01-22 13:05",
    "20150122T130500Z",
    "2026-11-23T10:00:00Z",  # exactly a day ahead of NOW
    "2026-11-23T10:00:01Z",
    "2026-11-22T10:01:00Z",
    "2026-11-22T10:01:01Z",
    "2026-11-15T10:00:00Z",  # exactly 7 days old
    "2026-11-15T09:59:59Z",
    "1970-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "1970-01-01T00:30:00+01:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-01:00",
    "2015-02-30",
    "tomorrow",
    "",
    "9" * 64,
    "9" * 65,
    "2015-01-22T13:05:00Z" + " " * 44,
    "2015-01-22T13:05:00Z" + " " * 45,
    0,
    1,
    -1,
    1421931900000,
    1421931900000.5,
    1_795_341_600_000,  # NOW in epoch ms
    1_795_428_000_000,
    1_795_428_000_001,
    10**20,
    -(10**20),
    253402300799999,
    253402300800000,
    float("nan"),
    float("inf"),
    True,
    None,
    [],
    {},
    b"2015-01-22T13:05:00Z",
]
EVENTS: list[Any] = ["view", "download", "a:b.c-d_e", "x" * 64, "x" * 65, "a b", "ünï", "a/b"]
HIT_IDS: list[Any] = ["abc-1", "h" * 128, "h" * 129, "a b", "a/b", "é", "h-1\n"]
NAMES: list[Any] = [
    "price",
    "label",
    "product_info",
    "a",
    "A-b_9",
    "x" * 64,
    "x" * 65,
    "1starts_with_digit",
    "has space",
    "has.dot",
    "_private",
    "@timestamp",
    "abc\n",
    "ünïcødé",
    f"bad{LONE_SURROGATE}",
    "",
    *SERVER_FIELDS,
]
NON_STR_NAMES: list[Any] = [1, 2.5, None, ("t",), True]


def reserved_value(rng: random.Random, name: str) -> Any:
    roll = rng.random()
    if roll < 0.08:
        return rng.choice(NON_JSON)
    if roll < 0.22:
        return rng.choice(OTHER_VALUES)
    if name == "time":
        return rng.choice(TIMES)
    if name == "event" and roll < 0.7:
        return rng.choice(EVENTS)
    if name == "hit_id" and roll < 0.7:
        return rng.choice(HIT_IDS)
    if name in TEXT_MAX_CHARS and roll < 0.45:
        limit = TEXT_MAX_CHARS[name]
        return "y" * rng.choice([0, 1, limit - 1, limit, limit + 1])
    return rng.choice(TEXTS)


def free_value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.05:
        return rng.choice(NON_JSON)
    if roll < 0.5:
        return rng.choice(OTHER_VALUES)
    if roll < 0.6:
        size = rng.randint(1, 4)
        return {rng.choice(NAMES): rng.choice(OTHER_VALUES + TEXTS) for _ in range(size)}
    return rng.choice(TEXTS)


def generated_hit(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.03:  # not an object at all
        return rng.choice(
            [None, 1, "text", [], [{"id": "a"}], True, UndecodableLine(3, "Line 3 is bad.")]
        )
    hit: dict[Any, Any] = {}
    if rng.random() < 0.9:
        hit["id"] = f"dataset-{rng.randint(0, 99)}" if rng.random() < 0.7 else None
    for name in RESERVED:
        if name != "id" and rng.random() < 0.25:
            hit[name] = reserved_value(rng, name)
    if "id" in hit and hit["id"] is None:
        hit["id"] = reserved_value(rng, "id")
    for _ in range(rng.choice([0, 0, 1, 2, 3, 5, 8])):
        name = rng.choice(NAMES) if rng.random() < 0.97 else rng.choice(NON_STR_NAMES)
        hit[name] = free_value(rng)
    if rng.random() < 0.1:  # empty optional text means absent
        hit[rng.choice(sorted(OPTIONAL_TEXT | {"id"}))] = ""
    keys = list(hit)
    rng.shuffle(keys)  # reserved fields in any order: errors must follow HitSchema's order
    return {key: hit[key] for key in keys}


def valid_hit(rng: random.Random) -> dict[str, Any]:
    """Shaped like real traffic, so the accepting path is covered as much as refusals."""
    hit: dict[str, Any] = {"id": f"item-{rng.randint(0, 999)}"}
    if rng.random() < 0.5:
        hit["event"] = rng.choice(["view", "download", "click", "signup:done"])
    if rng.random() < 0.3:
        hit["time"] = rng.choice(["2026-11-22T09:00:00Z", 1_795_300_000_000, "2015-01-22"])
    for name in ("url", "referrer", "format", "visitor", "session", "hit_id"):
        if rng.random() < 0.3:
            hit[name] = rng.choice(["https://example.org/p", "csv", "v-1", "abc", ""])
    for number in range(rng.randint(0, 3)):
        hit[f"p{number}"] = rng.choice([1, 2.5, "text", True, None, {"price": 3, "brand": "b"}])
    return hit


def corpus() -> Iterator[tuple[Any, HitLimits]]:
    rng = random.Random(SEED)
    for _ in range(GENERATED):
        yield generated_hit(rng), rng.choice(LIMITS)
        yield valid_hit(rng), rng.choice(LIMITS)
    for name, value in WRONG_TYPES:
        yield {"id": "bad", name: value}, LIMITS[0]
    for name, value in BAD_PARAMETERS:
        yield {"id": "bad", name: value}, LIMITS[0]
    for value in HOSTILE_VALUES + HOSTILE_URLS:
        yield {"id": value, "hostile": value, "url": value, "referrer": value}, LIMITS[0]
    for query in ("id=a&price=12.5&p.x=1", "id=0042&time=1421931900000&n=9007199254740993"):
        pairs = [pair.partition("=") for pair in query.split("&")]
        yield hit_from_pairs((name, value) for name, _, value in pairs), LIMITS[0]
    yield {"id": "x", **{f"p{n}": n for n in range(99)}}, LIMITS[0]  # 100: the limit
    yield {"id": "x", **{f"p{n}": n for n in range(100)}}, LIMITS[0]


# --- comparing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """What a validator made of one hit, comparable across validators."""

    kind: str  # accepted | refused | raised
    detail: Any


def typed(value: Any) -> Any:
    """A value with the type of every part, so 1 == 1.0 == True cannot hide a difference."""
    if isinstance(value, dict):
        return ("dict", {key: typed(inner) for key, inner in value.items()})
    if isinstance(value, list):
        return ("list", [typed(inner) for inner in value])
    if isinstance(value, datetime):
        return ("datetime", value.isoformat(), value.tzinfo)
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def run(validate: Validator, raw: Any, limits: HitLimits) -> Result:
    try:
        hit = validate(raw, limits, NOW)
    except HitError as error:
        return Result("refused", (error.field, error.message))
    except Exception as error:  # a crash must be the same crash (and is reported below)
        return Result("raised", (type(error).__name__, str(error)))
    reserved_order = [name for name in hit if name in RESERVED]
    return Result("accepted", (typed(hit), reserved_order))


def disagreements(
    expected: list[Result], candidate: Validator, first_only: bool = False
) -> list[str]:
    found = []
    for (raw, limits), reference in zip(CASES, expected, strict=True):
        got = run(candidate, raw, limits)
        if got != reference:
            found.append(f"{raw!r:.300} with {limits}:\n  schema: {reference}\n  check:  {got}")
            if first_only:
                break
    return found


CASES = list(corpus())


@pytest.fixture(scope="module")
def expected() -> list[Result]:
    """What the marshmallow reference makes of every case (computed once: it is the slow one)."""
    return [run(load_hit_with_schema, raw, limits) for raw, limits in CASES]


def test_the_fast_validator_agrees_with_the_schema_on_every_hit_of_the_corpus(
    expected: list[Result],
) -> None:
    problems = disagreements(expected, load_hit)
    assert not problems, f"{len(problems)} disagreements, e.g.\n" + "\n".join(problems[:10])


def test_the_corpus_reaches_every_outcome_and_every_reserved_field(
    expected: list[Result],
) -> None:
    """Agreement means little on a corpus that never reaches a rule: make sure it does."""
    kinds = Counter(result.kind for result in expected)
    assert kinds["accepted"] > len(CASES) // 4
    assert kinds["refused"] > len(CASES) // 4
    assert kinds["raised"] == 0, [r for r in expected if r.kind == "raised"][:5]
    refusals = [result.detail for result in expected if result.kind == "refused"]
    fields = {field for field, _ in refusals}
    assert set(RESERVED) <= fields
    messages = {message.split(": ", 1)[-1] for field, message in refusals if field in RESERVED}
    for message in (
        "Missing data for required field.",
        "Field may not be null.",
        "Not a valid string.",
        "Not a valid utf-8 string.",
        "Length must be between 1 and 1024.",
        "Use 1-64 letters, digits or _ . : -",
        "Use 1-128 letters, digits or _ . : -",
        "Use an ISO-8601 date-time or epoch milliseconds.",
        "The time is before 1970 or after 9999.",
    ):
        assert message in messages, message
    others = " ".join(message for _, message in refusals)
    for part in (
        "unpaired surrogate",
        "at most 6 parameters",
        "ahead of the server clock",
        "days in the past",
        "set by the server",
        "Parameter names start with a letter",
        "Nested keys start with a letter",
        "Only one level of nested objects",
        "beyond 2^53",
        "Numbers must be finite",
        "Text values hold at most 12 characters",
        "must be a JSON object",
    ):
        assert part in others, part


def _accepts_an_empty_id(raw: Any, limits: HitLimits, now: datetime) -> dict[str, Any]:
    if isinstance(raw, dict) and raw.get("id") == "":
        raw = {**raw, "id": "x"}
    return load_hit(raw, limits, now)


def _rewords_event_refusals(raw: Any, limits: HitLimits, now: datetime) -> dict[str, Any]:
    try:
        return load_hit(raw, limits, now)
    except HitError as error:
        if error.field == "event":
            raise HitError(error.message.replace("Use", "use"), error.field) from None
        raise


def _keeps_integers_as_text(raw: Any, limits: HitLimits, now: datetime) -> dict[str, Any]:
    return {k: str(v) if type(v) is int else v for k, v in load_hit(raw, limits, now).items()}


@pytest.mark.parametrize(
    "broken", [_accepts_an_empty_id, _rewords_event_refusals, _keeps_integers_as_text]
)
def test_the_comparison_notices_a_validator_that_differs(
    expected: list[Result], broken: Validator
) -> None:
    assert disagreements(expected, broken, first_only=True)


def test_the_fast_validator_checks_the_schemas_fields_in_the_schemas_order() -> None:
    assert tuple(HitSchema().fields) == RESERVED


def test_a_time_past_the_last_utc_datetime_is_refused_not_a_crash() -> None:
    for validate in (load_hit, load_hit_with_schema):
        with pytest.raises(HitError, match="before 1970 or after 9999") as caught:
            validate({"id": "x", "time": "9999-12-31T23:59:59-01:00"}, HitLimits(), NOW)
        assert caught.value.field == "time"
