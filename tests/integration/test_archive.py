"""Archival to S3 and restore, against moto in server mode through real boto3 and the real
Elasticsearch: archive closed days, skip what is archived, complete what was cut short,
delete the indices, restore, and get the same answers."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from click.testing import CliRunner, Result
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from metronome.archive import layout
from metronome.archive.archiver import Archiver, DayReport
from metronome.archive.errors import Stopped
from metronome.archive.listing import archived_days
from metronome.archive.manifest import Manifest
from metronome.archive.parts import encode_line
from metronome.archive.restore import Restorer
from metronome.archive.store import S3Store, build_s3_client
from metronome.cli import cli
from metronome.config import ArchiveSettings, Settings
from metronome.es.bulk import BulkAction, bulk_create
from metronome.es.templates import remove_templates
from metronome.sources.lease import LeaseStore
from tests.conftest import READ_KEY, ROOT, WRITE_KEY, free_port, make_settings
from tests.fakes.s3 import moto_s3
from tests.fakes.server import serving

DAY1, DAY2, DAY3 = date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3)
S3_KEY_ID, S3_SECRET = "AKIDMETRONOMETEST", "metronome-test-secret"
WRITES = {"PutObject", "DeleteObject", "DeleteObjects", "CopyObject", "CreateMultipartUpload"}


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_s3() as endpoint:
        yield endpoint


def archive_section(endpoint: str, bucket: str, **extra: Any) -> dict[str, Any]:
    return {
        "bucket": bucket,
        "endpoint_url": endpoint,
        "region": "us-east-1",
        "access_key_id": S3_KEY_ID,
        "secret_access_key": S3_SECRET,
        "path_style": True,
        "part_docs": 3,
        **extra,
    }


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    name = f"archive-{uuid.uuid4().hex[:12]}"
    s3 = build_s3_client(ArchiveSettings(**archive_section(s3_endpoint, name)))
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def settings(
    es_url: str, index_prefix: str, tmp_path: Path, s3_endpoint: str, bucket: str
) -> Settings:
    """The conftest settings (app, ship use them) with an archive to the moto bucket."""
    return make_settings(
        es_url, index_prefix, tmp_path / "spool", archive=archive_section(s3_endpoint, bucket)
    )


@pytest.fixture
def store(settings: Settings) -> S3Store:
    return S3Store(settings.archive)


@dataclass(frozen=True)
class World:
    """The app, shipper, Elasticsearch and bucket of one test, with ``load``'s data in them."""

    client: FlaskClient
    ship: Callable[[], int]
    es: Elasticsearch
    settings: Settings
    store: S3Store

    @property
    def prefix(self) -> str:
        return self.settings.elasticsearch.index_prefix


@pytest.fixture
def empty_world(
    client: FlaskClient,
    ship: Callable[[], int],
    es: Elasticsearch,
    settings: Settings,
    store: S3Store,
) -> World:
    return World(client, ship, es, settings, store)


@pytest.fixture
def world(empty_world: World) -> World:
    """Both streams, and a hit of today."""
    load(empty_world)
    return empty_world


@pytest.fixture
def hits_world(empty_world: World) -> World:
    """Only the hits of DAY1 and DAY2 (fewer indices to create: faster)."""
    load(empty_world, full=False)
    return empty_world


