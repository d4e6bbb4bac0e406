"""The day manifest and the decision what an archive run does with a day."""

from __future__ import annotations

import json
from datetime import date

import pytest

from metronome.archive.manifest import (
    FORMAT,
    Decision,
    Manifest,
    ManifestError,
    PartInfo,
    plan_day,
)

PARTS = (
    PartInfo(name="part-0.ndjson.gz", docs=3, bytes=120, sha256="a" * 64),
    PartInfo(name="part-1.ndjson.gz", docs=1, bytes=60, sha256="b" * 64),
)
MANIFEST = Manifest(
    stream="hits",
    day=date(2024, 3, 1),
    index="metronome-hits-2024.03.01",
    doc_count=4,
    index_doc_count=4,
    parts=PARTS,
    archived_at="2024-03-02T01:00:00+00:00",
)
STORED = {"part-0.ndjson.gz": 120, "part-1.ndjson.gz": 60}


def test_manifest_round_trips_through_json() -> None:
    data = MANIFEST.to_json()
    assert Manifest.from_json(data) == MANIFEST
    body = json.loads(data)
    assert body["format"] == FORMAT
    assert body["day"] == "2024-03-01"
    assert body["parts"][0] == {
        "name": "part-0.ndjson.gz",
        "docs": 3,
        "bytes": 120,
        "sha256": "a" * 64,
    }


@pytest.mark.parametrize(
    "change",
    [
        {"format": "something-else/1"},
        {"doc_count": -1},
        {"doc_count": True},
        {"index_doc_count": "4"},
        {"day": "2024-02-30"},
        {"parts": [{"name": "part-0.ndjson.gz"}]},
        {"stream": None},
    ],
)
def test_a_manifest_this_version_did_not_write_is_refused(change: dict[str, object]) -> None:
    body = {**json.loads(MANIFEST.to_json()), **change}
    with pytest.raises(ManifestError):
        Manifest.from_json(json.dumps(body).encode())


@pytest.mark.parametrize("data", [b"", b"not json", b"[]", b"{}"])
def test_garbage_is_not_a_manifest(data: bytes) -> None:
    with pytest.raises(ManifestError):
        Manifest.from_json(data)


def test_a_day_never_archived_is_archived() -> None:
    plan = plan_day(None, 10, {})
    assert plan.decision is Decision.ARCHIVE
    assert plan.reason == "not archived yet"


def test_parts_without_a_manifest_are_an_incomplete_day_written_again() -> None:
    plan = plan_day(None, 10, {"part-0.ndjson.gz": 100})
    assert plan.decision is Decision.ARCHIVE
    assert "incomplete" in plan.reason


def test_an_archived_unchanged_day_is_skipped() -> None:
    plan = plan_day(MANIFEST, 4, STORED)
    assert plan.decision is Decision.CURRENT


def test_a_day_that_grew_since_it_was_archived_is_archived_again() -> None:
    plan = plan_day(MANIFEST, 6, STORED)
    assert plan.decision is Decision.ARCHIVE
    assert plan.reason.startswith("2 documents arrived since")


@pytest.mark.parametrize(
    "stored",
    [
        {"part-0.ndjson.gz": 120},  # a part gone
        {"part-0.ndjson.gz": 120, "part-1.ndjson.gz": 59},  # a part changed
    ],
)
def test_a_damaged_archive_is_written_again(stored: dict[str, int]) -> None:
    plan = plan_day(MANIFEST, 4, stored)
    assert plan.decision is Decision.ARCHIVE
    assert "part-1.ndjson.gz" in plan.reason


@pytest.mark.parametrize("stored", [STORED, {}])
def test_an_index_holding_less_than_the_archive_never_shrinks_it(stored: dict[str, int]) -> None:
    plan = plan_day(MANIFEST, 3, stored)
    assert plan.decision is Decision.KEEP
    assert "fewer than the 4 archived" in plan.reason
