"""POST /ingest/logs with the bodies Fluentd out_http and Fluent Bit's http output send, into
the logs stream of the real Elasticsearch, read back through /api/v1/query and /tock."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from metronome.config import Settings
from tests.conftest import INGEST_KEY, READ_KEY, WRITE_KEY, ClientWith, error_of, make_settings


def access_line(ip: str, clock: str, path: str, status: int, size: int, *, referrer: str) -> str:
    request = f"GET {path} HTTP/1.1"
    return f'{ip} - - [22/Nov/2026:{clock} +0000] "{request}" {status} {size} "{referrer}" "curl/8"'


LINES = [
    access_line("203.0.113.7", "10:15:32", "/datasets/42.csv", 200, 5120, referrer="-"),
    access_line("203.0.113.8", "10:16:01", "/datasets/42.kml", 200, 77, referrer="https://ex.org/"),
    access_line("203.0.113.9", "10:17:12", "/datasets/42", 200, 900, referrer="-"),
    access_line("203.0.113.9", "10:18:00", "/datasets/42.csv", 404, 0, referrer="-"),
]
AUTH = {"Authorization": f"Bearer {READ_KEY}"}


@pytest.fixture
def settings(es_url: str, index_prefix: str, tmp_path: Path) -> Settings:
    """The test settings with server logs on: into the shop site, /datasets/ items counted."""
    return make_settings(
        es_url,
        index_prefix,
        tmp_path / "spool",
        logs={
            "site": "shop",
            "items": [{"pattern": r"/datasets/(?P<id>[^/.]+)(\.(?P<format>csv|kml))?"}],
        },
    )


@pytest.fixture
def logs_client(
    client: FlaskClient, ship: Callable[[], int]
) -> tuple[FlaskClient, Callable[[], int]]:
    return client, ship


def post(client: FlaskClient, body: bytes | str, content_type: str, **kwargs: Any) -> Any:
    headers = {
        "Content-Type": content_type,
        "X-Metronome-Key": INGEST_KEY,
        **kwargs.pop("headers", {}),
    }
    return client.post(
        kwargs.pop("path", "/ingest/logs/nginx.access"), data=body, headers=headers, **kwargs
    )


def query(client: FlaskClient, **body: Any) -> list[tuple[Any, ...]]:
    response = client.post(
        "/api/v1/query",
        json={"site": "shop", "stream": "logs", "date_range": ["2026-11-01", "2026-12-01"], **body},
        headers=AUTH,
    )
    assert response.status_code == 200, response.get_json()
    return [(*row["dimensions"], *row["metrics"]) for row in response.get_json()["results"]]


def test_fluentd_out_http_ndjson_is_parsed_counted_and_read_back(
    logs_client: tuple[FlaskClient, Callable[[], int]],
) -> None:
    client, ship = logs_client
    body = "".join(json.dumps({"message": line}) + "\n" for line in LINES)
    response = post(client, body, "application/x-ndjson")
    assert response.status_code == 202
    assert response.get_json() == {"accepted": 4}
    assert ship() == 4

    by_status = query(
        client, metrics=["count"], dimensions=["http.status"], order_by=[["http.status", "asc"]]
    )
    assert by_status == [(200, 3), (404, 1)]
    downloads = query(
        client, metrics=["count"], dimensions=["format"], filters=[["is", "event", ["download"]]]
    )
    assert sorted(downloads) == [("csv", 1), ("kml", 1)]
    tock = client.get(
        "/tock/42?stream=logs&site=shop&from=2026-11-22&to=2026-11-23", headers=AUTH
    ).get_json()
    assert tock["views"] == {"2026-11-22": 1}
    assert tock["downloads"] == {"csv": 1, "kml": 1}
    assert tock["referers"] == {}  # the one referrer was on a download, not a view


def test_fluent_bit_json_array_with_date_keys_and_gzip(
    logs_client: tuple[FlaskClient, Callable[[], int]], es: Elasticsearch, index_prefix: str
) -> None:
    client, ship = logs_client
    records = [
        {"date": 1795779332.25, "log": "worker started", "level": "info"},
        {"date": "2026-11-22T10:15:33.5Z", "log": "job done", "level": "info", "ms": 41},
    ]
    body = gzip.compress(json.dumps(records).encode())
    basic = base64.b64encode(f"fluent:{INGEST_KEY}".encode()).decode()  # http_user/http_passwd
    response = client.post(
        "/ingest/logs",
        data=body,
        headers={
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Authorization": f"Basic {basic}",
            "X-Fluent-Tag": "app.worker",
        },
    )
    assert response.status_code == 202, response.get_json()
    ship()
    docs = [
        hit["_source"]
        for hit in es.search(index=f"{index_prefix}-logs-*", sort=["@timestamp"], size=10)["hits"][
            "hits"
        ]
    ]
    assert [(d["@timestamp"], d["tag"], d["log"], d["input"]) for d in docs] == [
        ("2026-11-27T11:35:32.250Z", "app.worker", "worker started", "http"),
        ("2026-11-22T10:15:33.500Z", "app.worker", "job done", "http"),
    ][::-1]
    assert "date" not in docs[0] and docs[0]["ms"] == 41


def test_json_lines_sent_as_application_json_by_older_fluent_bit(
    logs_client: tuple[FlaskClient, Callable[[], int]],
) -> None:
    client, ship = logs_client
    body = '{"date": 1795779332, "log": "a"}\n{"date": 1795779333, "log": "b"}\n'
    assert post(client, body, "application/json").get_json() == {"accepted": 2}
    assert ship() == 2


def test_a_retried_body_is_stored_once(logs_client: tuple[FlaskClient, Callable[[], int]]) -> None:
    client, ship = logs_client
    body = json.dumps([{"message": line} for line in LINES])
    for _ in range(3):  # Fluentd resends the whole chunk after a timeout
        assert post(client, body, "application/json").status_code == 202
    ship()
    assert query(client, metrics=["count"], dimensions=[]) == [(4,)]


def test_bad_records_are_reported_by_index_and_good_ones_kept(
    logs_client: tuple[FlaskClient, Callable[[], int]],
) -> None:
    client, ship = logs_client
    body = '{"log": "ok"}\nnot json\n[1, 2]\n{"log": "also ok"}\n'
    response = post(client, body, "application/x-ndjson")
    assert response.status_code == 202
    answer = response.get_json()
    assert answer["accepted"] == 2
    assert [r["index"] for r in answer["rejected"]] == [1, 2]
    assert ship() == 2


@pytest.mark.parametrize(
    "case",
    [
        ("[1, 2]", "application/json", {}, 422, "no_record_accepted"),
        ("[]", "application/json", {}, 422, "empty_batch"),
        ("", "application/json", {}, 400, "empty_body"),
        ("{oops", "application/json", {}, 400, "malformed_json"),
        ("<xml/>", "application/xml", {}, 415, "unsupported_media_type"),
        ('{"a": 1}', "application/json", {"Content-Encoding": "br"}, 415, "unsupported_encoding"),
        ('{"a": 1}', "application/json", {"X-Metronome-Key": "wrong"}, 401, "invalid_key"),
        ('{"a": 1}', "application/json", {"X-Metronome-Key": WRITE_KEY}, 401, "invalid_key"),
        (b"\xff\xfe", "application/json", {}, 400, "invalid_encoding"),
    ],
)
def test_what_the_shippers_must_not_retry_is_a_clear_4xx(
    logs_client: tuple[FlaskClient, Callable[[], int]],
    case: tuple[str | bytes, str, dict[str, str], int, str],
) -> None:
    body, content_type, headers, status, code = case
    client, _ = logs_client
    response = post(client, body, content_type, headers=headers)
    assert response.status_code == status
    assert error_of(response)["code"] == code


def test_a_full_spool_answers_503_which_fluentd_and_fluent_bit_retry(
    client_with: ClientWith, tmp_path: Path
) -> None:
    _, client = client_with(
        spool={"dir": str(tmp_path / "spool"), "max_bytes": 65536, "segment_bytes": 4096}
    )
    record = json.dumps({"log": "x" * 4000})
    statuses = [
        client.post(
            "/ingest/logs", data=record, headers={"Content-Type": "application/json"}
        ).status_code
        for _ in range(20)
    ]
    assert statuses[0] == 202
    assert statuses[-1] == 503
    last = client.post("/ingest/logs", data=record, headers={"Content-Type": "application/json"})
    assert last.headers["Retry-After"].isdigit()
    assert error_of(last)["code"] == "spool_full"


def test_a_site_with_write_keys_but_no_ingest_key_takes_no_server_logs(
    client_with: ClientWith,
) -> None:
    """Write keys are published in web pages: with one, anyone could forge server downloads."""
    _, client = client_with(
        sites={
            "default": {"write_auth": "none"},
            "shop": {"write_auth": "key", "write_keys": [WRITE_KEY]},
        },
        logs={"site": "shop"},
    )
    response = client.post(
        "/ingest/logs",
        data='{"message": "x"}',
        headers={"Content-Type": "application/json", "X-Metronome-Key": WRITE_KEY},
    )
    assert response.status_code == 401
    error = error_of(response)
    assert error["code"] == "no_ingest_key"
    assert "sites.shop.ingest_keys" in error["message"]


def test_an_ingest_key_in_the_url_is_not_read(
    logs_client: tuple[FlaskClient, Callable[[], int]],
) -> None:
    client, _ = logs_client
    response = client.post(
        f"/ingest/logs?key={INGEST_KEY}",
        data='{"message": "x"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 401
    assert error_of(response)["code"] == "missing_key"


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/ingest/logs/nginx?tag=" + "t" * 257, {}),
        ("/ingest/logs?tag=nginx", {"X-Fluent-Tag": "t" * 257}),
    ],
)
def test_every_tag_sent_is_checked_not_only_the_one_used(
    logs_client: tuple[FlaskClient, Callable[[], int]], path: str, headers: dict[str, str]
) -> None:
    client, _ = logs_client
    response = post(
        client, json.dumps({"log": "x"}), "application/json", path=path, headers=headers
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_tag"