class S3Calls:
    """The S3 operations a client sends, as boto3 emits them."""

    def __init__(self, client: Any) -> None:
        self.names: list[str] = []
        client.meta.events.register("before-call.s3", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.names.append(model.name)

    def writes(self) -> list[str]:
        return [name for name in self.names if name in WRITES]


# --- data ----------------------------------------------------------------------------------


def day_hits(day: date, count: int, tag: str) -> list[dict[str, Any]]:
    return [
        {
            "site": "shop",
            "id": f"ds-{n % 3}",
            "hit_id": f"{tag}-{n}",
            "time": f"{day.isoformat()}T{10 + n:02d}:15:00Z",
            "event": "download" if n % 2 else "view",
            "format": "csv" if n % 2 else None,
            "visitor": f"v{n % 4}",
            "price": n * 1.5,
            "product": {"sku": f"sku-{n}", "note": "zażółć"},
        }
        for n in range(count)
    ]


def send(client: FlaskClient, hits: list[dict[str, Any]]) -> None:
    body = [{k: v for k, v in h.items() if v is not None} for h in hits]
    response = client.post("/tick", json=body, headers={"X-Metronome-Key": WRITE_KEY})
    assert response.get_json() == {"accepted": len(body)}


def load(world: World, *, full: bool = True) -> None:
    """7 hits on DAY1 and 5 on DAY2 (through /tick and the shipper); ``full``: also a hit of
    today and 3 log documents on DAY1 (bulk-created directly, as the shipper does)."""
    today = {"site": "shop", "id": "ds-0", "hit_id": "today"}  # no time: now
    send(
        world.client, [*day_hits(DAY1, 7, "a"), *day_hits(DAY2, 5, "b"), *([today] if full else [])]
    )
    assert world.ship() == (13 if full else 12)
    if not full:
        return
    logs = [
        BulkAction(
            f"{world.prefix}-logs-2024.03",  # logs are kept by month
            f"log-{n}",
            {
                "@timestamp": f"2024-03-01T0{n}:00:00.000Z",
                "@version": "1",
                "type": "logs",
                "site": "shop",
                "event": "view",
                "id": "ds-9",
                "visitor": f"lv{n}",
                "message": f'GET /datasets/ds-9 "{n}"',
            },
        )
        for n in range(3)
    ]
    assert all(r.status == 201 for r in bulk_create(world.es, logs))
    world.es.indices.refresh(index=f"{world.prefix}-logs-*")


def answers(client: FlaskClient) -> dict[str, Any]:
    """What the query API says about the archived days, per stream."""
    bodies = {
        "hits": {
            "metrics": ["count", "visitors", "sum:price"],
            "dimensions": ["time:day", "event"],
        },
        "logs": {"metrics": ["count", "visitors"], "dimensions": ["time:day", "id"]},
    }
    result = {}
    for stream, body in bodies.items():
        response = client.post(
            "/api/v1/query",
            json={"site": "shop", "stream": stream, "date_range": ["2024-03-01", "2024-03-03"]}
            | body,
            headers={"Authorization": f"Bearer {READ_KEY}"},
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        result[stream] = response.get_json()["results"]
    return result


def documents(es: Elasticsearch, prefix: str) -> dict[tuple[str, str], Any]:
    """Every document of the archived days by (index, id)."""
    pattern = f"{prefix}-hits-2024.*,{prefix}-logs-2024.*"
    es.indices.refresh(index=pattern, allow_no_indices=True)
    response = es.search(index=pattern, size=100, allow_no_indices=True)
    return {(h["_index"], h["_id"]): h["_source"] for h in response["hits"]["hits"]}


def objects(store: S3Store) -> dict[str, tuple[str, datetime]]:
    """Every object of the bucket: key -> (ETag, LastModified)."""
    response = store.client.list_objects_v2(Bucket=store.bucket)
    return {o["Key"]: (o["ETag"], o["LastModified"]) for o in response.get("Contents", [])}


def key(stream: str, day: date, name: str) -> str:
    return layout.object_key("metronome", stream, day, name)


def part_documents(store: S3Store, stream: str, day: date) -> list[tuple[str, dict[str, Any]]]:
    manifest = Manifest.from_json(store.get_bytes(key(stream, day, "manifest.json")) or b"")
    found: list[tuple[str, dict[str, Any]]] = []
    for part in manifest.parts:
        data = store.get_bytes(key(stream, day, part.name)) or b""
        assert (len(data), hashlib.sha256(data).hexdigest()) == (part.bytes, part.sha256)
        lines = [json.loads(line) for line in gzip.decompress(data).splitlines()]
        assert len(lines) == part.docs
        found.extend((line["_id"], line["_source"]) for line in lines)
    return found


def summary(reports: list[DayReport]) -> list[tuple[str, date, bool, int, int]]:
    return [(r.stream, r.day, r.archived, r.docs, r.parts) for r in reports]


# --- archive, skip, restore ----------------------------------------------------------------


def test_archive_delete_restore_gives_the_same_answers_and_repeats_change_nothing(
    world: World,
) -> None:
    es, store, prefix, settings = world.es, world.store, world.prefix, world.settings
    before, docs_before = answers(world.client), documents(es, prefix)
    assert len(docs_before) == 15
    assert sum(row["metrics"][0] for row in before["hits"]) == 12

    calls = S3Calls(store.client)
    archiver = Archiver(es, store, prefix, settings.archive, page_size=2)
    reports = list(archiver.run())
    assert summary(reports) == [
        ("hits", DAY1, True, 7, 3),
        ("hits", DAY2, True, 5, 2),
        ("logs", DAY1, True, 3, 1),
    ]
    today = datetime.now(UTC).date()
    assert es.indices.exists(index=layout.index_name(prefix, "hits", today, "month"))
    assert set(objects(store)) == {
        *(key("hits", DAY1, f"part-{n}.ndjson.gz") for n in range(3)),
        *(key("hits", DAY2, f"part-{n}.ndjson.gz") for n in range(2)),
        key("logs", DAY1, "part-0.ndjson.gz"),
        key("hits", DAY1, "manifest.json"),
        key("hits", DAY2, "manifest.json"),
        key("logs", DAY1, "manifest.json"),
    }  # and nothing of today, which is not closed

    manifest = Manifest.from_json(store.get_bytes(key("hits", DAY1, "manifest.json")) or b"")
    assert (manifest.doc_count, manifest.index_doc_count) == (7, 7)
    assert manifest.index == f"{prefix}-hits-2024.03"  # hits are kept by month: a day of it
    assert [(p.name, p.docs) for p in manifest.parts] == [
        ("part-0.ndjson.gz", 3),
        ("part-1.ndjson.gz", 3),
        ("part-2.ndjson.gz", 1),
    ]
    archived = part_documents(store, "hits", DAY1)
    assert len(archived) == len(dict(archived)) == 7  # each document once
    assert dict(archived) == {
        doc_id: source
        for (index, doc_id), source in docs_before.items()
        if index == manifest.index and source["@timestamp"].startswith(str(DAY1))
    }

    # A second run writes nothing: every day is archived and unchanged.
    state = objects(store)
    calls.names.clear()
    again = list(archiver.run())
    assert [(r.archived, r.reason) for r in again] == [(False, "already archived")] * 3
    assert "GetObject" in calls.names  # it did look
    assert calls.writes() == []
    assert objects(store) == state

    # Lose the days (and the templates), then restore them.
    es.indices.delete(index=",".join(sorted({index for index, _ in docs_before})))
    remove_templates(es, prefix)
    assert documents(es, prefix) == {}
    restorer = Restorer(es, store, prefix, settings.archive, settings.shipper)
    restored = [*restorer.restore("hits", DAY1, DAY3), *restorer.restore("logs", DAY1, DAY1)]
    assert [(r.day, r.status, r.docs, r.created, r.present) for r in restored] == [
        (DAY1, "restored", 7, 7, 0),
        (DAY2, "restored", 5, 5, 0),
        (DAY3, "missing", 0, 0, 0),
        (DAY1, "restored", 3, 3, 0),
    ]
    mapping = es.indices.get_mapping(index=manifest.index)[manifest.index]["mappings"]
    assert mapping["properties"]["id"]["type"] == "keyword"  # the templates were installed
    assert documents(es, prefix) == docs_before
    assert answers(world.client) == before

    # Restoring over existing data changes nothing.
    versions = versions_of(es, manifest.index)
    again_restored = [*restorer.restore("hits", DAY1, DAY2), *restorer.restore("logs", DAY1, DAY1)]
    assert [(r.created, r.present) for r in again_restored] == [(0, 7), (0, 5), (0, 3)]
    assert documents(es, prefix) == docs_before
    assert versions_of(es, manifest.index) == versions
    assert answers(world.client) == before

    # ...and the restored days count as archived and unchanged.
    calls.names.clear()
    assert [r.archived for r in archiver.run()] == [False] * 3
    assert calls.writes() == []


def versions_of(es: Elasticsearch, index: str) -> dict[str, int]:
    hits = es.search(index=index, version=True, size=100)["hits"]["hits"]
    return {hit["_id"]: hit["_version"] for hit in hits}


def of_day(day: date) -> dict[str, Any]:
    """The documents of one UTC day (of a monthly index)."""
    return {"range": {"@timestamp": {"gte": f"{day}T00:00:00Z", "lt": f"{day}T23:59:59.999Z"}}}


def test_a_day_cut_short_is_completed_over_the_same_names_without_duplicates(
    hits_world: World,
) -> None:
    es, store, prefix, settings = (
        hits_world.es,
        hits_world.store,
        hits_world.prefix,
        hits_world.settings,
    )
    stop = threading.Event()
    parts_put: list[str] = []

    def stop_after_the_second_part(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].endswith(".ndjson.gz"):
            parts_put.append(params["Key"])
            if len(parts_put) == 2:
                stop.set()  # as SIGTERM does

    store.client.meta.events.register(
        "before-parameter-build.s3.PutObject", stop_after_the_second_part
    )
    archiver = Archiver(es, store, prefix, settings.archive, stop=stop)
    with pytest.raises(Stopped):
        list(archiver.run(["hits"]))
    assert set(objects(store)) == {
        key("hits", DAY1, "part-0.ndjson.gz"),
        key("hits", DAY1, "part-1.ndjson.gz"),
    }
    # A leftover of an earlier, longer write of the same day.
    stale = key("hits", DAY1, "part-7.ndjson.gz")
    store.put_bytes(stale, gzip.compress(encode_line("a-0", {"stale": True})), "application/gzip")

    (listed,) = archived_days(store, "metronome", "hits")
    assert (listed.day, listed.manifest, listed.parts) == (DAY1, None, 3)
    restorer = Restorer(es, store, prefix, settings.archive, settings.shipper)
    assert [r.status for r in restorer.restore("hits", DAY1, DAY1)] == ["incomplete"]

    stop.clear()
    reports = list(archiver.run(["hits"]))
    assert summary(reports) == [("hits", DAY1, True, 7, 3), ("hits", DAY2, True, 5, 2)]
    assert reports[0].reason == "incomplete (no manifest): written again"
    assert {k for k in objects(store) if "/2024/03/01/" in k} == {
        *(key("hits", DAY1, f"part-{n}.ndjson.gz") for n in range(3)),
        key("hits", DAY1, "manifest.json"),
    }
    ids = [doc_id for doc_id, _ in part_documents(store, "hits", DAY1)]
    assert len(ids) == len(set(ids)) == 7
    day1 = es.search(index=f"{prefix}-hits-2024.03", query=of_day(DAY1), size=100)["hits"]["hits"]
    assert set(ids) == {hit["_id"] for hit in day1}


def test_late_documents_are_archived_again_and_a_smaller_index_never_shrinks_the_archive(
    hits_world: World,
) -> None:
    es, store = hits_world.es, hits_world.store
    archiver = Archiver(es, store, hits_world.prefix, hits_world.settings.archive)
    assert all(r.archived for r in archiver.run(["hits"]))

    send(hits_world.client, day_hits(DAY1, 8, "a")[7:])  # one more hit for DAY1, late
    assert hits_world.ship() == 1
    first = list(archiver.run(["hits"]))
    assert summary(first) == [("hits", DAY1, True, 8, 3), ("hits", DAY2, False, 5, 2)]
    assert first[0].reason == "1 documents arrived since: archived again"
    assert len(part_documents(store, "hits", DAY1)) == 8

    month = f"{hits_world.prefix}-hits-2024.03"
    victim = es.search(index=month, query=of_day(DAY2), size=1)["hits"]["hits"][0]["_id"]
    es.delete(index=month, id=victim, refresh=True)
    state = objects(store)
    second = list(archiver.run(["hits"]))
    assert [(r.day, r.archived) for r in second] == [(DAY1, False), (DAY2, False)]
    assert "fewer than the 5 archived" in second[1].reason
    assert objects(store) == state
    assert victim in dict(part_documents(store, "hits", DAY2))


# --- the command line ----------------------------------------------------------------------


def config_file(tmp_path: Path, settings: Settings, **archive: Any) -> Path:
    """A YAML configuration like the test's settings; ``archive`` changes its archive section."""
    section = archive_section(settings.archive.endpoint_url or "", settings.archive.bucket or "")
    path = tmp_path / "metronome.yml"
    body = {
        "elasticsearch": {
            "url": settings.elasticsearch.url,
            "index_prefix": settings.elasticsearch.index_prefix,
        },
        "spool": {"dir": str(tmp_path / "spool")},
        "sites": {
            "default": {"write_auth": "none"},
            "shop": {"write_keys": [WRITE_KEY], "read_keys": [READ_KEY]},
        },
        "archive": {k: v for k, v in (section | archive).items() if v is not None},
    }
    path.write_text(yaml.safe_dump(body))
    return path


def invoke(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), "archive", *args])


