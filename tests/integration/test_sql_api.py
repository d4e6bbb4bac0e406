"""POST /api/v1/sql against the real Elasticsearch: its answers equal those of the equivalent
POST /api/v1/query on the same hits (and counts made by hand where the query API has no
equivalent: OR, NOT, BETWEEN, HAVING); the Allezon specification's aggregate query, as
written there, equals POST /aggregates; keys, CSV, and hostile input answered 4xx, never 500."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from metronome.cli import cli
from metronome.config import Settings
from metronome.es.templates import install_templates
from tests.conftest import READ_KEY, TEST_SITES, WRITE_KEY, ClientWith, make_settings

AUTH = {"Authorization": f"Bearer {READ_KEY}"}
DAY = ["2015-06-01", "2015-06-04"]
WHERE_DAYS = "@timestamp >= '2015-06-01' AND @timestamp < '2015-06-04'"
HITS: list[dict[str, Any]] = [
    {"id": "a", "event": "view", "format": "csv", "referrer": "https://x.org/p", "price": 10,
     "time": "2015-06-01T10:00:00Z"},
    {"id": "a", "event": "download", "format": "csv", "price": 20, "time": "2015-06-01T11:00:00Z"},
    {"id": "a", "event": "download", "format": "CSV.gz", "price": 30,
     "time": "2015-06-02T09:30:00Z"},
    {"id": "b", "event": "download", "format": "kml", "referrer": "https://y.org/",
     "time": "2015-06-02T23:59:00Z"},
    {"id": "b", "event": "view", "format": "json", "price": 5, "time": "2015-06-03T00:00:00Z"},
    {"id": "c", "event": "view", "referrer": "https://x.org/q", "price": 100,
     "time": "2015-06-03T12:00:00Z"},
    {"id": "c", "event": "download", "format": "csv", "price": 1, "time": "2015-06-03T13:00:00Z"},
    {"id": "a", "event": "view", "time": "2015-06-05T00:00:00Z"},  # outside the range
]  # fmt: skip


@pytest.fixture
def settings(es_url: str, index_prefix: str, tmp_path: Path) -> Settings:
    """The tests' sites with ``shop`` the default: a statement without a site reads it."""
    return make_settings(es_url, index_prefix, tmp_path / "spool", default_site="shop")


def send(client: FlaskClient, hits: list[dict[str, Any]]) -> None:
    response = client.post(
        "/tick", json=[{"site": "shop", **h} for h in hits], headers={"X-Metronome-Key": WRITE_KEY}
    )
    assert response.status_code == 202, response.get_json()


