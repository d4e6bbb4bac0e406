"""The visitor secret's file (``metronome.fsutil.load_or_create_secret``); what is derived from
the secret is tested with ``metronome.enrich`` (test_enrich_*.py)."""

from __future__ import annotations

import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from metronome.fsutil import load_or_create_secret


def test_a_configured_secret_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "visitor-secret"
    path.write_text("from-the-file\n")
    assert load_or_create_secret("from-the-config", path) == b"from-the-config"


def test_a_configured_secret_creates_no_file(tmp_path: Path) -> None:
    path = tmp_path / "visitor-secret"
    load_or_create_secret("from-the-config", path)
    assert not path.exists()


def test_the_secret_file_is_created_once_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "var" / "visitor-secret"
    first = load_or_create_secret(None, path)
    assert load_or_create_secret(None, path) == first
    assert len(bytes.fromhex(first.decode())) == 32


def test_the_secret_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "visitor-secret"
    load_or_create_secret(None, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_creating_the_secret_leaves_no_temporary_file(tmp_path: Path) -> None:
    load_or_create_secret(None, tmp_path / "visitor-secret")
    assert [p.name for p in tmp_path.iterdir()] == ["visitor-secret"]


def test_an_existing_secret_file_is_read_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "visitor-secret"
    path.write_text("abc123\n")
    assert load_or_create_secret(None, path) == b"abc123"
    assert path.read_text() == "abc123\n"


def test_the_file_secret_pasted_into_the_config_gives_the_same_secret(tmp_path: Path) -> None:
    path = tmp_path / "visitor-secret"
    from_file = load_or_create_secret(None, path)
    assert load_or_create_secret(path.read_text().strip(), path) == from_file


def test_an_empty_secret_file_is_an_error_not_silently_replaced(tmp_path: Path) -> None:
    path = tmp_path / "visitor-secret"
    path.write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        load_or_create_secret(None, path)


def test_concurrent_first_starts_end_with_one_secret(tmp_path: Path) -> None:
    path = tmp_path / "visitor-secret"
    with ProcessPoolExecutor(max_workers=8) as pool:
        secrets = set(pool.map(load_or_create_secret, [None] * 32, [path] * 32))
    assert secrets == {path.read_text().strip().encode()}