def test_cli_archives_lists_and_restores_with_progress_per_day(
    world: World, tmp_path: Path
) -> None:
    config = config_file(tmp_path, world.settings)

    result = invoke(config, "run", "--stream", "hits")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "hits 2024-03-01: archived 7 documents in 3 parts (not archived yet)",
        "hits 2024-03-02: archived 5 documents in 2 parts (not archived yet)",
        "archive: 2 archived, 0 skipped (12 documents in 5 parts)",
    ]
    result = invoke(config, "run")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "hits 2024-03-01: skipped, already archived (7 documents)",
        "hits 2024-03-02: skipped, already archived (5 documents)",
        "logs 2024-03-01: archived 3 documents in 1 parts (not archived yet)",
        "archive: 1 archived, 2 skipped (3 documents in 1 parts)",
    ]

    listed = invoke(config, "list", "--stream", "hits")
    assert listed.exit_code == 0, listed.output
    assert [line.split("  ")[:3] for line in listed.output.splitlines()] == [
        ["hits 2024-03-01", "7 documents", "3 parts"],
        ["hits 2024-03-02", "5 documents", "2 parts"],
    ]

    today = datetime.now(UTC).date().isoformat()
    refused = invoke(config, "run", "--day", today)
    assert refused.exit_code == 1
    assert refused.output.startswith(f"Error: {today} is not closed yet")
    quiet_day = invoke(config, "run", "--stream", "hits", "--day", "2024-02-20")
    assert quiet_day.exit_code == 0, quiet_day.output
    assert quiet_day.output.splitlines()[0] == "hits 2024-02-20: no index, nothing to archive"

    month = f"{world.prefix}-hits-2024.03"
    for hit in world.es.search(index=month, query=of_day(DAY2), size=100)["hits"]["hits"]:
        world.es.delete(index=month, id=hit["_id"], refresh=True)
    restored = invoke(
        config, "restore", "--stream", "hits", "--from", "2024-03-01", "--to", "2024-03-03"
    )
    assert restored.exit_code == 0, restored.output
    assert restored.output.splitlines() == [
        "hits 2024-03-01: 7 documents: 0 created, 7 already present",
        "hits 2024-03-02: 5 documents: 5 created, 0 already present",
        "restore: 12 documents of 2 archived days: 5 created, 7 already present; "
        "not archived: 1 of the days",
    ]
    world.es.indices.refresh(index=month)
    assert world.es.count(index=month, query=of_day(DAY2))["count"] == 5