def sql(client: FlaskClient, statement: str, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/sql", json={"sql": statement, **body}, headers=AUTH)
    assert response.status_code == 200, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def query_rows(client: FlaskClient, **body: Any) -> list[list[Any]]:
    response = client.post("/api/v1/query", json={"site": "shop", **body}, headers=AUTH)
    assert response.status_code == 200, response.get_json()
    return [[*r["dimensions"], *r["metrics"]] for r in response.get_json()["results"]]


def test_sql_answers_equal_the_query_api(client: FlaskClient, ship: Callable[[], int]) -> None:
    send(client, HITS)
    ship()
    where = f"WHERE {WHERE_DAYS}"
    pairs: list[tuple[str, dict[str, Any]]] = [
        (
            f"SELECT count(*), sum(price), avg(price), min(price), max(price) FROM hits {where}",
            {"metrics": ["count", "sum:price", "avg:price", "min:price", "max:price"]},
        ),
        (
            f"SELECT format, count(*) FROM hits {where} AND event = 'download' GROUP BY format "
            "ORDER BY count(*) DESC, format",
            {"metrics": ["count"], "dimensions": ["format"], "order_by": [
                ["count", "desc"], ["format", "asc"]],
             "filters": [["is", "event", ["download"]]]},
        ),
        (
            f"SELECT date_trunc('day', @timestamp) AS day, count(*), COUNT(DISTINCT visitor) "
            f"FROM hits {where} GROUP BY day ORDER BY day",
            {"metrics": ["count", "visitors"], "dimensions": ["time:day"]},
        ),
        (
            "SELECT date_trunc('hour', @timestamp), id, count(*) FROM hits "
            "WHERE @timestamp >= '2015-06-01T05:00' AND @timestamp < '2015-06-03T09:00' "
            "GROUP BY 1, 2",
            {"metrics": ["count"], "dimensions": ["time:hour", "id"], "tz": "America/New_York",
             "date_range": ["2015-06-01T05:00", "2015-06-03T09:00"]},
        ),
        (
            f"SELECT referrer.host, id, sum(price) FROM hits {where} AND id IN ('a', 'c') "
            "AND format ILIKE '%csv%' AND event <> 'view' GROUP BY referrer.host, id",
            {"metrics": ["sum:price"], "dimensions": ["referrer.host", "id"], "filters": [
                ["is", "id", ["a", "c"]], ["contains", "format", ["csv"]],
                ["is_not", "event", ["view"]]]},
        ),
        (
            f"SELECT id, count(*) FROM hits {where} GROUP BY id ORDER BY 2 DESC, id LIMIT 2",
            {"metrics": ["count"], "dimensions": ["id"], "limit": 2,
             "order_by": [["count", "desc"], ["id", "asc"]]},
        ),
    ]  # fmt: skip
    for statement, body in pairs:
        tz = body.get("tz", "UTC")
        answer = sql(client, statement, tz=tz)
        expected = query_rows(client, **{"date_range": DAY, **body})
        assert answer["rows"] == expected, statement
        assert answer["meta"]["approximate"] is ("visitors" in body["metrics"]), statement
    # What the query API cannot ask, counted by hand from HITS (the first 7 are in range).
    counted = {
        "event = 'view' OR format = 'csv'": 5,
        "NOT (event = 'view' OR format = 'csv')": 2,
        "price BETWEEN 5 AND 20": 3,
        "price > 20 OR price < 5": 3,
        "format IS NULL": 1,
        "format LIKE 'c%'": 3,
        "NOT format LIKE 'c%'": 4,  # documents without a format included, as is_not does
        "@timestamp > '2015-06-02T09:30:00Z' AND id <> 'c'": 2,
        "site = 'shop' AND referrer.host = 'x.org'": 2,
    }
    for condition, count in counted.items():
        answer = sql(client, f"SELECT count(*) AS n FROM hits WHERE {WHERE_DAYS} AND ({condition})")
        assert answer["rows"] == [[count]], condition
    having = sql(
        client,
        f"SELECT id, count(*) AS n, sum(price) FROM hits WHERE {WHERE_DAYS} GROUP BY id "
        "HAVING count(*) >= 2 AND sum(price) > 25 ORDER BY id",
    )
    assert having["rows"] == [["a", 3, 60], ["c", 2, 101]]
    assert having["meta"]["total_rows"] == 2
    paged = sql(
        client, f"SELECT id FROM hits WHERE {WHERE_DAYS} GROUP BY id ORDER BY id LIMIT 1 OFFSET 1"
    )
    assert paged["rows"] == [["b"]]
    assert (paged["meta"]["total_rows"], paged["meta"]["has_more"]) == (3, True)


def test_csv_by_accept_or_format(client: FlaskClient, ship: Callable[[], int]) -> None:
    send(client, [{"id": "=1+1", "time": "2015-06-01T10:00:00Z"}])
    ship()
    statement = f"SELECT id, count(*) FROM hits WHERE {WHERE_DAYS} GROUP BY id"
    for extra in ({"headers": {**AUTH, "Accept": "text/csv"}}, {"query_string": {"format": "csv"}}):
        response = client.post("/api/v1/sql", json={"sql": statement}, **{"headers": AUTH, **extra})
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        assert list(csv.reader(io.StringIO(response.get_data(as_text=True)))) == [
            ["id", "count"], ["'=1+1", "1"],
        ]  # fmt: skip


def test_keys_open_only_their_sites(client: FlaskClient) -> None:
    statement = "SELECT count(*) FROM hits"
    no_key = client.post("/api/v1/sql", json={"sql": "DROP TABLE hits; -- never parsed"})
    assert no_key.status_code == 401
    assert no_key.get_json()["error"]["code"] == "missing_key"
    other_site = client.post(
        "/api/v1/sql", json={"sql": f"{statement} WHERE site = 'default'"}, headers=AUTH
    )
    assert other_site.status_code == 401
    assert other_site.get_json()["error"]["code"] == "invalid_key"
    narrowed = client.post(
        "/api/v1/sql", json={"sql": f"{statement} WHERE site = 'shop'"}, headers=AUTH
    )
    assert narrowed.status_code == 200
    assert narrowed.get_json()["query"]["site"] == "shop"
    both = client.post(
        "/api/v1/sql", json={"sql": f"{statement} WHERE site = 'shop'", "site": "default"},
        headers=AUTH,
    )  # fmt: skip
    assert both.status_code == 422
    assert both.get_json()["error"]["code"] == "inconsistent_query"


HOSTILE = [
    "SELECT count(*) FROM hits; DROP TABLE hits",
    "SELECT count(*) FROM hits -- hidden\n; DELETE FROM hits",
    "DO $$ BEGIN PERFORM pg_sleep(10); END $$",
    "SELECT count(*) FROM hits WHERE id = sleep(10)",
    "SELECT count(*) FROM hits WHERE id IN (SELECT id FROM logs)",
    "SELECT count(*) FROM hits JOIN logs ON hits.id = logs.id",
    "SELECT count(*) FROM hits WHERE id IN (" + ",".join(map(str, range(1500))) + ")",
    "SELECT count(*) FROM hits WHERE " + "(" * 500 + "id = 'a'" + ")" * 500,
    "SELECT count(*) FROM hits WHERE " + "NOT " * 2000 + "id = 'a'",
    "SELECT count(*) FROM hits WHERE " + " OR ".join(f"id = '{n}'" for n in range(400)),
    "SELECT " + "f(" * 3000 + ")" * 3000 + " FROM hits",
    "SELECT count(*) FROM hits WHERE id = '" + "x" * 20_000 + "'",
    "SELECT * FROM hits",
    "SELECT nope, count(*) FROM hits GROUP BY nope",
    "SELECT 'never closed",
    "\x00",
]


def test_hostile_sql_is_a_4xx_never_a_500(client: FlaskClient) -> None:
    for statement in HOSTILE:
        response = client.post("/api/v1/sql", json={"sql": statement}, headers=AUTH)
        assert 400 <= response.status_code < 500, (statement[:80], response.get_data()[:300])
        error = response.get_json()["error"]
        assert error["code"] in {
            "invalid_sql", "unsupported_sql", "sql_too_complex", "unknown_field",
            "invalid_query",  # the body's own check: more than 10,000 characters
        }, (statement[:80], error)  # fmt: skip
    first = client.post("/api/v1/sql", json={"sql": HOSTILE[1]}, headers=AUTH).get_json()
    assert first["position"] == {"line": 2, "column": 3}
    assert "(line 2, column 3)" in first["error"]["message"]
    for body in (b"not json", b'{"sql": 42}', b'{"sql": "SELECT 1", "extra": 1}', b"[]", b"{}"):
        response = client.post(
            "/api/v1/sql", data=body, headers={**AUTH, "Content-Type": "application/json"}
        )
        assert 400 <= response.status_code < 500, body


ALLEZON_SQL = (
    "SELECT 1m_bucket(time), action, origin, count(*), sum(price)\n"
    "FROM events\n"
    "WHERE time >= '{start}' AND time < '{end}' AND action = 'VIEW' AND origin = 'US_7'\n"
    "GROUP BY 1m_bucket(time), action, origin\n"
    "ORDER BY 1m_bucket(time)"
)


def tag(time: str, action: str, origin: str, price: int) -> dict[str, Any]:
    return {
        "time": time, "cookie": "kUJ3x9bQ", "country": "PL", "device": "PC", "action": action,
        "origin": origin,
        "product_info": {"product_id": 2137, "brand_id": "Nike", "category_id": "Shoes",
                         "price": price},
    }  # fmt: skip


def test_the_allezon_aggregate_query_works_as_written(
    client_with: ClientWith, es: Elasticsearch, index_prefix: str, ship: Callable[[], int]
) -> None:
    key = "sk_allezon_read_0001"
    sites = {**TEST_SITES, "allezon": {"write_auth": "none", "read_keys": [key]}}
    _, client = client_with(sites=sites, allezon={"enabled": True})
    install_templates(es, index_prefix)
    for time, action, origin, price in [
        ("2022-03-22T12:15:05.000Z", "VIEW", "US_7", 21),
        ("2022-03-22T12:15:59.999Z", "VIEW", "US_7", 4),
        ("2022-03-22T12:17:00.000Z", "VIEW", "US_7", 10),
        ("2022-03-22T12:17:30.000Z", "BUY", "US_7", 99),
        ("2022-03-22T12:18:00.000Z", "VIEW", "PL_1", 7),
        ("2022-03-22T12:25:00.000Z", "VIEW", "US_7", 1),  # after the range
    ]:
        response = client.post(
            "/user_tags", data=json.dumps(tag(time, action, origin, price)),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        assert response.status_code == 204, response.get_data()
    ship()  # the same spool and index prefix as the client's
    statement = ALLEZON_SQL.format(start="2022-03-22T12:15:00.000", end="2022-03-22T12:25:00.000")
    response = client.post(
        "/api/v1/sql", json={"sql": statement}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["columns"] == ["1m_bucket", "action", "origin", "count", "sum_price"]
    assert answer["rows"] == [
        ["2022-03-22T12:15+00:00", "VIEW", "US_7", 2, 25],
        ["2022-03-22T12:17+00:00", "VIEW", "US_7", 1, 10],
    ]
    assert answer["query"]["site"] == "allezon"
    # The same minutes as POST /aggregates counts them (which also lists the empty ones).
    aggregates = client.post(
        "/aggregates?time_range=2022-03-22T12:15:00.000_2022-03-22T12:25:00.000&action=VIEW"
        "&origin=US_7&aggregates=COUNT&aggregates=SUM_PRICE"
    ).get_json()
    nonzero = [row for row in aggregates["rows"] if row[3] != "0"]
    assert [[row[0][:16], int(row[3]), int(row[4])] for row in nonzero] == [
        [bucket[:16], count, total] for bucket, _, _, count, total in answer["rows"]
    ]


def test_the_command_prints_what_the_endpoint_answers(
    client: FlaskClient, ship: Callable[[], int], es_url: str, index_prefix: str, tmp_path: Path
) -> None:
    send(client, HITS)
    ship()
    config = tmp_path / "metronome.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "elasticsearch": {"url": es_url, "index_prefix": index_prefix},
                "spool": {"dir": str(tmp_path / "spool")},
                "sites": TEST_SITES,
            }
        )
    )
    statement = (
        f"SELECT id, count(*) AS n, sum(price) FROM hits WHERE site = 'shop' AND {WHERE_DAYS} "
        "GROUP BY id ORDER BY n DESC, id"
    )
    table = CliRunner().invoke(cli, ["--config", str(config), "sql", statement])
    assert table.exit_code == 0, table.output
    assert table.output.splitlines() == [
        "id  n  sum_price",
        "--  -  ---------",
        "a   3         60",
        "b   2          5",
        "c   2        101",
        "(3 rows)",
    ]
    printed = CliRunner().invoke(
        cli, ["--config", str(config), "sql", "--format", "json", statement]
    )
    assert json.loads(printed.output)["rows"] == sql(client, statement)["rows"]
    refused = CliRunner().invoke(
        cli, ["--config", str(config), "sql", "SELECT count(*) FROM hits\nJOIN logs ON a = b"]
    )
    assert refused.exit_code == 1
    assert "unsupported_sql: JOIN is not supported (line 2, column 1)." in refused.output
