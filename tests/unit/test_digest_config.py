"""``digests:`` settings: defaults, the environment, and errors naming the digest and field."""

from __future__ import annotations

from typing import Any

import pytest

from metronome.config import ConfigError, load_settings, settings_from_mapping
from tests.conftest import ROOT

SITES = {"default": {"write_auth": "none"}, "shop": {"write_auth": "none"}}
NOTIFY = {
    "smtp": {"host": "smtp.example.org", "sender": "Metronome <metronome@example.org>"},
    "channels": {
        "ops-mail": {"type": "email", "to": ["ops@example.org"]},
        "chat": {"type": "webhook", "url": "https://chat.example.org/hooks/x", "format": "slack"},
    },
}


def load(digests: dict[str, Any], notify: dict[str, Any] | None = None) -> Any:
    raw = {"sites": SITES, "digests": digests, "notify": NOTIFY if notify is None else notify}
    return settings_from_mapping(raw).digests


def test_defaults_fill_what_a_digest_leaves_out() -> None:
    digest = load({"team": {"schedule": "weekly", "to": ["a@example.org"]}})["team"]
    assert digest.name == "team"
    assert digest.site is None and digest.dashboard == "web"
    assert (digest.time, digest.weekday, digest.day) == ("08:00", "monday", 1)
    assert digest.zone.key == "UTC" and digest.enabled
    assert digest.channels == () and digest.to == ("a@example.org",)


def test_a_full_digest_loads() -> None:
    digests = load(
        {
            "monthly-ops": {
                "site": "shop", "dashboard": "logs", "schedule": "monthly", "time": "06:30",
                "day": "last", "tz": "Europe/Warsaw", "channels": ["ops-mail", "chat"],
                "enabled": False,
            },
            "mid-month": {"schedule": "monthly", "day": 15, "channels": ["chat"]},
        }
    )  # fmt: skip
    ops = digests["monthly-ops"]
    assert (ops.site, ops.dashboard, ops.day, ops.tz) == ("shop", "logs", "last", "Europe/Warsaw")
    assert ops.hour_minute == (6, 30) and not ops.enabled
    assert digests["mid-month"].day == 15


def test_the_environment_sets_a_digest() -> None:
    settings = load_settings(
        ROOT / "config" / "metronome.yml",
        environ={
            "METRONOME_DIGESTS__DAILY__SCHEDULE": "monthly",
            "METRONOME_DIGESTS__DAILY__DAY": "28",
            "METRONOME_DIGESTS__DAILY__TO": "a@example.org, b@example.org",
            "METRONOME_NOTIFY__SMTP__HOST": "smtp.example.org",
            "METRONOME_NOTIFY__SMTP__SENDER": "metronome@example.org",
        },
    )
    digest = settings.digests["daily"]
    assert digest.day == 28 and digest.to == ("a@example.org", "b@example.org")


@pytest.mark.parametrize(
    ("digest", "names"),
    [
        ({"to": ["a@example.org"]}, "digests.d.schedule: Missing data"),
        ({"schedule": "hourly", "to": ["a@example.org"]}, "digests.d.schedule: Must be one of"),
        ({"schedule": "daily", "time": "8:00", "to": ["a@example.org"]}, "digests.d.time: "),
        ({"schedule": "daily", "time": "24:00", "to": ["a@example.org"]}, "digests.d.time: "),
        ({"schedule": "weekly", "weekday": "mon", "to": ["a@example.org"]}, "digests.d.weekday"),
        ({"schedule": "monthly", "day": 29, "to": ["a@example.org"]}, "digests.d.day: A day"),
        ({"schedule": "monthly", "day": 0, "to": ["a@example.org"]}, "digests.d.day: A day"),
        ({"schedule": "monthly", "day": "first", "to": ["a@example.org"]}, "digests.d.day: "),
        ({"schedule": "daily", "weekday": "friday", "to": ["a@example.org"]},
         "digests.d.weekday: Only a weekly digest"),
        ({"schedule": "weekly", "day": 3, "to": ["a@example.org"]},
         "digests.d.day: Only a monthly digest"),
        ({"schedule": "daily", "tz": "Mars/Olympus", "to": ["a@example.org"]},
         "digests.d.tz: 'Mars/Olympus' is not a time zone"),
        ({"schedule": "daily"}, "digests.d.channels: Name at least one"),
        ({"schedule": "daily", "to": ["not-an-address"]}, "digests.d.to.0: Not an e-mail"),
        ({"schedule": "daily", "channels": ["a b"]}, "digests.d.channels.0: Not a channel"),
        ({"schedule": "daily", "dashboard": "Web!", "to": ["a@example.org"]},
         "digests.d.dashboard: Not a dashboard id"),
        ({"schedule": "daily", "site": "nowhere", "to": ["a@example.org"]},
         "digests.d.site: 'nowhere' is not one of the sites"),
        ({"schedule": "daily", "to": ["a@example.org"], "color": "red"},
         "digests.d.color: Unknown setting"),
    ],
)  # fmt: skip
def test_a_wrong_digest_is_named_with_its_field(digest: dict[str, Any], names: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load({"d": digest})
    assert names in str(caught.value)


def test_channels_and_addresses_need_notify() -> None:
    with pytest.raises(ConfigError) as caught:
        load({"d": {"schedule": "daily", "channels": ["pager"]}})
    assert (
        "digests.d.channels: 'pager' is not one of the notify channels (chat, email, ops-mail)."
    ) in str(caught.value)
    with pytest.raises(ConfigError, match=r"digests\.d\.to: Addresses are sent through"):
        load({"d": {"schedule": "daily", "to": ["a@example.org"]}}, notify={})
    with pytest.raises(ConfigError, match=r"digests\.d\.to: Send to the 'email' channel or"):
        load({"d": {"schedule": "daily", "to": ["a@example.org"], "channels": ["email"]}})
    both = {"schedule": "daily", "site": "nowhere", "channels": ["pager"]}
    with pytest.raises(ConfigError) as caught:
        load({"d": both})
    assert "digests.d.site: 'nowhere'" in str(caught.value)
    assert "digests.d.channels: 'pager'" in str(caught.value)


def test_a_wrong_name_or_shape_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"digests\.Bad Name: A digest name"):
        load({"Bad Name": {"schedule": "daily", "to": ["a@example.org"]}})
    with pytest.raises(ConfigError, match=r"digests\.d: Each digest is a mapping"):
        load({"d": "daily"})
    with pytest.raises(ConfigError, match="digests: A mapping of digest names"):
        load(["d"])  # type: ignore[arg-type]
