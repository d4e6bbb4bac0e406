"""What the configuration leaves open, and when it may listen beyond this machine."""

from __future__ import annotations

from typing import Any

import pytest

from metronome.config import Settings, settings_from_mapping
from metronome.serve.exposure import ExposureError, check_exposure, is_loopback

KEYED = {
    "write_auth": "key",
    "write_keys": ["pk_3kT9v2QmZr"],
    "read_keys": ["sk_Hq83nV0pLw"],
}


def settings(host: str, **raw: Any) -> Settings:
    return settings_from_mapping({"server": {"host": host}, **raw})


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_addresses(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "192.0.2.7", "metronome.internal"])
def test_addresses_beyond_this_machine(host: str) -> None:
    assert not is_loopback(host)


def test_the_default_configuration_is_fine_on_loopback() -> None:
    assert check_exposure(settings("127.0.0.1")) == []


def test_a_keyless_site_on_a_public_address_is_refused_naming_every_door() -> None:
    with pytest.raises(ExposureError) as caught:
        check_exposure(
            settings(
                "0.0.0.0",
                sites={"default": {"write_auth": "none", "public_tock": True}},
            )
        )
    message = str(caught.value)
    assert "accepts hits without a key" in message
    assert "answers /tock without a key" in message
    assert "server.public_without_keys" in message


def test_the_allezon_endpoints_on_a_public_address_are_a_door_even_with_keys() -> None:
    with pytest.raises(ExposureError, match="Allezon endpoints are on"):
        check_exposure(
            settings(
                "0.0.0.0",
                sites={"default": KEYED, "allezon": KEYED},
                allezon={"enabled": True},
            )
        )


def test_a_forward_listener_without_a_shared_key_on_a_public_address_is_refused() -> None:
    with pytest.raises(ExposureError, match="forward listener"):
        check_exposure(
            settings(
                "127.0.0.1",
                sites={"default": KEYED},
                logs={"forward": {"host": "0.0.0.0"}},
            )
        )


def test_keyed_sites_may_listen_anywhere() -> None:
    assert check_exposure(settings("0.0.0.0", sites={"default": KEYED})) == []


def test_open_doors_are_served_only_when_said_explicitly_and_then_warned() -> None:
    warnings = check_exposure(
        settings(
            "0.0.0.0",
            server={"host": "0.0.0.0", "public_without_keys": True},
            sites={"default": {"write_auth": "none"}},
        )
    )
    assert warnings == [
        "WARNING: open to the network: site 'default' accepts hits without a key "
        "(write_auth: none), on 0.0.0.0."
    ]
