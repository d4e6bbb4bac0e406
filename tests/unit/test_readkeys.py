"""Read keys generated at first start: made once, kept, shown once."""

from __future__ import annotations

import stat
from pathlib import Path

from metronome.access.readkeys import describe, with_generated_read_keys
from metronome.config import settings_from_mapping


def test_a_site_without_read_keys_gets_one_that_is_kept(tmp_path: Path) -> None:
    settings = settings_from_mapping(
        {
            "sites": {
                "default": {"write_auth": "none"},
                "shop": {"write_auth": "none", "read_keys": ["sk_mine_0123456789"]},
            }
        }
    )
    first, made = with_generated_read_keys(settings, tmp_path)
    assert [key.site for key in made] == ["default"]
    key = first.sites["default"].read_keys[0]
    assert key.startswith("sk_") and len(key) >= 32
    assert first.sites["shop"].read_keys == ("sk_mine_0123456789",)  # configured: untouched
    path = tmp_path / "keys" / "default.read-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert made[0].created
    assert key in describe(made)[0]

    again, kept = with_generated_read_keys(settings, tmp_path)
    assert again.sites["default"].read_keys == (key,)
    assert not kept[0].created
    assert key not in describe(kept)[0]  # shown once: later starts say where it is


def test_each_install_gets_its_own_key(tmp_path: Path) -> None:
    settings = settings_from_mapping({})
    one, _ = with_generated_read_keys(settings, tmp_path / "a")
    two, _ = with_generated_read_keys(settings, tmp_path / "b")
    assert one.sites["default"].read_keys != two.sites["default"].read_keys
