"""``accept_hits``: the per-hit rules of one request, and the work it shares between hits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from metronome.config import settings_from_mapping
from metronome.hits.accept import RequestFacts, accept_hits
from metronome.hits.bodies import UndecodableLine
from metronome.hits.definition import load_hit
from metronome.hits.pipeline import HitContext, enrich, new_hit_id

NOW = datetime(2026, 11, 22, 10, 0, 0, 123000, tzinfo=UTC)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
SETTINGS = settings_from_mapping(
    {
        "sites": {
            "default": {"write_auth": "none"},
            "shop": {"write_auth": "key", "write_keys": ["pk_shop_0001"]},
            "closed": {"write_auth": "none", "allowed_origins": ["https://closed.example"]},
        }
    }
)
FACTS = RequestFacts(
    received_at=NOW,
    salt=b"s" * 32,
    origin="https://page.example",
    user_agent=CHROME,
    client_ip="203.0.113.7",
)


def test_hits_of_one_request_are_checked_per_site_and_enriched_alike() -> None:
    hits: list[Any] = [
        {"id": "a", "referrer": "https://www.example.org/x/"},
        {"id": "b", "site": "shop", "key": "pk_shop_0001"},
        {"id": "c", "site": "shop"},  # no key
        {"id": "d", "site": "closed"},  # origin not allowed
        "text",
        {"id": "e", "site": "nowhere"},
        {"id": "f", "referrer": "https://www.example.org/x/"},
    ]
    outcome = accept_hits(SETTINGS, FACTS, hits)
    assert [(doc["id"], doc["site"]) for doc in outcome.documents] == [
        ("a", "default"),
        ("b", "shop"),
        ("f", "default"),
    ]
    assert [(r["index"], r["error"]["code"]) for r in outcome.rejected] == [
        (2, "missing_key"),
        (3, "forbidden_origin"),
        (4, "invalid_hit"),
        (5, "unknown_site"),
    ]
    assert outcome.statuses == [401, 403, 422, 422]
    assert outcome.origin_allowed is True  # some site a hit named allows the page
    first, _, last = outcome.documents
    assert first["received_at"] == first["@timestamp"] == "2026-11-22T10:00:00.123Z"
    assert first["visitor"] == last["visitor"]
    assert first["user_agent"] == last["user_agent"]
    assert first["client_ip"] == "203.0.113.0"


def test_documents_share_no_objects_though_their_parts_are_worked_out_once() -> None:
    hit = {"id": "a", "url": "https://example.org/p"}
    first, second = accept_hits(SETTINGS, FACTS, [hit, dict(hit)]).documents
    assert first["user_agent"] == second["user_agent"]
    assert first["user_agent"] is not second["user_agent"]
    assert first["url"] == second["url"]
    assert first["url"] is not second["url"]
    first["url"]["host"] = "changed"
    first["user_agent"]["name"] = "changed"
    third = accept_hits(SETTINGS, FACTS, [hit]).documents[0]
    assert (third["url"]["host"], third["user_agent"]["name"]) == ("example.org", "Chrome")


def test_the_origin_is_unknown_when_no_hit_named_a_site() -> None:
    outcome = accept_hits(SETTINGS, FACTS, [1, None])
    assert outcome.origin_allowed is None
    assert not outcome.documents
    closed = accept_hits(SETTINGS, FACTS, [{"id": "d", "site": "closed"}])
    assert closed.origin_allowed is False


def test_the_event_time_becomes_the_timestamp_in_utc() -> None:
    hits = [
        {"id": "a", "hit_id": "h-1", "time": "2026-11-21T08:00:00+01:00", "price": 3.5},
        {"id": "b", "time": 1_795_244_400},  # epoch seconds: the same instant
        {"id": "c", "time": 1_795_244_400_000},  # epoch milliseconds
    ]
    documents = accept_hits(SETTINGS, FACTS, hits).documents
    assert [doc["@timestamp"] for doc in documents] == ["2026-11-21T07:00:00.000Z"] * 3


def test_a_time_the_epoch_rule_cannot_read_is_a_400_naming_the_field() -> None:
    outcome = accept_hits(SETTINGS, FACTS, [{"id": "a", "time": 1445}, {"id": "b"}])
    assert [doc["id"] for doc in outcome.documents] == ["b"]
    [rejected] = outcome.rejected
    assert (rejected["index"], rejected["error"]["code"]) == (0, "ambiguous_time")
    assert rejected["error"]["field"] == "time"
    assert "epoch seconds below 1e11" in rejected["error"]["message"]
    assert outcome.statuses == [400]


def test_an_undecodable_ndjson_line_is_refused_with_its_own_message() -> None:
    line = UndecodableLine(3, "Line 3 is not valid JSON: Expecting value (column 1).")
    outcome = accept_hits(SETTINGS, FACTS, [{"id": "a"}, line])
    assert outcome.rejected == [
        {"index": 1, "error": {"code": "invalid_hit", "message": line.message}}
    ]
    assert outcome.statuses == [422]


def test_context_values_are_worked_out_once_per_context() -> None:
    context = HitContext(site="default", received_at=NOW, user_agent=CHROME, salt=b"s" * 32)
    assert context.agent is context.agent
    assert context.visitor == enrich(load_hit({"id": "x"}), context)["visitor"]


def test_generated_hit_ids_are_version_4_uuids_in_hex() -> None:
    ids = {new_hit_id() for _ in range(1000)}
    assert len(ids) == 1000
    for hit_id in ids:
        parsed = uuid.UUID(hex=hit_id)
        assert (parsed.version, parsed.variant, parsed.hex) == (4, uuid.RFC_4122, hit_id)
