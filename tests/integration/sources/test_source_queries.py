"""Sources' documents answer the query API's questions, e.g. the README's examples:
the weekly maximum of a repository's stars, daily S3 downloads by key."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from tests.conftest import READ_KEY
from tests.fakes.github import FakeGitHub
from tests.fakes.server import serving
from tests.integration.sources.contract import Scenario, make_source, run, services
from tests.integration.sources.scenarios import github, s3_access_logs

AUTH = {"Authorization": f"Bearer {READ_KEY}"}


def query(client: FlaskClient, body: dict[str, Any]) -> list[tuple[Any, ...]]:
    answer = client.post("/api/v1/query", json={"site": "shop", **body}, headers=AUTH)
    assert answer.status_code == 200, answer.get_json()
    return [(*row["dimensions"], *row["metrics"]) for row in answer.get_json()["results"]]


def test_weekly_maximum_of_a_repositorys_stars(
    client: FlaskClient, es: Elasticsearch, index_prefix: str
) -> None:
    today = {"day": date(2024, 6, 2)}  # a Sunday: ISO week 22; the next day starts week 23
    fake = FakeGitHub(token="ghp_contract", today=lambda: today["day"])
    github.populate(fake, today["day"])
    with serving(fake.app) as url:
        options = {"repos": [github.REPO], "token": "ghp_contract", "api_url": url}
        scenario = Scenario("github", options, 0, fake.fail, fake.recover, lambda: 0)
        source = make_source(scenario)
        sunday = datetime(2024, 6, 2, 12, tzinfo=UTC)
        assert run(source, services(es, index_prefix, clock=lambda: sunday)).ok
        github.add_data(fake, today["day"])  # 7 -> 10 stars
        today["day"] = date(2024, 6, 3)
        monday = datetime(2024, 6, 3, 12, tzinfo=UTC)
        assert run(source, services(es, index_prefix, clock=lambda: monday)).ok
    es.indices.refresh(index=f"{index_prefix}-github-*")
    rows = query(
        client,
        {
            "stream": "github",
            "metrics": ["max:stars"],
            "dimensions": ["time:week"],
            "date_range": ["2024-05-27", "2024-06-10"],
            "filters": [["is", "kind", ["repo"]], ["is", "repo", [github.REPO]]],
        },
    )
    assert rows == [("2024-W22", 7), ("2024-W23", 10)]


def test_daily_s3_downloads_by_key(
    client: FlaskClient, es: Elasticsearch, index_prefix: str, tmp_path: Path
) -> None:
    with s3_access_logs.scenario(tmp_path) as scenario:
        source = make_source(scenario)
        assert run(source, services(es, index_prefix)).ok
        scenario.add_data()
        assert run(source, services(es, index_prefix)).ok
    es.indices.refresh(index=f"{index_prefix}-s3-*")
    rows = query(
        client,
        {
            "stream": "s3",
            "metrics": ["count"],
            "dimensions": ["time:day", "key"],
            "date_range": ["2024-05-01", "2024-05-03"],
            "filters": [["is", "event", ["download"]]],
        },
    )
    # per log object: 42.csv and 42.KML downloaded, a listing, a 404 (not a download)
    assert sorted(rows) == [
        ("2024-05-01", "datasets/42.KML", 3),
        ("2024-05-01", "datasets/42.csv", 3),
        ("2024-05-02", "datasets/42.KML", 1),
        ("2024-05-02", "datasets/42.csv", 1),
    ]
