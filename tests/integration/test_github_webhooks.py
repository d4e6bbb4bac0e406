"""``POST /webhooks/github`` end to end: the real app, spool, shipper and Elasticsearch.

Requests are built as GitHub sends them: the body signed with HMAC-SHA256 of the hook's secret
in ``X-Hub-Signature-256``, ``X-GitHub-Event``/``-Delivery``/``-Hook-ID`` headers, and either a
JSON body or GitHub's default form body (``payload=<urlencoded JSON>``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from metronome.config import Settings
from metronome.es.templates import install_templates
from metronome.spool.shipper import Shipper
from metronome.spool.writer import spool_bytes
from metronome.webhooks.github import payload_digest, signature_of
from tests.conftest import METRICS_AUTH, ClientWith, error_of, make_settings
from tests.github_payloads import push

SECRET = "It's a Secret to Everybody"
PUSH_DELIVERY = "58474f00-b361-11eb-836d-0e4f3503ccbe"
REPO = {
    "id": 1296269,
    "full_name": "acme/widgets",
    "created_at": 1303000000,
    "pushed_at": 1714557600,
}
PUSH = push(REPO)
# Elsewhere (the REST API, most other events) repository times are ISO strings: the same path
# with another type, harmless only because payloads are stored but not indexed.
STAR = {
    "action": "created",
    "starred_at": "2024-05-02T08:30:00Z",
    "repository": {
        **REPO,
        "created_at": "2011-04-17T00:26:40Z",
        "pushed_at": "2024-05-01T10:00:00Z",
    },
    "sender": {"login": "hubot", "id": 2},
}
PING = {"zen": "Design for failure.", "hook_id": 42, "hook": {"type": "Repository"}}


def github_hook(**changes: Any) -> dict[str, Any]:
    """The ``webhooks`` settings of the hook: its secret, and a window of 10 years that keeps
    the payloads (dated 2024) fresh; ``changes`` are added."""
    return {"github": {"secret": SECRET, "max_age_days": 3650, **changes}}


@pytest.fixture
def settings(es_url: str, index_prefix: str, tmp_path: Path) -> Settings:
    return make_settings(es_url, index_prefix, tmp_path / "spool", webhooks=github_hook())


def deliver(
    client: FlaskClient,
    event: str,
    payload: Any,
    delivery: str,
    *,
    form: bool = False,
    secret: str | None = SECRET,
    body: bytes | None = None,
    content_type: str | None = None,
    headers: dict[str, str] | None = None,
) -> TestResponse:
    if body is None:
        text = json.dumps(payload)
        body = urlencode({"payload": text}).encode() if form else text.encode()
    sent = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Hook-ID": "42",
        "User-Agent": "GitHub-Hookshot/044aadd",
        "Content-Type": content_type
        or ("application/x-www-form-urlencoded" if form else "application/json"),
    }
    if secret is not None:
        sent["X-Hub-Signature-256"] = signature_of(secret, body)
    sent.update(headers or {})
    return client.post("/webhooks/github", data=body, headers=sent)


def stored(es: Elasticsearch, index_prefix: str) -> list[dict[str, Any]]:
    found = es.search(
        index=f"{index_prefix}-github-*", size=100, sort=["@timestamp"], allow_no_indices=True
    )
    return [
        {"_id": hit["_id"], "_index": hit["_index"], **hit["_source"]}
        for hit in found["hits"]["hits"]
    ]


def test_a_signed_json_push_is_stored_with_its_summary(
    client: FlaskClient, ship: Callable[[], int], es: Elasticsearch, index_prefix: str
) -> None:
    response = deliver(client, "push", PUSH, PUSH_DELIVERY)
    assert response.status_code == 202, response.data
    assert response.get_json() == {"ok": True, "event": "push", "delivery": PUSH_DELIVERY}
    assert ship() == 1
    [doc] = stored(es, index_prefix)
    assert doc["_id"] == f"github-webhook:sha256:{payload_digest(PUSH)}"  # of the payload
    assert doc["_index"] == f"{index_prefix}-github-2024"  # the push's own year (github: by year)
    assert doc["@timestamp"] == "2024-05-01T10:00:00.000Z"
    assert {key: doc[key] for key in ("type", "site", "source", "source_type", "kind")} == {
        "type": "github",
        "site": "default",
        "source": "github-webhook",
        "source_type": "github_webhook",
        "kind": "webhook",
    }
    assert (doc["event"], doc["delivery"], doc["hook_id"]) == ("push", PUSH_DELIVERY, 42)
    assert (doc["repo"], doc["sender"]) == ("acme/widgets", "octocat")
    assert doc["push"]["commits"] == 1 and doc["push"]["pusher"] == "octocat"
    assert doc["payload"] == PUSH
    metrics = client.get("/metrics", headers=METRICS_AUTH).get_data(as_text=True)
    assert 'metronome_webhook_deliveries_total{event="push"}' in metrics


def test_a_signed_form_delivery_is_stored(
    client: FlaskClient, ship: Callable[[], int], es: Elasticsearch, index_prefix: str
) -> None:
    response = deliver(client, "star", STAR, "d-form-1", form=True)
    assert response.status_code == 202, response.data
    assert ship() == 1
    [doc] = stored(es, index_prefix)
    assert (doc["event"], doc["action"], doc["sender"]) == ("star", "created", "hubot")
    assert doc["star"] == {"starred_at": "2024-05-02T08:30:00.000Z"}
    assert doc["payload"] == STAR


def test_a_redelivery_is_stored_once(
    client: FlaskClient, ship: Callable[[], int], es: Elasticsearch, index_prefix: str
) -> None:
    assert deliver(client, "push", PUSH, PUSH_DELIVERY).status_code == 202
    assert deliver(client, "push", PUSH, PUSH_DELIVERY).status_code == 202  # before shipping
    ship()
    assert deliver(client, "push", PUSH, PUSH_DELIVERY, form=True).status_code == 202  # after
    ship()
    assert [doc["delivery"] for doc in stored(es, index_prefix)] == [PUSH_DELIVERY]


def test_a_ping_is_answered_with_its_zen_and_stored_as_an_event(
    client: FlaskClient, ship: Callable[[], int], es: Elasticsearch, index_prefix: str
) -> None:
    response = deliver(client, "ping", PING, "d-ping-1")
    assert response.status_code == 200, response.data
    assert response.get_json() == {
        "ok": True,
        "event": "ping",
        "delivery": "d-ping-1",
        "zen": "Design for failure.",
    }
    assert ship() == 1
    [doc] = stored(es, index_prefix)
    assert (doc["event"], doc["hook_id"]) == ("ping", 42)


@pytest.mark.parametrize(
    ("secret", "headers", "code"),
    [
        (None, {}, "missing_signature"),
        (
            None,
            {"X-Hub-Signature": "sha1=7d38cdd689735b008b3c702edd92eea23791c5f6"},
            "missing_signature",
        ),
        ("another secret", {}, "invalid_signature"),
    ],
    ids=["unsigned", "legacy-sha1-only", "wrong-secret"],
)
def test_an_unsigned_or_wrongly_signed_delivery_is_401_and_nothing_is_stored(
    client: FlaskClient,
    settings: Settings,
    secret: str | None,
    headers: dict[str, str],
    code: str,
) -> None:
    response = deliver(client, "push", PUSH, PUSH_DELIVERY, secret=secret, headers=headers)
    assert response.status_code == 401
    assert error_of(response)["code"] == code
    assert spool_bytes(settings.spool.dir) == 0  # not even spooled


def test_a_body_changed_after_signing_is_401(client: FlaskClient, settings: Settings) -> None:
    body = json.dumps(PUSH).encode()
    tampered = body.replace(b"octocat", b"mallory")
    signature = signature_of(SECRET, body)
    response = deliver(
        client, "push", None, "d-x", body=tampered, headers={"X-Hub-Signature-256": signature}
    )
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_signature"
    assert spool_bytes(settings.spool.dir) == 0


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"<push/>", "application/xml", (415, "unsupported_media_type")),
        (b'{"ref": "refs/heads/main"', "application/json", (400, "invalid_json")),
        (b"payload=%7Bnope", "application/x-www-form-urlencoded", (400, "invalid_json")),
        (b"[1, 2]", "application/json", (422, "invalid_payload")),
    ],
    ids=["xml", "cut-json", "cut-form", "array"],
)
def test_a_signed_body_that_is_not_a_delivery_is_refused_and_nothing_is_stored(
    client: FlaskClient,
    settings: Settings,
    body: bytes,
    content_type: str,
    expected: tuple[int, str],
) -> None:
    response = deliver(client, "push", None, "d-bad", body=body, content_type=content_type)
    assert (response.status_code, error_of(response)["code"]) == expected, response.data
    assert spool_bytes(settings.spool.dir) == 0


@pytest.mark.parametrize("header", ["X-GitHub-Delivery", "X-GitHub-Event"])
def test_a_delivery_without_its_id_or_event_is_400(
    client: FlaskClient, settings: Settings, header: str
) -> None:
    response = deliver(client, "push", PUSH, PUSH_DELIVERY, headers={header: ""})
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["field"]) == ("missing_header", header)
    assert spool_bytes(settings.spool.dir) == 0


def test_every_kind_of_payload_is_stored_side_by_side_without_mapping_conflicts(
    client: FlaskClient, ship: Callable[[], int], es: Elasticsearch, index_prefix: str
) -> None:
    """``repository.created_at`` is an epoch in a push and a string in a star: both index,
    because payloads are kept unindexed; the summaries are typed by the github template."""
    same_day_star = {**STAR, "starred_at": "2024-05-01T11:00:00Z"}
    release = {"action": "published", "release": {"tag_name": "v1", "id": "x"}, "repository": REPO}
    assert deliver(client, "push", PUSH, PUSH_DELIVERY).status_code == 202
    assert deliver(client, "star", same_day_star, "d-star").status_code == 202
    assert deliver(client, "release", release, "d-release").status_code == 202
    assert ship() == 3
    assert len(stored(es, index_prefix)) == 3
    index = f"{index_prefix}-github-2024"
    properties = es.indices.get_mapping(index=index)[index]["mappings"]["properties"]
    assert properties["payload"] == {"type": "object", "enabled": False}
    assert properties["hook_id"]["type"] == "long"
    assert properties["push"]["properties"]["commits"]["type"] == "integer"
    assert properties["star"]["properties"]["starred_at"]["type"] == "date"


def test_a_full_spool_is_503_with_retry_after_and_what_was_accepted_is_stored(
    client_with: ClientWith, es: Elasticsearch, index_prefix: str, tmp_path: Path
) -> None:
    settings, client = client_with(
        spool={"dir": str(tmp_path / "spool"), "max_bytes": 65_536}, webhooks=github_hook()
    )
    install_templates(es, index_prefix)
    accepted: list[str] = []
    refusal: TestResponse | None = None
    for number in range(100):
        padded = {**STAR, "padding": "p" * 4000, "n": number}  # same bytes: one delivery
        response = deliver(client, "star", padded, f"d-fill-{number}")
        if response.status_code != 202:
            refusal = response
            break
        accepted.append(f"d-fill-{number}")
    assert refusal is not None, "the spool never filled"
    assert accepted
    assert refusal.status_code == 503
    assert error_of(refusal)["code"] == "spool_full"
    assert int(refusal.headers["Retry-After"]) > 0
    shipper = Shipper(settings.spool.dir, es, index_prefix, settings.shipper)
    while shipper.run_once():
        pass
    es.indices.refresh(index=f"{index_prefix}-github-*")
    assert sorted(doc["delivery"] for doc in stored(es, index_prefix)) == sorted(accepted)


def test_without_a_secret_the_endpoint_is_404_saying_what_to_set(client_with: ClientWith) -> None:
    _, client = client_with()  # the test settings as they are: no webhooks
    response = deliver(client, "push", PUSH, PUSH_DELIVERY)
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "webhook_not_configured"
    assert "webhooks.github.secret" in error["message"]


def test_a_push_bigger_than_the_hits_limit_is_stored_whole(
    client_with: ClientWith, es: Elasticsearch, index_prefix: str
) -> None:
    """GitHub sends payloads of up to 25 MB and does not retry a refused one: the limit of
    tracking hits (1 MiB by default) must not apply to webhook deliveries."""
    settings, client = client_with(ingest={"max_body_bytes": 2048}, webhooks=github_hook())
    commits = [
        {"id": f"{number:040x}", "message": "Count stars " + "x" * 200} for number in range(2000)
    ]
    big = {**PUSH, "commits": commits}
    assert len(json.dumps(big)) > 400_000  # far over the hits' limit, as a big merge push is
    response = deliver(client, "push", big, PUSH_DELIVERY)
    assert response.status_code == 202, response.data
    install_templates(es, index_prefix)
    shipper = Shipper(settings.spool.dir, es, index_prefix, settings.shipper)
    while shipper.run_once():
        pass
    es.indices.refresh(index=f"{index_prefix}-github-*")
    [doc] = stored(es, index_prefix)
    assert doc["push"]["commits"] == 2000
    assert doc["payload"] == big
    hit = client.post("/tick", json={"id": "x", "padding": "p" * 4096})
    assert hit.status_code == 413  # the hits' own limit still holds on the same app


def test_a_body_over_the_webhook_limit_is_413_naming_it(client_with: ClientWith) -> None:
    settings, client = client_with(webhooks=github_hook(max_body_bytes=4096))
    response = deliver(client, "push", {**PUSH, "padding": "p" * 8192}, PUSH_DELIVERY)
    assert response.status_code == 413
    assert "4096" in error_of(response)["message"]
    assert spool_bytes(settings.spool.dir) == 0
    assert deliver(client, "push", PUSH, PUSH_DELIVERY).status_code == 202


def test_a_signed_delivery_replayed_under_another_delivery_id_is_stored_once(
    client: FlaskClient, ship: Callable[[], int], es: Elasticsearch, index_prefix: str
) -> None:
    assert deliver(client, "push", PUSH, PUSH_DELIVERY).status_code == 202
    replayed = deliver(client, "push", PUSH, "0b9c2f1e-replayed-with-a-new-id")
    assert replayed.status_code == 202  # signed by the secret: only its bytes tell it apart
    ship()
    [doc] = stored(es, index_prefix)
    assert doc["delivery"] == PUSH_DELIVERY


def test_a_delivery_older_than_the_window_is_refused_and_nothing_is_stored(
    client: FlaskClient, ship: Callable[[], int], es: Elasticsearch, index_prefix: str
) -> None:
    star = {
        "action": "created",
        "starred_at": "2012-03-04T05:06:07Z",
        "repository": PUSH["repository"],
    }
    response = deliver(client, "star", star, "7d1f0c2a-old-star")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "stale_delivery" and "2012-03-04T05:06:07.000Z" in error["message"]
    assert ship() == 0 and stored(es, index_prefix) == []
