"""Index periods against the real Elasticsearch: ten years of back-fill stay within the layout's
budget, a cluster out of shards gets a clear error and loses nothing, and a migration moves
daily indices into monthly ones keeping every document once, resumably."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from ingesters.github import GitHubOptions, GitHubSource
from metronome.cli import cli
from metronome.config import Settings, ShipperSettings
from metronome.es.layout import layout_estimate
from metronome.es.migrate import Target, copy_into, migrate, stream_indices
from metronome.es.naming import index_for, indices_for_range
from metronome.es.retry import Stopped
from metronome.es.shards import shard_budget
from metronome.sources.runner import run_source
from metronome.spool.deadletters import DeadLetterStore
from metronome.spool.entry import Entry
from metronome.spool.reader import list_segments
from metronome.spool.shipper import Shipper
from tests.fakes.github import FakeGitHub
from tests.fakes.server import serving
from tests.integration.sources.contract import services
from tests.integration.test_shipper import spool_entries

TOKEN = "ghp_layout_token"
REPO = "acme/old"
FIRST_DAY = date(2016, 1, 1)
LAST_DAY = date(2025, 12, 31)
TEN_YEARS = [FIRST_DAY + timedelta(days=n) for n in range((LAST_DAY - FIRST_DAY).days + 1)]


def noon(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=12)


def names(es: Elasticsearch, pattern: str) -> list[str]:
    return sorted(es.indices.get(index=pattern, allow_no_indices=True).body)


@pytest.fixture
def github(app: Any, index_prefix: str) -> Iterator[tuple[FakeGitHub, str]]:
    # `app` installs the index templates of this test's prefix
    fake = FakeGitHub(token=TOKEN, today=lambda: LAST_DAY)
    fake.add_repo(REPO)
    with serving(fake.app) as url:
        yield fake, url


def github_source(url: str) -> GitHubSource:
    options = {"repos": [REPO], "token": TOKEN, "api_url": url, "traffic": False}
    return GitHubSource("old-repo", "shop", GitHubOptions().load(options))


@pytest.fixture
def shard_limit(es: Elasticsearch) -> Iterator[Any]:
    """``set_limit(n)`` sets ``cluster.max_shards_per_node`` (transient); reset afterwards."""

    def set_limit(limit: int | None) -> None:
        es.cluster.put_settings(transient={"cluster.max_shards_per_node": limit})

    try:
        yield set_limit
    finally:
        set_limit(None)


def test_ten_years_of_daily_stars_and_hits_take_no_more_shards_than_the_layout_says(
    settings: Settings, es: Elasticsearch, index_prefix: str, github: tuple[FakeGitHub, str]
) -> None:
    fake, url = github
    for number, day in enumerate(TEN_YEARS):
        fake.star(REPO, f"user{number}", noon(day))
    report = run_source(
        github_source(url),
        services(es, index_prefix, storage=settings.storage, clock=lambda: noon(LAST_DAY)),
    )
    assert report.ok, report.error
    hits = [
        Entry("hits", f"h{n}", {"@timestamp": f"{day}T08:00:00Z", "type": "hits", "site": "shop"})
        for n, day in enumerate(TEN_YEARS)
    ]
    spool_entries(settings.spool.dir, hits)
    shipper = Shipper(
        settings.spool.dir,
        es,
        index_prefix,
        ShipperSettings(batch_docs=1000),
        storage=settings.storage,
    )
    while shipper.run_once():
        pass
    es.indices.refresh(index=f"{index_prefix}-*")

    budget = layout_estimate(settings.storage, years=10, streams=("hits", "github"))
    github_indices = names(es, f"{index_prefix}-github-*")
    hit_indices = names(es, f"{index_prefix}-hits-*")
    assert len(github_indices) == 10 and github_indices[0] == f"{index_prefix}-github-2016"
    assert len(hit_indices) == 120 and hit_indices[0] == f"{index_prefix}-hits-2016.01"
    assert len(hit_indices) + len(github_indices) <= budget.total == 130
    assert es.count(index=f"{index_prefix}-hits-*")["count"] == len(TEN_YEARS)
    stars = es.count(index=f"{index_prefix}-github-*", query={"term": {"kind": "star"}})
    assert stars["count"] == len(TEN_YEARS)
    # a read of a day and a bit names its days, months and year, and finds their hits
    start, end = datetime(2020, 2, 29, tzinfo=UTC), datetime(2020, 3, 2, tzinfo=UTC)
    leap = indices_for_range(index_prefix, "hits", start, end)
    assert leap.split(",")[:2] == [f"{index_prefix}-hits-2020", f"{index_prefix}-hits-2020.02"]
    span = {"range": {"@timestamp": {"gte": start.isoformat(), "lt": end.isoformat()}}}
    assert es.count(index=leap, query=span, ignore_unavailable=True)["count"] == 2


def test_a_cluster_out_of_shards_is_told_as_such_and_nothing_is_lost(
    *,
    settings: Settings,
    es: Elasticsearch,
    index_prefix: str,
    github: tuple[FakeGitHub, str],
    shard_limit: Any,
    client: FlaskClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake, url = github
    fake.star(REPO, "early", noon(date(2016, 3, 1)))
    source = github_source(url)
    run = services(es, index_prefix, storage=settings.storage, clock=lambda: noon(date(2016, 3, 2)))
    assert run_source(source, run).ok  # its state, lease and 2016 indices exist now
    shard_limit(shard_budget(es).used)  # not one shard more

    fake.star(REPO, "later", noon(date(2017, 5, 1)))
    report = run_source(source, run)
    assert not report.ok
    assert report.error is not None
    assert report.error.startswith("ShardLimitReached: Elasticsearch refused to create the index")
    assert f"{index_prefix}-github-2017" in report.error
    assert "maximum normal shards open" in report.error
    assert "cluster.max_shards_per_node" in report.error
    assert DeadLetterStore(es, index_prefix).count() == 0  # refused for room, not as invalid

    ready = client.get("/readyz").get_json()
    assert ready["shards"]["status"] == "fail"
    assert "no new index can be created" in ready["warnings"][0]

    # The shipper keeps the hit in the spool and says why, retrying until it is stopped.
    spool_entries(
        settings.spool.dir,
        [Entry("hits", "late", {"@timestamp": "2017-05-01T08:00:00Z", "type": "hits"})],
    )
    stop = threading.Event()
    shipper = Shipper(
        settings.spool.dir,
        es,
        index_prefix,
        ShipperSettings(max_backoff=0.05),
        stop=stop,
        storage=settings.storage,
    )
    with caplog.at_level(logging.ERROR, logger="metronome.spool.shipper"):
        worker = threading.Thread(target=_ship_until_stopped, args=(shipper,))
        worker.start()
        for _ in range(200):
            if any("maximum normal shards open" in r.getMessage() for r in caplog.records):
                break
            stop.wait(0.05)
        stop.set()
        worker.join(10)
    told = [r.getMessage() for r in caplog.records if "shards open" in r.getMessage()]
    assert told and f"{index_prefix}-hits-2017.05" in told[0] and "Nothing is lost" in told[0]
    assert list_segments(settings.spool.dir)  # still spooled
    assert DeadLetterStore(es, index_prefix).count() == 0

    shard_limit(None)  # room again: both resume where they stopped
    assert run_source(source, run).ok
    resumed = Shipper(
        settings.spool.dir, es, index_prefix, settings.shipper, storage=settings.storage
    )
    assert resumed.run_once() == 1
    es.indices.refresh(index=f"{index_prefix}-*")
    assert (
        es.count(index=f"{index_prefix}-github-2017", query={"term": {"kind": "star"}})["count"]
        == 1
    )
    assert es.count(index=f"{index_prefix}-hits-2017.05")["count"] == 1


def _ship_until_stopped(shipper: Shipper) -> None:
    with contextlib.suppress(Stopped):
        shipper.run_once()


DAYS = [date(2024, 3, 30), date(2024, 3, 31), date(2024, 4, 1), date(2024, 4, 2)]


def old_layout(es: Elasticsearch, prefix: str) -> list[str]:
    """Three documents in each daily index of DAYS, as written before index periods."""
    ids = []
    for day in DAYS:
        for n in range(3):
            doc_id = f"{day}-{n}"
            document = {"@timestamp": f"{day}T0{n}:00:00Z", "type": "hits", "site": "shop"}
            es.index(index=index_for(prefix, "hits", noon(day)), id=doc_id, document=document)
            ids.append(doc_id)
    es.indices.refresh(index=f"{prefix}-hits-*")
    return ids


def stored_ids(es: Elasticsearch, prefix: str) -> list[str]:
    es.indices.refresh(index=f"{prefix}-hits-*")
    found = es.search(index=f"{prefix}-hits-*", size=100, query={"match_all": {}})
    return sorted(hit["_id"] for hit in found["hits"]["hits"])


def test_migration_moves_daily_indices_into_monthly_ones_keeping_each_document_once(
    settings: Settings, es: Elasticsearch, index_prefix: str, app: Any
) -> None:
    ids = old_layout(es, index_prefix)
    # ingest goes on meanwhile: a hit of 2024-03-31 already in its monthly index
    es.index(
        index=f"{index_prefix}-hits-2024.03",
        id="new",
        document={"@timestamp": "2024-03-31T12:00:00Z", "type": "hits", "site": "shop"},
    )
    said: list[str] = []
    reports = list(migrate(es, index_prefix, settings.storage, say=said.append))
    assert [r.source for r in reports] == [index_for(index_prefix, "hits", noon(d)) for d in DAYS]
    assert all(r.documents == 3 and r.created == 3 for r in reports)
    assert names(es, f"{index_prefix}-hits-*") == [
        f"{index_prefix}-hits-2024.03",
        f"{index_prefix}-hits-2024.04",
    ]
    assert stored_ids(es, index_prefix) == sorted([*ids, "new"])
    assert said[0] == "4 indices to move" and "source deleted" in said[-1]
    assert list(migrate(es, index_prefix, settings.storage)) == []  # nothing left


def test_an_interrupted_migration_resumes_and_doubles_nothing(
    settings: Settings, es: Elasticsearch, index_prefix: str, app: Any
) -> None:
    ids = old_layout(es, index_prefix)
    first, second = (index_for(index_prefix, "hits", noon(d)) for d in DAYS[:2])
    # cut short after the copy of the first day (before its deletion) ...
    es.indices.add_block(index=first, block="write")
    copy_into(es, first, Target(f"{index_prefix}-hits-2024.03", None))
    es.indices.refresh(index=f"{index_prefix}-hits-2024.03")
    # ... and after blocking the second one
    es.indices.add_block(index=second, block="write")
    # a read during the migration still finds every document (the copied day twice: the
    # window docs/storage.md describes)
    read = indices_for_range(
        index_prefix, "hits", noon(DAYS[0]) - timedelta(days=1), noon(DAYS[-1])
    )
    assert es.count(index=read, ignore_unavailable=True)["count"] == len(ids) + 3

    stops = iter([False, True])  # and once more by a stop after one index
    moved = list(migrate(es, index_prefix, settings.storage, stop=lambda: next(stops)))
    assert [(r.source, r.created, r.present) for r in moved] == [(first, 0, 3)]
    moved = list(migrate(es, index_prefix, settings.storage))
    assert [r.source for r in moved] == [index_for(index_prefix, "hits", noon(d)) for d in DAYS[1:]]
    assert stored_ids(es, index_prefix) == sorted(ids)
    assert es.count(index=read, ignore_unavailable=True)["count"] == len(ids)
    assert sorted(stream_indices(es, index_prefix)) == ["hits"]


def test_doctor_and_the_layout_commands_say_what_to_do(
    settings: Settings, es: Elasticsearch, index_prefix: str, app: Any, tmp_path: Path
) -> None:
    config = tmp_path / "metronome.yml"
    body = {
        "elasticsearch": {"url": settings.elasticsearch.url, "index_prefix": index_prefix},
        "spool": {"dir": str(tmp_path / "spool")},
    }
    config.write_text(yaml.safe_dump(body))

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, ["--config", str(config), *args])

    es.index(index=f"{index_prefix}-github-2016.03.01", document={"@timestamp": "2016-03-01"})
    doctor = run("doctor")
    lines = doctor.output.splitlines()
    assert doctor.exit_code == 1, doctor.output  # a warning
    # (the cluster's health may be yellow from another test's index: not this test's point)
    assert [line.split()[0] for line in lines[1:]] == ["OK", "OK", "WARN", "OK", "OK"]
    assert lines[3].startswith("WARN  index periods: 1 indices of github are not at their")
    assert "shard budget:" in lines[2] and "of 1000 shards open" in lines[2]

    dry = run("es", "migrate-layout", "--dry-run")
    assert dry.output.splitlines() == [
        f"{index_prefix}-github-2016.03.01 (day) -> year",
        "1 indices to move",
    ]
    moved = run("es", "migrate-layout")
    assert moved.exit_code == 0, moved.output
    assert moved.output.splitlines()[-1] == "moved 1 indices (1 documents)"
    assert "index periods: every index is at its stream's period" in run("doctor").output
    layout = run("es", "layout").output
    assert "hits        month    120 shards" in layout and "under the target of 300" in layout
