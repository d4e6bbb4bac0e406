"""GitHub webhook deliveries: signature, headers, bodies, and the document each becomes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from metronome.errors import ApiError
from metronome.spool.entry import encode_entry, utc_day
from metronome.webhooks.github import (
    Delivery,
    decode_payload,
    payload_digest,
    read_delivery,
    signature_of,
    verify_signature,
)
from metronome.webhooks.github_document import (
    check_fresh,
    delivery_entry,
    delivery_time,
    document,
    document_time,
)
from tests.github_payloads import AFTER, SENDER, push

# The test vector of GitHub's own guide to validating webhook deliveries.
VECTOR_SECRET = "It's a Secret to Everybody"
VECTOR_BODY = b"Hello, World!"
VECTOR_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

RECEIVED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
V1_DELIVERY = "58474f00-b361-11eb-836d-0e4f3503ccbe"  # made 2021-05-12T20:33:43.92Z
V4_DELIVERY = "3f2a94f6-2c4e-4d8b-9f51-0d6a1c0f7e21"
REPO = {"full_name": "acme/widgets", "created_at": 1400000000, "pushed_at": 1714557600}


def delivery(event: str, payload: dict[str, Any], delivery_id: str = V4_DELIVERY) -> Delivery:
    return Delivery(event, delivery_id, 42, payload, payload_digest(payload))


def error_of(call: Any, *args: Any, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args, **kwargs)
    return caught.value


# --- signature ------------------------------------------------------------------------------


def test_the_signature_matches_githubs_documented_vector() -> None:
    assert signature_of(VECTOR_SECRET, VECTOR_BODY) == VECTOR_SIGNATURE
    verify_signature(VECTOR_SECRET, VECTOR_BODY, VECTOR_SIGNATURE)


def test_a_signature_with_upper_case_hex_or_padding_is_still_accepted() -> None:
    verify_signature(VECTOR_SECRET, VECTOR_BODY, "sha256=" + VECTOR_SIGNATURE[7:].upper())
    verify_signature(VECTOR_SECRET, VECTOR_BODY, f" {VECTOR_SIGNATURE} ")


@pytest.mark.parametrize(
    "signature",
    [
        VECTOR_SIGNATURE[:-1] + "0",  # one digit off
        VECTOR_SIGNATURE[7:],  # without "sha256="
        "sha1=" + VECTOR_SIGNATURE[7:],
        "sha256=",
        "sha256=\u00e9\u00e9",  # not ASCII: refused, never a TypeError
    ],
)
def test_a_wrong_signature_is_401_invalid_signature(signature: str) -> None:
    error = error_of(verify_signature, VECTOR_SECRET, VECTOR_BODY, signature)
    assert (error.status, error.code) == (401, "invalid_signature")


def test_a_changed_body_or_another_secret_does_not_verify() -> None:
    for secret, body in ((VECTOR_SECRET, b"Hello, World?"), ("another secret", VECTOR_BODY)):
        error = error_of(verify_signature, secret, body, VECTOR_SIGNATURE)
        assert error.code == "invalid_signature"


def test_no_signature_is_401_missing_signature() -> None:
    error = error_of(verify_signature, VECTOR_SECRET, VECTOR_BODY, None)
    assert (error.status, error.code) == (401, "missing_signature")
    assert "webhooks.github.secret" in error.message


def test_the_legacy_sha1_signature_alone_is_refused_and_the_message_says_why() -> None:
    error = error_of(verify_signature, VECTOR_SECRET, VECTOR_BODY, None, "sha1=0123abcd")
    assert (error.status, error.code) == (401, "missing_signature")
    assert "X-Hub-Signature " in error.message and "not accepted" in error.message


# --- headers and bodies ---------------------------------------------------------------------


def read(**overrides: Any) -> Delivery:
    request: dict[str, Any] = {
        "event": "star",
        "delivery_id": V1_DELIVERY,
        "hook_id": "42",
        "media_type": "application/json",
        "content_encoding": None,
        "body": b'{"action": "created"}',
    }
    return read_delivery(**{**request, **overrides})


def test_a_delivery_is_read_from_its_headers_and_json_body() -> None:
    digest = hashlib.sha256(b'{"action":"created"}').hexdigest()  # canonical JSON
    assert read() == Delivery("star", V1_DELIVERY, 42, {"action": "created"}, digest)


def test_a_non_numeric_hook_id_is_left_out() -> None:
    assert read(hook_id="abc").hook_id is None
    assert read(hook_id=None).hook_id is None


@pytest.mark.parametrize(
    ("header", "name"), [("event", "X-GitHub-Event"), ("delivery_id", "X-GitHub-Delivery")]
)
def test_a_missing_event_or_delivery_header_is_400(header: str, name: str) -> None:
    for value in (None, ""):
        error = error_of(read, **{header: value})
        assert (error.status, error.code, error.field) == (400, "missing_header", name)


@pytest.mark.parametrize("value", ["a b", "x" * 200, "<script>", "-leading-dash"])
def test_an_unusable_delivery_id_is_400(value: str) -> None:
    error = error_of(read, delivery_id=value)
    assert (error.status, error.code) == (400, "invalid_header")


def test_a_form_delivery_carries_the_json_in_its_payload_field() -> None:
    payload = {"zen": "Keep it logically awesome & simple.", "hook_id": 7, "list": [1, "ü"]}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    assert decode_payload("application/x-www-form-urlencoded", None, body) == payload


@pytest.mark.parametrize(
    "body", [b"", b"zen=1", b"payload=%7B%7D&payload=%7B%7D"], ids=["empty", "none", "two"]
)
def test_a_form_without_exactly_one_payload_field_is_400(body: bytes) -> None:
    error = error_of(decode_payload, "application/x-www-form-urlencoded", None, body)
    assert (error.status, error.code) == (400, "missing_payload")


def test_a_form_that_is_not_utf8_is_400() -> None:
    for body in (b"payload=%FF", "payload=é".encode()):
        error = error_of(decode_payload, "application/x-www-form-urlencoded", None, body)
        assert (error.status, error.code) == (400, "invalid_form")


@pytest.mark.parametrize("media_type", ["text/plain", "application/xml", "", None])
def test_other_media_types_are_415(media_type: str | None) -> None:
    error = error_of(decode_payload, media_type, None, b"{}")
    assert (error.status, error.code) == (415, "unsupported_media_type")


def test_a_compressed_body_is_415() -> None:
    error = error_of(decode_payload, "application/json", "gzip", b"{}")
    assert (error.status, error.code) == (415, "unsupported_encoding")


@pytest.mark.parametrize(
    "body", [b"{", b'{"a": NaN}', b"\xff{}", b"[" * 100_000], ids=["cut", "nan", "bytes", "deep"]
)
def test_malformed_json_is_400(body: bytes) -> None:
    error = error_of(decode_payload, "application/json", None, body)
    assert error.status == 400 and error.code in {"invalid_json", "invalid_encoding"}


def test_an_empty_body_is_400() -> None:
    error = error_of(decode_payload, "application/json", None, b"  ")
    assert (error.status, error.code) == (400, "empty_payload")


@pytest.mark.parametrize("body", [b"[]", b"3", b'"text"', b"null"])
def test_json_that_is_not_an_object_is_422(body: bytes) -> None:
    error = error_of(decode_payload, "application/json", None, body)
    assert (error.status, error.code) == (422, "invalid_payload")


# --- documents ------------------------------------------------------------------------------

PUSH = push(
    REPO,
    forced=True,
    compare="https://github.com/acme/widgets/compare/6113728f27ae...0d1a26e67d8f",
    commits=[
        {"id": AFTER, "timestamp": "2024-04-30T08:00:00-04:00"},
        {"id": "1b2c", "timestamp": "2024-04-30T08:10:00-04:00"},
    ],
    head_commit={"id": "1b2c", "timestamp": "2024-04-30T08:10:00-04:00"},
)


def test_a_push_becomes_a_summary_at_the_push_time() -> None:
    doc = document(delivery("push", PUSH), "default", RECEIVED)
    assert doc["@timestamp"] == "2024-05-01T10:00:00.000Z"  # repository.pushed_at, an epoch
    assert doc["timestamp_from"] == "payload"
    assert doc["push"] == {
        "ref": "refs/heads/main",
        "before": PUSH["before"],
        "after": PUSH["after"],
        "commits": 2,
        "forced": True,
        "created": False,
        "deleted": False,
        "pusher": "octocat",
    }
    assert "action" not in doc  # a push has none


def test_every_document_has_the_common_envelope_and_the_whole_payload() -> None:
    doc = document(delivery("push", PUSH), "shop", RECEIVED)
    assert {key: doc[key] for key in list(doc)[:11]} == {
        "@timestamp": "2024-05-01T10:00:00.000Z",
        "@version": "1",
        "type": "github",
        "site": "shop",
        "received_at": "2024-05-01T12:00:00.000Z",
        "source": "github-webhook",
        "source_type": "github_webhook",
        "kind": "webhook",
        "event": "push",
        "delivery": V4_DELIVERY,
        "timestamp_from": "payload",
    }
    assert (doc["hook_id"], doc["repo"], doc["sender"]) == (42, "acme/widgets", "octocat")
    assert doc["payload"] == PUSH


def test_a_push_without_pushed_at_is_dated_by_its_head_commit() -> None:
    payload = {**PUSH, "repository": {"full_name": "acme/widgets"}}
    doc = document(delivery("push", payload), "default", RECEIVED)
    assert doc["@timestamp"] == "2024-04-30T12:10:00.000Z"


def test_a_star_is_dated_by_starred_at() -> None:
    payload = {"action": "created", "starred_at": "2024-04-29T23:59:59Z", "repository": REPO}
    doc = document(delivery("star", payload), "default", RECEIVED)
    assert (doc["@timestamp"], doc["action"]) == ("2024-04-29T23:59:59.000Z", "created")
    assert doc["star"] == {"starred_at": "2024-04-29T23:59:59.000Z"}


def test_an_unstar_has_no_starred_at_and_is_dated_by_its_delivery_guid() -> None:
    payload = {"action": "deleted", "starred_at": None, "repository": REPO, "sender": SENDER}
    doc = document(delivery("star", payload, V1_DELIVERY), "default", RECEIVED)
    assert (doc["@timestamp"], doc["timestamp_from"]) == ("2021-05-12T20:33:43.920Z", "delivery")
    assert "star" not in doc and doc["action"] == "deleted"


def test_the_guid_time_is_read_from_version_1_uuids_only() -> None:
    assert delivery_time(V1_DELIVERY) == datetime(2021, 5, 12, 20, 33, 43, 920000, tzinfo=UTC)
    assert delivery_time(V4_DELIVERY) is None
    assert delivery_time("not-a-uuid") is None


def test_without_any_time_of_its_own_a_delivery_is_dated_when_received() -> None:
    doc = document(delivery("watch", {"action": "started", "repository": REPO}), "d", RECEIVED)
    assert (doc["@timestamp"], doc["timestamp_from"]) == ("2024-05-01T12:00:00.000Z", "received")
    assert doc["action"] == "started" and "watch" not in doc


def test_a_redelivery_gets_the_same_id_and_day_even_days_later() -> None:
    """The index is chosen by @timestamp: a redelivery must land where the original did."""
    for event, payload, delivery_id in (
        ("push", PUSH, V4_DELIVERY),
        ("watch", {"action": "started"}, V1_DELIVERY),
    ):
        first = delivery_entry(delivery(event, payload, delivery_id), "default", RECEIVED)
        later = RECEIVED + timedelta(days=3)
        again = delivery_entry(delivery(event, payload, delivery_id), "default", later)
        assert first.id == again.id == f"github-webhook:sha256:{delivery(event, payload).digest}"
        assert first.stream == "github"
        assert utc_day(first.doc["@timestamp"]) == utc_day(again.doc["@timestamp"])


@pytest.mark.parametrize(
    "pushed_at", [0, -5, 10**20, "2999-01-01T00:00:00Z", "2024-05-01T10:00:00", True, "soon"]
)
def test_an_implausible_or_unreadable_time_is_not_used(pushed_at: Any) -> None:
    payload = {"repository": {"pushed_at": pushed_at}, "head_commit": None}
    moment, found_in = document_time(delivery("push", payload), RECEIVED)
    assert (moment, found_in) == (RECEIVED, "received")


def test_a_fork_names_the_new_repository_and_is_dated_by_its_creation() -> None:
    forkee = {"full_name": "someone/widgets", "created_at": "2024-04-30T01:02:03Z"}
    doc = document(delivery("fork", {"forkee": forkee, "repository": REPO}), "d", RECEIVED)
    assert doc["fork"] == {"forkee": "someone/widgets"}
    assert doc["@timestamp"] == "2024-04-30T01:02:03.000Z"


def test_a_pull_request_summary() -> None:
    payload = {
        "action": "closed",
        "number": 17,
        "pull_request": {
            "number": 17,
            "state": "closed",
            "merged": True,
            "draft": False,
            "title": "Count forks",
            "user": {"login": "hubot"},
            "merged_at": "2024-04-30T10:00:00Z",
        },
        "repository": REPO,
        "sender": SENDER,
    }
    doc = document(delivery("pull_request", payload), "default", RECEIVED)
    assert doc["pull_request"] == {
        "number": 17,
        "state": "closed",
        "merged": True,
        "draft": False,
        "title": "Count forks",
        "user": "hubot",
    }


def test_an_issues_summary_is_named_issue() -> None:
    payload = {
        "action": "closed",
        "issue": {
            "number": 3,
            "title": "Stars are off by one",
            "state": "closed",
            "state_reason": "completed",
            "user": {"login": "octocat"},
            "labels": [{"name": "bug"}, {"name": "stars"}, {"id": 9}],
        },
        "organization": {"login": "acme"},
    }
    doc = document(delivery("issues", payload), "default", RECEIVED)
    assert doc["issue"] == {
        "number": 3,
        "state": "closed",
        "state_reason": "completed",
        "title": "Stars are off by one",
        "user": "octocat",
        "labels": ["bug", "stars"],
    }
    assert doc["org"] == "acme"


def test_a_ping_keeps_its_hook_id_from_the_payload() -> None:
    payload = {"zen": "Design for failure.", "hook_id": 109948940, "hook": {"type": "Repository"}}
    ping = Delivery(event="ping", id=V4_DELIVERY, hook_id=None, payload=payload, digest="d")
    doc = document(ping, "default", RECEIVED)
    assert doc["hook_id"] == 109948940 and doc["event"] == "ping"


def test_other_events_get_the_generic_fields_only() -> None:
    payload = {"action": "published", "release": {"tag_name": "v1"}, "repository": REPO}
    doc = document(delivery("release", payload), "default", RECEIVED)
    assert doc["action"] == "published" and doc["repo"] == "acme/widgets"
    assert not {"push", "star", "fork", "pull_request", "issue", "release"} & set(doc)


@pytest.mark.parametrize("event", ["push", "star", "fork", "pull_request", "issues", "watch"])
def test_payloads_of_the_wrong_shape_give_a_document_not_a_crash(event: str) -> None:
    """Wrong types leave a summary field out; they are never a KeyError or TypeError."""
    odd: dict[str, Any] = {
        "action": 5,
        "number": "17",
        "ref": ["x"],
        "commits": "many",
        "forced": "yes",
        "pusher": "octocat",
        "pull_request": [],
        "issue": {"labels": "bug", "user": "me", "number": True},
        "forkee": None,
        "starred_at": 1714557600,
        "repository": "acme/widgets",
        "sender": None,
        "head_commit": 3,
    }
    doc = document(delivery(event, odd), "default", RECEIVED)
    assert doc["payload"] == odd
    assert not {"action", "repo", "sender"} & set(doc)
    encode_entry(delivery_entry(delivery(event, odd), "default", RECEIVED))  # serialisable


def test_a_replay_under_another_delivery_id_gets_the_same_id() -> None:
    star = {"action": "created", "starred_at": "2024-05-01T11:00:00Z", "repository": REPO}
    original = delivery_entry(delivery("star", star, V1_DELIVERY), "default", RECEIVED)
    replayed = delivery_entry(delivery("star", star, V4_DELIVERY), "default", RECEIVED)
    assert original.id == replayed.id
    other = delivery_entry(delivery("star", {**star, "action": "deleted"}), "default", RECEIVED)
    assert other.id != original.id


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("push", {"repository": {"pushed_at": 1714557600}}),  # 2024-05-01T10:00Z
        ("star", {"action": "created", "starred_at": "2024-05-01T10:00:00Z"}),
        ("fork", {"forkee": {"created_at": "2024-05-01T10:00:00Z"}}),
    ],
)
def test_a_delivery_older_than_the_window_by_its_signed_time_is_refused(
    event: str, payload: dict[str, Any]
) -> None:
    window = timedelta(days=4)
    check_fresh(delivery(event, payload), RECEIVED + timedelta(days=3), window)
    error = error_of(check_fresh, delivery(event, payload), RECEIVED + timedelta(days=5), window)
    assert (error.status, error.code) == (422, "stale_delivery")
    assert "2024-05-01T10:00:00.000Z" in str(error) and "max_age_days" in str(error)
    check_fresh(delivery(event, payload), RECEIVED + timedelta(days=500), None)  # no limit


def test_the_age_is_not_read_from_the_unsigned_delivery_id_nor_an_old_commit() -> None:
    late = RECEIVED + timedelta(days=30)
    check_fresh(delivery("watch", {"action": "started"}, V1_DELIVERY), late, timedelta(days=4))
    old_commit = {"repository": {}, "head_commit": {"timestamp": "2020-01-01T00:00:00Z"}}
    check_fresh(delivery("push", old_commit), late, timedelta(days=4))
