"""The archive section of the settings: defaults, validation naming the setting, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from metronome.config import ArchiveSettings, ConfigError, load_settings, settings_from_mapping

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "metronome.yml"


def test_archiving_is_off_by_default_for_both_streams() -> None:
    archive = settings_from_mapping({}).archive
    assert archive == ArchiveSettings()
    assert not archive.enabled
    assert archive.bucket is None
    assert archive.key_prefix == "metronome"
    assert archive.streams == ("hits", "logs")
    assert not archive.path_style


def test_the_example_file_documents_the_defaults() -> None:
    assert load_settings(EXAMPLE, environ={}).archive == ArchiveSettings()
    text = EXAMPLE.read_text()
    for name in ArchiveSettings.__dataclass_fields__:
        assert f" {name}:" in text, name


def test_environment_sets_the_archive() -> None:
    archive = load_settings(
        EXAMPLE,
        environ={
            "METRONOME_ARCHIVE__ENABLED": "true",
            "METRONOME_ARCHIVE__BUCKET": "usage-archive",
            "METRONOME_ARCHIVE__ENDPOINT_URL": "http://minio:9000/",
            "METRONOME_ARCHIVE__PATH_STYLE": "true",
            "METRONOME_ARCHIVE__KEY_PREFIX": "/prod/metronome/",
            "METRONOME_ARCHIVE__ACCESS_KEY_ID": "AKID",
            "METRONOME_ARCHIVE__SECRET_ACCESS_KEY": "secret",
            "METRONOME_ARCHIVE__PART_DOCS": "5000",
        },
    ).archive
    assert archive.enabled
    assert archive.bucket == "usage-archive"
    assert archive.endpoint_url == "http://minio:9000"
    assert archive.path_style
    assert archive.key_prefix == "prod/metronome"
    assert (archive.access_key_id, archive.secret_access_key) == ("AKID", "secret")
    assert archive.part_docs == 5000


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ({"enabled": True}, "archive.bucket: Set a bucket"),
        ({"bucket": "a b"}, "archive.bucket"),
        ({"key_prefix": "a//b"}, "archive.key_prefix"),
        ({"endpoint_url": "minio:9000"}, "archive.endpoint_url"),
        ({"access_key_id": "AKID"}, "archive.secret_access_key: Set both"),
        ({"secret_access_key": "s3cr3t-value"}, "archive.access_key_id: Set both"),
        ({"part_docs": 0}, "archive.part_docs"),
        ({"streams": []}, "archive.streams"),
        ({"streams": ["Hits"]}, "archive.streams.0"),
        ({"interval": 0}, "archive.interval"),
        ({"grace": -1}, "archive.grace"),
        ({"bukket": "x"}, "archive.bukket: Unknown setting"),
    ],
)
def test_a_wrong_archive_setting_is_named(raw: dict[str, object], names: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping({"archive": raw})
    assert names in str(caught.value)
    assert "s3cr3t-value" not in str(caught.value)
