"""POST /api/v1/dashboards/<id>/data against the real Elasticsearch: every widget's answer is
what POST /api/v1/query answers for the same range and filters, a widget's failure stays its
own, and the listing and definitions of the built-in dashboards."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from metronome.config import Settings
from metronome.dashboards.builtins import builtin_dashboards
from metronome.dashboards.data import PageState, widget_body
from metronome.dashboards.definition import Dashboard
from metronome.query.timerange import time_zone_names
from tests.conftest import READ_KEY, WRITE_KEY, error_of

AUTH = {"Authorization": f"Bearer {READ_KEY}"}
UA_FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def send(client: FlaskClient, hits: list[dict[str, Any]], agent: str = UA_FIREFOX) -> None:
    response = client.post(
        "/tick",
        json=[{"site": "shop", **h} for h in hits],
        headers={"X-Metronome-Key": WRITE_KEY, "User-Agent": agent},
    )
    assert response.status_code == 202, response.get_json()


def some_hits(now: datetime) -> list[dict[str, Any]]:
    hits = []
    for day in range(12):
        moment = (now - timedelta(days=day, minutes=5)).isoformat()
        for n in range(day % 4 + 1):
            referrer = f"https://ref{n % 2}.example.org/x"
            hits.append(
                {"id": f"/page-{n}", "event": "view", "time": moment, "referrer": referrer,
                 "visitor_id": f"v{n}"}
            )  # fmt: skip
        hits.append({"id": "data.csv", "event": "download", "format": "csv", "time": moment})
    hits.append({"id": "/now", "event": "view"})  # in the realtime panel
    return hits


def web() -> Dashboard:
    return next(d for d in builtin_dashboards() if d.id == "web")


def data(client: FlaskClient, dashboard_id: str = "web", **body: Any) -> Any:
    response = client.post(
        f"/api/v1/dashboards/{dashboard_id}/data", json={"site": "shop", **body}, headers=AUTH
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def query(client: FlaskClient, body: dict[str, Any]) -> Any:
    response = client.post("/api/v1/query", json=body, headers=AUTH)
    return response.get_json()


def test_every_widget_answers_what_the_query_api_answers(
    client: FlaskClient, ship: Callable[[], int]
) -> None:
    now = datetime.now(UTC)
    send(client, some_hits(now))
    ship()
    page = PageState(
        "30d", "day", "Europe/Warsaw", "previous", (["is", "id", ["/page-0", "/page-1"]],)
    )
    fields = client.application.extensions["metronome"].catalog.fields("hits")
    for _ in range(3):  # the realtime panel's range moves with the minute: same minute for both
        minute = datetime.now(UTC).replace(second=0, microsecond=0)
        answer = data(client, range="30d", interval="day", tz="Europe/Warsaw",
                      compare="previous", filters=[list(f) for f in page.filters])  # fmt: skip
        expected: dict[str, Any] = {}
        for item in web().widgets:
            if item.id == "countries" and "geo.country_name" not in fields:
                continue  # its own error, below
            body = widget_body(web(), item, page=page, site="shop", known=fields)
            expected[item.id] = query(client, body)
            if item.type == "number" and any(d.startswith("time") for d in body["dimensions"]):
                total = {**body, "dimensions": []}
                expected[item.id]["total"] = query(client, total)
        if datetime.now(UTC).replace(second=0, microsecond=0) == minute:
            break
    for widget_id, wanted in expected.items():
        assert answer["widgets"][widget_id] == wanted, widget_id
    views = answer["widgets"]["views"]
    assert views["total"]["results"][0]["metrics"][0] == sum(
        row["metrics"][0] for row in views["results"]
    )
    assert views["total"]["results"][0]["metrics"][0] > 0
    assert answer["range"]["to"] > answer["range"]["from"]
    assert answer["compare_range"]["to"] == answer["range"]["from"]
    assert list(answer["widgets"]) == [w.id for w in web().widgets]


def test_a_widget_that_cannot_be_answered_fails_alone(
    client: FlaskClient, ship: Callable[[], int]
) -> None:
    send(client, some_hits(datetime.now(UTC)))
    ship()
    answer = data(client, filters=[["is", "referrer.host", ["ref0.example.org"]]])
    widgets = answer["widgets"]
    if "geo.country_name" not in client.application.extensions["metronome"].catalog.fields("hits"):
        assert widgets["countries"]["error"]["code"] == "unknown_field"
    assert widgets["referrers"]["results"][0]["dimensions"] == ["ref0.example.org"]
    assert len(widgets["referrers"]["results"]) == 1
    # A matches filter Elasticsearch refuses: every widget answers it as its own error.
    refused = data(client, filters=[["matches", "id", ["(unclosed"]]])
    assert refused["widgets"]["views"]["error"]["code"] == "invalid_query"


def test_a_page_filter_on_a_field_a_stream_lacks_is_that_widgets_error(
    client: FlaskClient, ship: Callable[[], int]
) -> None:
    send(client, some_hits(datetime.now(UTC)))
    ship()
    answer = data(client, "logs", filters=[["is", "referrer.host", ["x"]]])
    # the logs stream has no documents and no field of that name in this site's data, but its
    # template declares referrer.host: the filter applies
    assert "results" in answer["widgets"]["referrers"]
    answer = data(client, "logs", filters=[["is", "visitor_id", ["v1"]]])
    error = answer["widgets"]["requests"]["error"]
    assert error["code"] == "filter_not_applicable"
    assert "visitor_id" in error["message"]


def test_answers_are_kept_a_few_seconds(client: FlaskClient, ship: Callable[[], int]) -> None:
    send(client, some_hits(datetime.now(UTC)))
    ship()
    first = data(client, range="7d")
    send(client, [{"id": "/late", "event": "view"}])
    ship()
    assert data(client, range="7d") == first  # the same request within the cache's seconds
    fresh = data(client, range="7d", interval="day", compare=None)
    count = fresh["widgets"]["views"]["total"]["results"][0]["metrics"][0]
    assert count == first["widgets"]["views"]["total"]["results"][0]["metrics"][0] + 1


def test_dashboards_are_listed_and_read_with_a_read_key(client: FlaskClient) -> None:
    listing = client.get("/api/v1/dashboards?site=shop", headers=AUTH)
    assert listing.status_code == 200
    summaries = listing.get_json()["dashboards"]
    assert [d["id"] for d in summaries][:1] == ["web"]
    assert {d["source"] for d in summaries} == {"builtin"}
    assert all(d["readonly"] for d in summaries)
    one = client.get("/api/v1/dashboards/web?site=shop", headers=AUTH)
    assert one.status_code == 200
    assert one.headers["ETag"] == f'"{one.get_json()["version"]}"'
    assert one.get_json()["widgets"][0]["id"] == "views"
    assert client.get("/api/v1/dashboards?site=shop").status_code == 401
    assert client.get("/api/v1/dashboards/web?site=shop", headers={
        "Authorization": "Bearer wrong"}).status_code == 401  # fmt: skip
    unknown = client.get("/api/v1/dashboards/nope?site=shop", headers=AUTH)
    assert (unknown.status_code, error_of(unknown)["code"]) == (404, "unknown_dashboard")
    response = client.post("/api/v1/dashboards/web/data", json={"site": "shop"})
    assert response.status_code == 401


def test_a_wrong_data_request_is_a_json_refusal(client: FlaskClient) -> None:
    for body, status in (
        ({"site": "shop", "range": "forever"}, 422),
        ({"site": "shop", "interval": "fortnight"}, 422),
        ({"site": "shop", "filters": [["is"]]}, 422),
        ({"site": "shop", "colour": 1}, 422),
        ({"site": 3}, 422),
    ):
        response = client.post("/api/v1/dashboards/web/data", json=body, headers=AUTH)
        assert response.status_code == status, (body, response.get_json())
        error_of(response)
    response = client.post(
        "/api/v1/dashboards/web/data", data=b"{", headers={**AUTH, "Content-Type":
                                                           "application/json"})  # fmt: skip
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_json"


def test_a_zone_elasticsearch_lacks_fails_only_the_widgets_over_time(client: FlaskClient) -> None:
    # Elasticsearch refuses a whole multi-search when one search names a time zone its Java
    # runtime does not know; each search is then sent alone.
    zone = "America/Coyhaique"  # in tz data since 2025: newer than Java 17's
    if zone not in time_zone_names():
        pytest.skip(f"this machine's tz data has no {zone}")
    answer = data(client, tz=zone)
    assert answer["widgets"]["views-over-time"]["error"]["field"] == "tz"
    assert "time zone" in answer["widgets"]["views-over-time"]["error"]["message"]
    assert "results" in answer["widgets"]["top-pages"]


def test_the_github_dashboard_counts_webhook_events_apart_from_what_the_source_reads(
    client: FlaskClient, es: Elasticsearch, settings: Settings
) -> None:
    # A star read by the github source has no event or action: it is no webhook event, and
    # must not show as a "(none) · (none)" row of the actions table.
    index = f"{settings.elasticsearch.index_prefix}-github-2016.03.01"
    at = "2016-03-01T10:00:00Z"
    documents: list[dict[str, Any]] = [
        {"kind": "webhook", "event": "push", "repo": "acme/app", "sender": "ada",
         "push": {"commits": 3}},
        {"kind": "webhook", "event": "issues", "action": "opened", "repo": "acme/app",
         "sender": "bob"},
        {"kind": "star", "repo": "acme/app", "user": "cy"},
        {"kind": "star", "repo": "acme/app", "user": "di"},
    ]  # fmt: skip
    for n, document in enumerate(documents):
        es.index(index=index, id=f"gh-{n}", document={**document, "site": "shop", "@timestamp": at})
    es.indices.refresh(index=index)
    widgets = data(client, "github", range=["2016-03-01", "2016-03-02"], interval="day")["widgets"]
    assert widgets["deliveries"]["total"]["results"][0]["metrics"] == [2]
    assert widgets["stars"]["total"]["results"][0]["metrics"] == [2]
    actions = [row["dimensions"] for row in widgets["actions"]["results"]]
    assert sorted(actions, key=str) == [["issues", "opened"], ["push", None]]
    assert [row["dimensions"] for row in widgets["senders-top"]["results"]] == [["ada"], ["bob"]]