def test_cli_errors_are_one_clear_line(settings: Settings, tmp_path: Path) -> None:
    endpoint = settings.archive.endpoint_url

    def error_of(*args: str, **archive: Any) -> str:
        result = invoke(config_file(tmp_path, settings, **archive), *args)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        assert S3_SECRET not in result.output
        (line,) = result.output.splitlines()
        return line

    no_bucket = error_of("list", bucket=None)
    assert no_bucket == (
        "Error: archive.bucket is not set: name the bucket in the archive section of the "
        "configuration (or METRONOME_ARCHIVE__BUCKET)"
    )
    closed_port = f"http://127.0.0.1:{free_port()}"
    unreachable = error_of("run", endpoint_url=closed_port)
    assert unreachable.startswith(f"Error: cannot reach S3 at {closed_port} while checking")
    missing = error_of("list", bucket="no-such-bucket-here")
    assert missing == (
        f"Error: the archive bucket 'no-such-bucket-here' does not exist at {endpoint} "
        "(archive.bucket)"
    )
    with serving(_not_s3) as not_s3:  # a web server (a captive portal, a proxy's page)
        unparsable = error_of("list", endpoint_url=not_s3)
    assert unparsable.startswith("Error: "), unparsable
    assert not_s3 in unparsable
    backwards = error_of(
        "restore", "--stream", "hits", "--from", "2024-03-02", "--to", "2024-03-01"
    )
    assert backwards == "Error: the range ends (2024-03-01) before it starts (2024-03-02)"


