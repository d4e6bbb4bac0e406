"""Shared links and widget downloads against the real Elasticsearch: a link opens one
dashboard of one site without a key, always with its fixed filters, refuses every write, and
stops working once revoked; only the token's hash is stored."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch
from flask.testing import FlaskClient
from openpyxl import load_workbook  # type: ignore[import-untyped]

from metronome.config import Settings
from tests.conftest import READ_KEY, WRITE_KEY, ClientWith, error_of

AUTH = {"Authorization": f"Bearer {READ_KEY}"}


def send_hits(client: FlaskClient, ship: Callable[[], int]) -> None:
    moment = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    hits = [
        {"site": "shop", "id": "a", "event": "view", "time": moment,
         "referrer": "https://news.example.org/x"},
        {"site": "shop", "id": "b", "event": "view", "time": moment,
         "referrer": "https://news.example.org/y"},
        {"site": "shop", "id": "c", "event": "view", "time": moment,
         "referrer": "https://blog.example.com/z"},
        {"site": "shop", "id": "d", "event": "download", "format": "pdf", "time": moment},
    ]  # fmt: skip
    response = client.post("/tick", json=hits, headers={"X-Metronome-Key": WRITE_KEY})
    assert response.status_code == 202
    ship()


def share(client: FlaskClient, dashboard: str = "web", **body: Any) -> Any:
    response = client.post(f"/api/v1/dashboards/{dashboard}/shares",
                           json={"site": "shop", **body}, headers=AUTH)  # fmt: skip
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def total_views(answer: Any) -> int:
    return int(answer["widgets"]["views"]["total"]["results"][0]["metrics"][0])


def test_a_link_opens_the_dashboard_without_a_key_with_its_fixed_filters(
    client: FlaskClient, ship: Callable[[], int], es: Elasticsearch, settings: Settings
) -> None:
    send_hits(client, ship)
    made = share(client, filters=[["is", "referrer.host", ["news.example.org"]]])
    token = made["token"]
    assert made["url"] == f"/share/{token}"
    assert len(token) >= 32  # 192 bits, URL-safe base64
    definition = client.get(f"/api/v1/shared/{token}").get_json()
    assert definition["dashboard"]["id"] == "web"
    assert definition["dashboard"]["readonly"] is True
    assert (definition["site"], definition["filters"]) == (
        "shop", [["is", "referrer.host", ["news.example.org"]]],
    )  # fmt: skip
    shared = client.post(f"/api/v1/shared/{token}/data", json={"range": "7d"})
    assert shared.status_code == 200, shared.get_json()
    assert total_views(shared.get_json()) == 2  # the fixed filter holds
    keyed = client.post("/api/v1/dashboards/web/data", json={"site": "shop", "range": "7d"},
                        headers=AUTH).get_json()  # fmt: skip
    assert total_views(keyed) == 3
    # Page filters add to the fixed ones; they cannot lift them.
    narrowed = client.post(f"/api/v1/shared/{token}/data",
                           json={"range": "7d", "filters": [["is", "id", ["a"]]]})  # fmt: skip
    assert total_views(narrowed.get_json()) == 1
    # Only the token's SHA-256 is stored.
    index = f"{settings.elasticsearch.index_prefix}-shares"
    stored = es.search(index=index, query={"match_all": {}}).body["hits"]["hits"]
    assert [hit["_id"] for hit in stored] == [hashlib.sha256(token.encode()).hexdigest()]
    assert token not in json.dumps(stored)
    listed = client.get("/api/v1/dashboards/web/shares?site=shop", headers=AUTH).get_json()
    assert [s["id"] for s in listed["shares"]] == [made["id"]]
    assert token not in json.dumps(listed)


def test_a_link_refuses_every_write_and_another_site(
    client: FlaskClient, ship: Callable[[], int]
) -> None:
    token = share(client)["token"]
    for method in ("put", "patch", "delete", "post"):
        response = getattr(client, method)(f"/api/v1/shared/{token}", json={"title": "x"})
        assert (response.status_code, error_of(response)["code"]) == (403, "readonly"), method
    moved = client.post(f"/api/v1/shared/{token}/data", json={"site": "default"})
    assert (moved.status_code, error_of(moved)["code"]) == (403, "readonly")
    # The token is no read key.
    as_key = client.put("/api/v1/dashboards/web?site=shop", json={},
                        headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert as_key.status_code == 401


def test_a_revoked_or_unknown_link_opens_nothing(client: FlaskClient) -> None:
    made = share(client)
    token = made["token"]
    assert client.get(f"/api/v1/shared/{token}").status_code == 200
    revoked = client.delete(f"/api/v1/shares/{made['id']}?site=shop", headers=AUTH)
    assert revoked.status_code == 204
    for response in (
        client.get(f"/api/v1/shared/{token}"),
        client.post(f"/api/v1/shared/{token}/data", json={}),
        client.get("/api/v1/shared/" + "A" * 32),
        client.get("/api/v1/shared/short"),
    ):
        assert (response.status_code, error_of(response)["code"]) == (404, "unknown_share")
    again = client.delete(f"/api/v1/shares/{made['id']}?site=shop", headers=AUTH)
    assert again.status_code == 404
    assert client.delete(f"/api/v1/shares/{made['id']}?site=shop").status_code == 401


def test_a_link_to_a_deleted_dashboard_opens_nothing(client: FlaskClient) -> None:
    body = {"id": "mine", "title": "Mine", "widgets": []}
    created = client.post("/api/v1/dashboards?site=shop", json=body, headers=AUTH)
    assert created.status_code == 201
    token = share(client, "mine")["token"]
    assert client.get(f"/api/v1/shared/{token}").status_code == 200
    assert client.delete("/api/v1/dashboards/mine?site=shop", headers=AUTH).status_code == 204
    assert client.get(f"/api/v1/shared/{token}").status_code == 404


def test_bad_share_requests_are_refused(client: FlaskClient) -> None:
    for body, status in (
        ({"site": "shop", "filters": [["near", "id", ["a"]]]}, 422),
        ({"site": "shop", "filters": "id=a"}, 422),
        ({"site": "shop", "expires": 3}, 422),
        ([], 400),
    ):
        response = client.post("/api/v1/dashboards/web/shares", json=body, headers=AUTH)
        assert response.status_code == status, (body, response.get_json())
        error_of(response)
    unknown = client.post("/api/v1/dashboards/nope/shares", json={"site": "shop"}, headers=AUTH)
    assert unknown.status_code == 404


def test_shared_pages_may_be_framed_by_the_configured_origins(client_with: ClientWith) -> None:
    _, client = client_with(dashboards={"embed_origins": ["https://intranet.example.org"]})
    response = client.get("/share/anything")
    policy = response.headers["Content-Security-Policy"]
    assert policy.endswith("frame-ancestors https://intranet.example.org")
    other = client.get("/api/v1/shared/" + "A" * 32)
    assert "frame-ancestors 'none'" in other.headers["Content-Security-Policy"]
    _, closed = client_with()
    assert (
        closed.get("/share/x").headers["Content-Security-Policy"].endswith("frame-ancestors 'none'")
    )


def test_a_widget_downloads_every_row_as_csv_and_xlsx(
    client: FlaskClient, ship: Callable[[], int]
) -> None:
    send_hits(client, ship)
    page = {"site": "shop", "range": "7d", "compare": None}
    response = client.post("/api/v1/dashboards/web/widgets/referrers/data.csv", json=page,
                           headers=AUTH)  # fmt: skip
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows == [["referrer.host", "count", "visitors"], ["news.example.org", "2", "1"],
                    ["blog.example.com", "1", "1"]]  # fmt: skip
    pages = client.post("/api/v1/dashboards/web/widgets/events/data.xlsx", json=page,
                        headers=AUTH)  # fmt: skip
    assert pages.status_code == 200
    sheet = load_workbook(io.BytesIO(pages.data)).active
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        ["event", "count"], ["view", 3], ["download", 1],
    ]  # fmt: skip
    token = share(client, filters=[["is", "event", ["download"]]])["token"]
    moved = client.post(f"/api/v1/shared/{token}/widgets/events/data.csv",
                        json={"site": "default"})  # fmt: skip
    assert moved.status_code == 403
    shared = client.post(f"/api/v1/shared/{token}/widgets/events/data.csv",
                         json={"range": "7d", "compare": None})  # fmt: skip
    assert shared.status_code == 200
    assert shared.get_data(as_text=True).splitlines() == ["event,count", "download,1"]
    for path, status, code in (
        ("/api/v1/dashboards/web/widgets/nope/data.csv", 404, "unknown_widget"),
        ("/api/v1/dashboards/web/widgets/events/data.pdf", 404, "unknown_format"),
        ("/api/v1/dashboards/nope/widgets/events/data.csv", 404, "unknown_dashboard"),
    ):
        response = client.post(path, json=page, headers=AUTH)
        assert (response.status_code, error_of(response)["code"]) == (status, code)
