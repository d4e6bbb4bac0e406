"""The shipped configuration and documentation hold no key that would work."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from metronome.config import ConfigError, load_settings, settings_from_mapping
from tests.conftest import ROOT

KEY = re.compile(r"\b[ps]k_[A-Za-z0-9_-]{4,}")
DOCUMENTS = sorted(
    [
        ROOT / "README.md",
        *(ROOT / "config").glob("*"),
        *(ROOT / "clients" / "js").glob("*.md"),
        *(ROOT / "docs").glob("**/*.md"),
        ROOT / "docker-compose.yml",
        ROOT / "Dockerfile",
    ]
)
DOCUMENTED_KEYS = sorted(
    {key for path in DOCUMENTS if path.is_file() for key in KEY.findall(path.read_text())}
)


def test_keys_are_documented_at_all() -> None:
    assert len(DOCUMENTED_KEYS) >= 2  # the scan finds them, so the next test means something


@pytest.mark.parametrize("key", DOCUMENTED_KEYS)
def test_no_documented_key_is_accepted_at_start(key: str) -> None:
    for role in ("write_keys", "read_keys"):
        site = {"write_auth": "key", "write_keys": ["pk_Zq8rT1vX0m"], role: [key]}
        with pytest.raises(ConfigError, match="example key"):
            settings_from_mapping({"sites": {"default": site}})


def test_the_shipped_configuration_names_no_key(tmp_path: Path) -> None:
    settings = load_settings(ROOT / "config" / "metronome.yml", environ={})
    for site in settings.sites.values():
        assert site.read_keys == () and site.write_keys == ()
    assert not settings.allezon.enabled


def test_keys_from_the_environment_are_a_comma_separated_list() -> None:
    settings = load_settings(
        ROOT / "config" / "metronome.yml",
        environ={"METRONOME_SITES__DEFAULT__READ_KEYS": "sk_Aa11bb22cc, sk_Dd33ee44ff"},
    )
    assert settings.sites["default"].read_keys == ("sk_Aa11bb22cc", "sk_Dd33ee44ff")