def _not_s3(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/html")])
    return [b"<html><body>Please sign in to the network<br></body></html>"]


def test_wrong_credentials_are_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    config = config_file(tmp_path, settings)
    endpoint = settings.archive.endpoint_url
    # From now on moto checks credentials, and knows none of ours.
    requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=5).raise_for_status()
    try:
        result = invoke(config, "list")
    finally:
        requests.post(f"{endpoint}/moto-api/reset-auth", data=b"inf", timeout=5)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: S3 refused the credentials")
    assert f"s3://{settings.archive.bucket}/" in result.output
    assert S3_SECRET not in result.output


class ArchiveLoop:
    """``metronome archive run --every SECONDS`` as a process, its output read line by line."""

    def __init__(self, config: Path, every: str) -> None:
        command = [sys.executable, "-m", "metronome.cli", "--config", str(config)]
        self.process = subprocess.Popen(
            [*command, "archive", "run", "--every", every],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("METRONOME_")},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout or []:
            self.lines.put(line)

    def wait_for(self, found: Callable[[str], bool]) -> None:
        while not any(found(line) for line in self.seen):
            self.seen.append(self.lines.get(timeout=20))

    def close(self) -> None:
        """Kill the process if still running; keep whatever it printed in ``seen``."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.reader.join()
        while not self.lines.empty():
            self.seen.append(self.lines.get())


def test_archive_run_every_archives_then_stops_cleanly_on_sigterm(
    hits_world: World, tmp_path: Path
) -> None:
    loop = ArchiveLoop(config_file(tmp_path, hits_world.settings), "600")
    try:
        loop.wait_for(lambda line: line.startswith("archive: 2 archived"))
        loop.process.send_signal(signal.SIGTERM)  # while it waits for the next run
        assert loop.process.wait(timeout=10) == 0
    finally:
        loop.close()
    assert loop.seen[-1].strip() == "archive: stopped", loop.seen
    assert len(objects(hits_world.store)) == 7  # 5 parts and 2 manifests


def test_a_run_by_hand_while_another_process_archives_says_who_and_writes_nothing(
    hits_world: World, tmp_path: Path
) -> None:
    config = config_file(tmp_path, hits_world.settings)
    leases = LeaseStore(hits_world.es, hits_world.prefix)
    assert leases.acquire("archive", "other-host:4242:abcdef", ttl=300)
    refused = invoke(config, "run")
    assert refused.exit_code == 1
    assert "other-host:4242:abcdef is archiving (lease 'archive')" in refused.output
    assert "try again when that run has finished" in refused.output
    assert objects(hits_world.store) == {}
    leases.release("archive", "other-host:4242:abcdef")
    result = invoke(config, "run")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("archive: 2 archived")
    assert leases.current("archive") is None  # the run gave its lease back


def test_the_archive_loop_skips_its_turn_while_another_instance_archives(
    hits_world: World, tmp_path: Path
) -> None:
    """Two instances with archive.enabled: the one without the lease waits for its next turn."""
    config = config_file(tmp_path, hits_world.settings)
    leases = LeaseStore(hits_world.es, hits_world.prefix)
    assert leases.acquire("archive", "other-host:4242:abcdef", ttl=300)
    loop = ArchiveLoop(config, "1")
    try:
        loop.wait_for(lambda line: "skipped this time" in line)
        assert objects(hits_world.store) == {}
        leases.release("archive", "other-host:4242:abcdef")  # the other instance finished
        loop.wait_for(lambda line: line.startswith("archive: 2 archived"))
        loop.process.send_signal(signal.SIGTERM)
        assert loop.process.wait(timeout=10) == 0
    finally:
        loop.close()
    skipped = next(line for line in loop.seen if "skipped this time" in line)
    assert "other-host:4242:abcdef is archiving" in skipped
    assert len(objects(hits_world.store)) == 7  # 5 parts and 2 manifests
