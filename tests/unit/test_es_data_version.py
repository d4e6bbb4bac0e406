"""Which Elasticsearch release may open the embedded node's data (``metronome.es.data_version``)."""

from __future__ import annotations

from pathlib import Path

from metronome.es.data_version import (
    data_verdict,
    has_node_data,
    home_version,
    parse_version,
    record_version,
    recorded_version,
)

DATA = Path("/srv/metronome/var/es")


def test_no_data_yet_starts_silently() -> None:
    verdict = data_verdict(None, False, "8.19.21", DATA)
    assert verdict.allowed and verdict.message is None


def test_same_release_starts_silently() -> None:
    verdict = data_verdict("8.19.21", True, "8.19.21", DATA)
    assert verdict.allowed and verdict.message is None


def test_data_from_before_the_record_is_upgraded_with_a_note() -> None:
    verdict = data_verdict(None, True, "8.19.21", DATA)
    assert verdict.allowed
    assert verdict.message is not None
    assert "8.19.21 upgrades it" in verdict.message and "one-way" in verdict.message
    assert str(DATA) in verdict.message


def test_an_older_minor_is_upgraded_with_a_note() -> None:
    verdict = data_verdict("8.14.3", True, "8.19.21", DATA)
    assert verdict.allowed
    assert verdict.message is not None
    assert "from Elasticsearch 8.14.3 to 8.19.21" in verdict.message


def test_a_newer_release_is_refused_saying_what_to_do() -> None:
    verdict = data_verdict("8.19.22", True, "8.19.21", DATA)
    assert not verdict.allowed
    assert verdict.message is not None
    assert "8.19.22, newer than the 8.19.21" in verdict.message
    assert "Run the newer Metronome, or move the directory aside" in verdict.message


def test_another_major_is_refused() -> None:
    verdict = data_verdict("7.17.0", True, "8.19.21", DATA)
    assert not verdict.allowed
    assert verdict.message is not None and "another major" in verdict.message


def test_versions_compare_as_numbers_not_text() -> None:
    assert data_verdict("8.9.0", True, "8.19.21", DATA).allowed  # "8.9" > "8.19" as text
    assert not data_verdict("8.19.21", True, "8.9.0", DATA).allowed


def test_an_unreadable_record_does_not_block_the_start() -> None:
    assert data_verdict("garbage", True, "8.19.21", DATA).allowed
    assert parse_version("8.19") is None and parse_version("8.19.21") == (8, 19, 21)


def test_files(tmp_path: Path) -> None:
    home = tmp_path / "es-dist"
    (home / "lib").mkdir(parents=True)
    for name in (
        "elasticsearch-core-8.19.21.jar",
        "elasticsearch-8.19.21.jar",
        "lucene-core-9.12.2.jar",
    ):
        (home / "lib" / name).touch()
    assert home_version(home) == "8.19.21"
    assert home_version(tmp_path / "nowhere") is None

    data = tmp_path / "es"
    assert not has_node_data(data) and recorded_version(data) is None
    (data / "data" / "_state").mkdir(parents=True)
    assert has_node_data(data)
    record_version(data, "8.19.21")
    assert recorded_version(data) == "8.19.21"
