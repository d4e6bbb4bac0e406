"""``/api/v1/alerts`` on the real Elasticsearch: rules with their state and history, stored
rules created, replaced from their version and deleted, the config file's and the health rules
read-only, bad bodies refused with the rule and key named, each key seeing what it may."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from metronome.alerts.evaluate import Evaluator
from metronome.config import Settings
from metronome.es.naming import index_for
from metronome.es.templates import install_templates
from metronome.web.app import create_app
from tests.conftest import ADMIN_KEY, READ_KEY, error_of, make_settings

AUTH = {"Authorization": f"Bearer {READ_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
FILE_RULES = {
    "too-many-errors": {
        "site": "shop",
        "filters": [["is", "event", ["error"]]],
        "condition": {"above": 3},
        "for": 0,
        "description": "Errors are piling up",
    },
    "elsewhere": {"site": "default", "condition": {"below": 1}},
}
NEW = {
    "name": "big-orders",
    "metric": "sum:amount",
    "filters": [["is", "event", ["order"]]],
    "window": "15m",
    "condition": {"above": 1000},
    "severity": "critical",
}


@pytest.fixture
def settings(es_url: str, index_prefix: str, tmp_path: Any) -> Settings:
    return make_settings(
        es_url, index_prefix, tmp_path / "spool", default_site="shop",
        alerts={"rules": FILE_RULES},
    )  # fmt: skip


@pytest.fixture
def client(settings: Settings, es: Elasticsearch, index_prefix: str) -> FlaskClient:
    install_templates(es, index_prefix)
    now = datetime.now(UTC)
    es.index(
        index=index_for(index_prefix, "hits", now),
        document={"@timestamp": now.isoformat(), "site": "shop", "event": "order", "amount": 5},
        refresh=True,
    )
    return create_app(settings, es=es).test_client()


def test_rules_are_listed_with_their_state(
    client: FlaskClient, settings: Settings, es: Elasticsearch
) -> None:
    Evaluator(settings, es, None).run()  # rules without channels: nothing to queue
    alerts = client.get("/api/v1/alerts", headers=AUTH).get_json()["alerts"]
    assert [a["name"] for a in alerts] == ["too-many-errors"]  # the site's rules only
    (rule,) = alerts
    assert (rule["origin"], rule["readonly"], rule["version"]) == ("file", True, None)
    assert rule["status"]["state"] == "ok" and rule["status"]["value"] == 0
    assert rule["status"]["evaluated_at"] is not None
    everything = client.get("/api/v1/alerts", headers=ADMIN).get_json()["alerts"]
    names = {a["name"] for a in everything}
    assert {"too-many-errors", "elsewhere", "health:dead_letters"} <= names
    assert {"health:spool_filling", "health:elasticsearch_unreachable"} <= names


def test_a_stored_rule_is_created_read_replaced_and_deleted(client: FlaskClient) -> None:
    created = client.post("/api/v1/alerts", json=NEW, headers=AUTH)
    assert created.status_code == 201, created.get_json()
    version = created.headers["ETag"].strip('"')
    body = created.get_json()
    assert (body["site"], body["origin"], body["readonly"]) == ("shop", "stored", False)
    assert body["window"] == "15m" and body["for"] == "5m"

    again = client.post("/api/v1/alerts", json=NEW, headers=AUTH)
    assert again.status_code == 409 and error_of(again)["code"] == "name_taken"
    taken = client.post("/api/v1/alerts", json={**NEW, "name": "too-many-errors"}, headers=AUTH)
    assert taken.status_code == 409

    one = client.get("/api/v1/alerts/big-orders", headers=AUTH)
    assert one.status_code == 200 and one.headers["ETag"] == f'"{version}"'
    assert one.get_json()["history"] == {
        "events": [], "page": 1, "limit": 50, "total": 0, "has_more": False,
    }  # fmt: skip

    changed = {**NEW, "condition": {"above": 2000}}
    unversioned = client.put("/api/v1/alerts/big-orders", json=changed, headers=AUTH)
    assert unversioned.status_code == 428
    replaced = client.put(
        "/api/v1/alerts/big-orders", json=changed, headers={**AUTH, "If-Match": f'"{version}"'}
    )
    assert replaced.status_code == 200, replaced.get_json()
    assert replaced.get_json()["condition"] == {"above": 2000}
    stale = client.put(
        "/api/v1/alerts/big-orders", json=NEW, headers={**AUTH, "If-Match": f'"{version}"'}
    )
    assert stale.status_code == 409 and error_of(stale)["code"] == "version_conflict"
    assert stale.get_json()["current_version"] == replaced.headers["ETag"].strip('"')

    deleted = client.delete("/api/v1/alerts/big-orders", headers=AUTH)
    assert deleted.status_code == 204
    assert client.get("/api/v1/alerts/big-orders", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({**NEW, "metric": "sum:weight"}, "metric", "weight"),
        ({**NEW, "filters": [["is", "colour", ["red"]]]}, "filters", "colour"),
        ({**NEW, "condition": {"above": "lots"}}, "condition.above", "number"),
        ({**NEW, "window": "forever"}, "window", "duration"),
        ({**NEW, "name": "Big Orders"}, "name", "rule name"),
        ({**NEW, "extra": 1}, "extra", "Unknown key"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(
    client: FlaskClient, body: dict[str, Any], field: str, words: str
) -> None:
    response = client.post("/api/v1/alerts", json=body, headers=AUTH)
    assert response.status_code == 422, response.get_json()
    error = error_of(response)
    assert error["field"] == field and words in error["message"]


@pytest.mark.parametrize(
    ("data", "status"), [(b"{", 400), (b"[1]", 400), (b"null", 400)]
)  # fmt: skip
def test_bodies_that_are_no_rule_are_4xx(client: FlaskClient, data: bytes, status: int) -> None:
    response = client.post(
        "/api/v1/alerts", data=data, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == status
    error_of(response)


def test_config_and_health_rules_are_read_only_and_health_needs_an_admin_key(
    client: FlaskClient,
) -> None:
    for method in (client.put, client.delete):
        response = method("/api/v1/alerts/too-many-errors", json=NEW, headers=AUTH)
        assert response.status_code == 403 and error_of(response)["code"] == "readonly"
    refused = client.get("/api/v1/alerts/health:dead_letters", headers=AUTH)
    assert refused.status_code == 403 and error_of(refused)["code"] == "admin_key_required"
    assert client.get("/api/v1/alerts/health:dead_letters").status_code == 401
    health = client.get("/api/v1/alerts/health:dead_letters", headers=ADMIN)
    assert health.status_code == 200
    assert health.get_json()["condition"] == {"health": "dead_letters"}
    assert client.delete("/api/v1/alerts/health:dead_letters", headers=ADMIN).status_code == 403
    # another site's rule is not there for this key
    assert client.get("/api/v1/alerts/elsewhere", headers=AUTH).status_code == 404
    assert client.get("/api/v1/alerts", headers={"Authorization": "Bearer nope"}).status_code == 401
    other = client.post("/api/v1/alerts?site=shop", json={**NEW, "site": "default"}, headers=AUTH)
    assert other.status_code == 422 and error_of(other)["field"] == "site"
    assert (
        client.post("/api/v1/alerts", json={**NEW, "site": "default"}, headers=AUTH).status_code
        == 401
    )


def test_the_history_is_paged_newest_first(
    client: FlaskClient, settings: Settings, es: Elasticsearch, index_prefix: str
) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=6)
    clock_at = [start]
    evaluator = Evaluator(settings, es, None, lambda: clock_at[0])
    for hour in range(3):  # three incidents: errors in the window, then none
        at = start + timedelta(hours=2 * hour)
        for n in range(5):
            es.index(
                index=index_for(index_prefix, "hits", at),
                document={
                    "@timestamp": (at - timedelta(minutes=n + 1)).isoformat(),
                    "site": "shop",
                    "event": "error",
                },
                refresh=True,
            )
        clock_at[0] = at
        evaluator.run(only="too-many-errors")
        clock_at[0] = at + timedelta(hours=1, minutes=10)
        evaluator.run(only="too-many-errors")
    evaluator.store.refresh()
    first = client.get("/api/v1/alerts/too-many-errors?limit=4", headers=AUTH).get_json()
    history = first["history"]
    assert (history["total"], history["has_more"]) == (6, True)
    states = [event["state"] for event in history["events"]]
    assert states == ["resolved", "firing", "resolved", "firing"]
    times = [event["at"] for event in history["events"]]
    assert times == sorted(times, reverse=True)
    second = client.get("/api/v1/alerts/too-many-errors?limit=4&page=2", headers=AUTH)
    assert len(second.get_json()["history"]["events"]) == 2
    bad = client.get("/api/v1/alerts/too-many-errors?limit=0", headers=AUTH)
    assert bad.status_code == 400
