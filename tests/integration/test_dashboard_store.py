"""Stored dashboards against the real Elasticsearch: create, read, replace from a version,
delete, export and import; read-only built-in and file dashboards; bad input is a JSON 4xx
naming the problem and never changes what is stored."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from metronome.config import ConfigError
from metronome.es.templates import install_templates
from tests.conftest import READ_KEY, ClientWith, error_of

AUTH = {"Authorization": f"Bearer {READ_KEY}"}


def definition(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "sales",
        "title": "Sales",
        "stream": "hits",
        "widgets": [
            {
                "id": "by-format",
                "title": "Downloads by format",
                "type": "bar",
                "query": {"metrics": ["count"], "dimensions": ["format"]},
                "layout": {"x": 0, "y": 0, "w": 6, "h": 4},
            }
        ],
    }
    return {**base, **overrides}


def create(client: FlaskClient, body: Any, site: str = "shop") -> Any:
    response = client.post(f"/api/v1/dashboards?site={site}", json=body, headers=AUTH)
    assert response.status_code == 201, response.get_json()
    return response


def read(client: FlaskClient, dashboard_id: str = "sales") -> Any:
    response = client.get(f"/api/v1/dashboards/{dashboard_id}?site=shop", headers=AUTH)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_dashboard_is_stored_read_listed_replaced_and_deleted(client: FlaskClient) -> None:
    created = create(client, definition())
    stored = created.get_json()
    assert (stored["source"], stored["readonly"], stored["site"]) == ("stored", False, "shop")
    assert created.headers["ETag"] == f'"{stored["version"]}"'
    assert read(client) == stored
    listed = client.get("/api/v1/dashboards?site=shop", headers=AUTH).get_json()["dashboards"]
    assert [d["id"] for d in listed if d["source"] == "stored"] == ["sales"]
    changed = {**read(client), "title": "Sales (weekly)"}
    response = client.put(
        "/api/v1/dashboards/sales?site=shop", json=changed,
        headers={**AUTH, "If-Match": created.headers["ETag"]},
    )  # fmt: skip
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["title"] == "Sales (weekly)"
    assert response.get_json()["version"] != stored["version"]
    assert read(client)["title"] == "Sales (weekly)"
    deleted = client.delete("/api/v1/dashboards/sales?site=shop", headers=AUTH)
    assert deleted.status_code == 204
    gone = client.get("/api/v1/dashboards/sales?site=shop", headers=AUTH)
    assert (gone.status_code, error_of(gone)["code"]) == (404, "unknown_dashboard")


def test_a_dashboard_belongs_to_its_site(client: FlaskClient) -> None:
    create(client, definition())
    other = client.get("/api/v1/dashboards/sales?site=default", headers=AUTH)
    assert other.status_code == 401  # shop's key does not open the default site
    assert client.get("/api/v1/dashboards/sales?site=shop").status_code == 401  # no key


def test_a_stale_version_is_a_conflict_and_changes_nothing(client: FlaskClient) -> None:
    first = create(client, definition()).get_json()
    ok = client.put(
        "/api/v1/dashboards/sales?site=shop", json={**first, "title": "Mine"}, headers=AUTH
    )  # version in the body
    assert ok.status_code == 200, ok.get_json()
    stale = client.put(
        "/api/v1/dashboards/sales?site=shop", json={**first, "title": "Theirs"},
        headers={**AUTH, "If-Match": f'"{first["version"]}"'},
    )  # fmt: skip
    assert stale.status_code == 409
    assert error_of(stale)["code"] == "version_conflict"
    assert "someone else saved" in error_of(stale)["message"].lower()
    assert stale.get_json()["current_version"] == ok.get_json()["version"]
    assert read(client)["title"] == "Mine"
    unversioned = {k: v for k, v in first.items() if k != "version"}
    missing = client.put("/api/v1/dashboards/sales?site=shop", json=unversioned, headers=AUTH)
    assert (missing.status_code, error_of(missing)["code"]) == (428, "version_required")
    stale_delete = client.delete(
        "/api/v1/dashboards/sales?site=shop", headers={**AUTH, "If-Match": first["version"]}
    )
    assert stale_delete.status_code == 409
    assert read(client)["title"] == "Mine"


def test_of_two_saves_from_one_version_exactly_one_wins(client: FlaskClient) -> None:
    first = create(client, definition()).get_json()
    results: list[int] = []
    barrier = threading.Barrier(2)

    def save(title: str) -> None:
        own = client.application.test_client()
        barrier.wait()
        response = own.put("/api/v1/dashboards/sales?site=shop",
                           json={**first, "title": title}, headers=AUTH)  # fmt: skip
        results.append(response.status_code)

    threads = [threading.Thread(target=save, args=(t,)) for t in ("Left", "Right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200, 409]
    assert read(client)["title"] in ("Left", "Right")


def test_an_id_is_taken_once_and_made_when_missing(client: FlaskClient) -> None:
    create(client, definition())
    again = client.post("/api/v1/dashboards?site=shop", json=definition(), headers=AUTH)
    assert (again.status_code, error_of(again)["code"]) == (409, "id_taken")
    builtin = client.post("/api/v1/dashboards?site=shop", json=definition(id="web"), headers=AUTH)
    assert (builtin.status_code, error_of(builtin)["code"]) == (409, "id_taken")
    body = {k: v for k, v in definition(title="Sales: Europe!").items() if k != "id"}
    assert create(client, body).get_json()["id"] == "sales-europe"
    assert create(client, body).get_json()["id"] == "sales-europe-2"


def test_export_then_import_makes_a_copy(client: FlaskClient) -> None:
    create(client, definition())
    exported = client.get("/api/v1/dashboards/sales/export?site=shop", headers=AUTH)
    assert exported.status_code == 200
    assert exported.headers["Content-Disposition"] == 'attachment; filename="sales.dashboard.json"'
    body = json.loads(exported.data)
    assert "version" not in body and "source" not in body
    copy = client.post("/api/v1/dashboards/import?site=shop", json=body, headers=AUTH)
    assert copy.status_code == 201, copy.get_json()
    assert copy.get_json()["id"] == "sales-2"
    logs = client.get("/api/v1/dashboards/logs/export?site=shop", headers=AUTH)
    imported = client.post("/api/v1/dashboards/import?site=shop", data=logs.data,
                           headers={**AUTH, "Content-Type": "application/json"})  # fmt: skip
    assert imported.status_code == 201, imported.get_json()
    assert (imported.get_json()["id"], imported.get_json()["readonly"]) == ("logs-2", False)


def test_built_in_dashboards_are_read_only(client: FlaskClient) -> None:
    web = read(client, "web")
    put = client.put("/api/v1/dashboards/web?site=shop", json=web, headers=AUTH)
    assert (put.status_code, error_of(put)["code"]) == (403, "readonly")
    delete = client.delete("/api/v1/dashboards/web?site=shop", headers=AUTH)
    assert (delete.status_code, error_of(delete)["code"]) == (403, "readonly")


BAD_INPUT = [
    (b'{"id": "sales", ', "application/json", 400, "malformed_json", "not valid JSON"),
    (b"[" * 150_000 + b"]" * 150_000, "application/json", 413, "body_too_large", "262144"),
    (b"[" * 5000 + b"]" * 5000, "application/json", 400, "malformed_json", "nested"),
    (b"\xff\xfe", "application/json", 400, "malformed_json", "not valid JSON"),
    (b"id=sales", "text/plain", 415, "unsupported_media_type", "text/plain"),
    (b"[]", "application/json", 422, "invalid_dashboard", "a dashboard is a JSON object"),
    (json.dumps(definition(widgets=[{**definition()["widgets"][0], "type": "radar"}])).encode(),
     "application/json", 422, "invalid_dashboard",
     "widgets[0] (by-format).type: unknown widget type 'radar'"),
    (json.dumps(definition(widgets=[{**definition()["widgets"][0], "query": {
        "metrics": ["count"], "dimensions": ["colour"]}}])).encode(), "application/json", 422,
     "invalid_dashboard", "widgets[0] (by-format).query.dimensions: Unknown field 'colour'"),
    (json.dumps(definition(title=7)).encode(), "application/json", 422, "invalid_dashboard",
     "title: text expected"),
    (json.dumps(definition(widgets="all")).encode(), "application/json", 422,
     "invalid_dashboard", "widgets: a list"),
    (json.dumps(definition(defaults={"range": 30})).encode(), "application/json", 422,
     "invalid_dashboard", "defaults.range"),
    (json.dumps(definition(widgets=[{**definition()["widgets"][0], "layout": {
        "x": "0", "y": 0, "w": 1, "h": 1}}])).encode(), "application/json", 422,
     "invalid_dashboard", "layout.x: a whole number"),
    (json.dumps(definition(site=5)).encode(), "application/json", 422, "invalid_dashboard",
     "site"),
    (json.dumps(definition(id="other")).encode(), "application/json", 422, "invalid_dashboard",
     "keeps its id"),
]  # fmt: skip


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_a_json_refusal_and_changes_nothing(
    client: FlaskClient, case: tuple[bytes, str, int, str, str]
) -> None:
    body, mimetype, status, code, words = case
    stored = create(client, definition()).get_json()
    for method, path in (("post", "/api/v1/dashboards?site=shop"),
                         ("put", "/api/v1/dashboards/sales?site=shop")):  # fmt: skip
        if words == "keeps its id" and method == "post":
            continue
        response = getattr(client, method)(
            path, data=body,
            headers={**AUTH, "Content-Type": mimetype, "If-Match": stored["version"]},
        )  # fmt: skip
        assert response.status_code == status, (method, response.get_json())
        error = error_of(response)
        assert error["code"] == code
        assert words in error["message"] + error.get("field", ""), error
    assert read(client) == stored


def test_a_stale_version_with_bad_input_still_changes_nothing(client: FlaskClient) -> None:
    stored = create(client, definition()).get_json()
    stale = {**stored, "version": "99.1", "title": "x"}
    response = client.put("/api/v1/dashboards/sales?site=shop", json=stale, headers=AUTH)
    assert (response.status_code, error_of(response)["code"]) == (409, "version_conflict")
    garbage = client.put("/api/v1/dashboards/sales?site=shop",
                         json={**stored, "version": "latest"}, headers=AUTH)  # fmt: skip
    assert (garbage.status_code, error_of(garbage)["code"]) == (422, "invalid_version")
    # an If-Match that names no version cannot match the current one
    for header in ("*", "", '"latest"', '"0.0"', '"9999999999999999999.1"'):
        response = client.delete("/api/v1/dashboards/sales?site=shop",
                                 headers={**AUTH, "If-Match": header})  # fmt: skip
        assert (response.status_code, error_of(response)["code"]) == (409, "version_conflict")
        assert response.get_json()["current_version"] == stored["version"]
    assert read(client) == stored


def write_file(directory: Path, name: str, text: str) -> None:
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(text, encoding="utf-8")


def test_dashboard_files_are_loaded_at_start_and_read_only(
    client_with: ClientWith, tmp_path: Path
) -> None:
    folder = tmp_path / "dashboards"
    write_file(folder, "ops.yml", "id: ops\ntitle: Operations\nstream: logs\nwidgets:\n"
               "  - id: status\n    type: pie\n    query: {metrics: [count], dimensions: "
               "[http.status]}\n    layout: {x: 0, y: 0, w: 6, h: 4}\n")  # fmt: skip
    write_file(folder, "plain.json", json.dumps({"id": "plain", "title": "Plain", "widgets": []}))
    write_file(folder, "notes.txt", "not a dashboard")
    settings, client = client_with(dashboards={"dir": str(folder)})
    install_templates(client.application.extensions["metronome"].es,
                      settings.elasticsearch.index_prefix)  # fmt: skip
    listing = client.get("/api/v1/dashboards?site=shop", headers=AUTH).get_json()["dashboards"]
    files = {d["id"]: d for d in listing if d["source"] == "file"}
    assert set(files) == {"ops", "plain"}
    assert files["ops"]["readonly"] is True
    put = client.put("/api/v1/dashboards/ops?site=shop", json={}, headers=AUTH)
    assert (put.status_code, error_of(put)["code"]) == (403, "readonly")
    data = client.post("/api/v1/dashboards/ops/data", json={"site": "shop"}, headers=AUTH)
    assert data.status_code == 200
    assert "results" in data.get_json()["widgets"]["status"]


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("bad.yml", "id: bad\ntitle: Bad\nwidgets:\n  - id: w\n    type: radar\n    query: "
         "{metrics: [count]}\n    layout: {x: 0, y: 0, w: 1, h: 1}\n",
         "bad.yml: widgets[0] (w).type: unknown widget type 'radar'"),
        ("broken.json", '{"id": ', "broken.json is not valid JSON"),
        ("web.json", json.dumps({"id": "web", "title": "Mine", "widgets": []}),
         "web.json: id: 'web' is the id of a built-in dashboard"),
    ],
)  # fmt: skip
def test_a_bad_dashboard_file_stops_the_start_naming_file_and_field(
    client_with: ClientWith, tmp_path: Path, name: str, text: str, words: str
) -> None:
    folder = tmp_path / "dashboards"
    write_file(folder, name, text)
    with pytest.raises((ConfigError, ValueError)) as caught:
        client_with(dashboards={"dir": str(folder)})
    assert words in str(caught.value)


def test_the_apps_session_reads_and_edits_dashboards_with_its_csrf_token(
    client: FlaskClient,
) -> None:
    signed = client.post("/api/v1/session", json={"key": READ_KEY})
    assert signed.status_code == 200, signed.get_json()
    csrf = {"X-CSRF-Token": signed.get_json()["csrf_token"]}
    assert client.get("/api/v1/dashboards?site=shop").status_code == 200  # the cookie alone
    refused = client.post("/api/v1/dashboards?site=shop", json=definition())
    assert (refused.status_code, error_of(refused)["code"]) == (403, "csrf")
    created = client.post("/api/v1/dashboards?site=shop", json=definition(), headers=csrf)
    assert created.status_code == 201, created.get_json()
    data = client.post("/api/v1/dashboards/sales/data", json={"site": "shop"})
    assert (data.status_code, error_of(data)["code"]) == (403, "csrf")
    assert client.post("/api/v1/dashboards/sales/data", json={"site": "shop"},
                       headers=csrf).status_code == 200  # fmt: skip
    other = client.get("/api/v1/dashboards?site=default")
    assert (other.status_code, error_of(other)["code"]) == (403, "site_not_allowed")
