"""Retention against the real Elasticsearch and an S3 server (moto): with the archive on, an
unarchived day is never deleted; with it off, exactly the indices past the limit go."""

# ruff: noqa: F811 - the archive tests' fixtures (moto, the loaded hits) are imported by name

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

from elasticsearch import Elasticsearch

from metronome.archive.archiver import Archiver
from metronome.config import RetentionSettings, Settings
from metronome.es.naming import index_for
from metronome.retention.run import apply_retention, plan_retention
from tests.integration.test_archive import (  # noqa: F401
    DAY1,
    DAY2,
    World,
    bucket,
    day_hits,
    empty_world,
    hits_world,
    s3_endpoint,
    send,
    settings,
    store,
)

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def with_retention(settings: Settings, archive: bool, **retention: object) -> Settings:
    return dataclasses.replace(
        settings,
        archive=dataclasses.replace(settings.archive, enabled=archive),
        retention=RetentionSettings(**retention),  # type: ignore[arg-type]
    )


def test_with_the_archive_on_no_unarchived_day_is_ever_deleted(hits_world: World) -> None:
    es, store = hits_world.es, hits_world.store
    settings = with_retention(hits_world.settings, True, raw_days={"hits": 30})
    month = f"{hits_world.prefix}-hits-2024.03"

    def verdicts() -> list[tuple[str, bool, str]]:
        found = plan_retention(es, settings, store=store, now=NOW)
        return [(v.candidate.index, v.delete, v.reason) for v in found]

    assert verdicts() == [(month, False, "2024-03-01 and 1 more not archived yet")]
    archiver = Archiver(es, store, hits_world.prefix, settings.archive)
    assert [r.day for r in archiver.run(["hits"], DAY1)] == [DAY1]
    assert verdicts() == [(month, False, "2024-03-02 not archived yet")]
    list(archiver.run(["hits"]))
    assert verdicts() == [(month, True, "every document is older than 30 days, and archived")]

    send(hits_world.client, day_hits(DAY2, 6, "b")[5:])  # a late hit: DAY2 grew since
    assert hits_world.ship() == 1
    assert verdicts() == [(month, False, "2024-03-02 not archived yet")]
    assert list(apply_retention(es, plan_retention(es, settings, store=store, now=NOW))) == []
    assert es.indices.exists(index=month)

    list(archiver.run(["hits"]))
    deleted = list(apply_retention(es, plan_retention(es, settings, store=store, now=NOW)))
    assert [v.candidate.index for v in deleted] == [month]
    assert not es.indices.exists(index=month)

    # A stream the archive does not archive is never deleted while the archive is on.
    logs = with_retention(hits_world.settings, True, raw_days={"logs": 30})
    logs = dataclasses.replace(logs, archive=dataclasses.replace(logs.archive, streams=("hits",)))
    es.index(index=f"{hits_world.prefix}-logs-2024.03", document={"@timestamp": "2024-03-01"})
    (verdict,) = plan_retention(es, logs, store=store, now=NOW)
    assert not verdict.delete
    assert verdict.reason == "the archive is on and does not archive this stream"


def test_with_the_archive_off_exactly_the_indices_past_the_limit_go(
    es: Elasticsearch, settings: Settings, index_prefix: str
) -> None:
    days = [date(2026, 11, d) for d in (25, 26, 27, 28)]  # the limit: before 2026-11-27
    for day in days:
        moment = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        es.index(index=index_for(index_prefix, "hits", moment), document={"@timestamp": str(day)})
    for name in (
        "hits-2026.10",
        "hits-2026.11",
        "hits-2025",
        "logs-2020",
        "rollup.day.hits-2024",
        "rollup.hour.hits-2026",
    ):
        es.indices.create(index=f"{index_prefix}-{name}")
    retention = with_retention(settings, False, raw_days={"hits": 10}, rollup_days=365)
    verdicts = plan_retention(es, retention, now=NOW)
    assert all(v.delete for v in verdicts)
    assert [v.candidate.index.removeprefix(f"{index_prefix}-") for v in verdicts] == [
        "rollup.day.hits-2024",  # ended 2025-01-01, more than 365 days ago
        "hits-2025",
        "hits-2026.10",
        "hits-2026.11.25",
        "hits-2026.11.26",
    ]  # not the logs (no limit), nor 2026-11-27 on, nor November, nor this year's rollups
    deleted = list(apply_retention(es, verdicts))
    assert len(deleted) == 5
    left = sorted(es.indices.get(index=f"{index_prefix}-*").body)
    assert [name.removeprefix(f"{index_prefix}-") for name in left] == [
        "hits-2026.11",
        "hits-2026.11.27",
        "hits-2026.11.28",
        "logs-2020",
        "rollup.hour.hits-2026",
    ]
