"""The operators' keys: the admin key of the admin endpoints and the metrics token of
``GET /metrics``, configured or generated at first start, and who each lets in."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from metronome.access.admin import check_admin_key, check_metrics_key
from metronome.access.opskeys import with_generated_keys
from metronome.access.readkeys import describe
from metronome.config import ConfigError, Settings, load_settings, settings_from_mapping
from metronome.errors import ApiError
from metronome.serve.exposure import check_exposure
from tests.conftest import ROOT

READ = "sk_Hq83nV0pLw_read"
WRITE = "pk_3kT9v2QmZr_write"
INGEST = "ik_Vb72mQ0xTz_ingest_key"
ADMIN = "ak_Zq8rT1vX0m_admin_key"
TOKEN = "mt_Lp4sW9eR2u_metrics_token"
SITES = {
    "shop": {
        "write_auth": "key",
        "write_keys": [WRITE],
        "read_keys": [READ],
        "ingest_keys": [INGEST],
    }
}


def configured(**raw: Any) -> Settings:
    return settings_from_mapping({"default_site": "shop", "sites": SITES, **raw})


def bearer(key: str) -> str:
    return f"Bearer {key}"


def refusal(check: Any, settings: Settings, authorization: str | None, **args: str) -> ApiError:
    with pytest.raises(ApiError) as caught:
        check(settings, authorization, args)
    return caught.value


# --- settings --------------------------------------------------------------------------------


def test_admin_site_is_gone_with_a_sentence_naming_admin_keys() -> None:
    with pytest.raises(ConfigError, match=r"admin_site: Removed.*admin_keys.*admin\.key"):
        configured(admin_site="shop")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"admin_keys": ["ak_short"]}, "admin_keys.0: Shorter than minimum length 16"),
        ({"admin_keys": ["ak_example_0123456789"]}, "example key"),
        ({"admin_keys": [READ]}, "An admin key cannot also be a site's"),
        ({"admin_keys": [INGEST]}, "An admin key cannot also be a site's"),
        ({"metrics": {"token": "mt_example_token_0001"}}, "example key"),
        ({"metrics": {"token": READ}}, "metrics.token: The metrics token cannot"),
        ({"admin_keys": [ADMIN], "metrics": {"token": ADMIN}}, "metrics.token"),
        ({"metrics": {"auth": "open"}}, "metrics.auth: Must be one of: token, none"),
    ],
)
def test_operator_keys_are_long_secret_and_of_one_kind(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        configured(**raw)


def test_operator_keys_stay_out_of_the_settings_repr() -> None:
    settings = configured(admin_keys=[ADMIN], metrics={"token": TOKEN})
    assert ADMIN not in repr(settings) and TOKEN not in repr(settings)


def test_admin_keys_from_the_environment_are_a_comma_separated_list() -> None:
    environ = {"METRONOME_ADMIN_KEYS": f"{ADMIN}, ak_Second_admin_key_01"}
    settings = load_settings(ROOT / "config" / "metronome.yml", environ=environ)
    assert settings.admin_keys == (ADMIN, "ak_Second_admin_key_01")


# --- generated at first start ------------------------------------------------------------------


def test_an_admin_key_and_a_metrics_token_are_generated_once_and_kept(tmp_path: Path) -> None:
    first, made = with_generated_keys(configured(), tmp_path)
    assert [key.label for key in made] == ["Admin key", "Metrics token"]
    (admin,) = first.admin_keys
    token = first.metrics.token
    assert admin.startswith("ak_") and token is not None and token.startswith("mt_")
    for name, key in (("admin.key", admin), ("metrics.token", token)):
        path = tmp_path / "keys" / name
        assert path.read_text().strip() == key
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    shown = describe(made)
    assert admin in shown[0] and token in shown[1] and "shown once" in shown[0]

    again, kept = with_generated_keys(configured(), tmp_path)
    assert again.admin_keys == (admin,) and again.metrics.token == token
    assert not any(admin in line or token in line for line in describe(kept))
    assert describe(kept)[0] == f"Admin key: in {tmp_path / 'keys' / 'admin.key'}"


def test_configured_operator_keys_are_used_and_nothing_is_generated(tmp_path: Path) -> None:
    settings, made = with_generated_keys(
        configured(admin_keys=[ADMIN], metrics={"token": TOKEN}), tmp_path
    )
    assert made == [] and not (tmp_path / "keys").exists()
    assert settings.admin_keys == (ADMIN,) and settings.metrics.token == TOKEN
    _, open_metrics = with_generated_keys(
        configured(admin_keys=[ADMIN], metrics={"auth": "none"}), tmp_path
    )
    assert open_metrics == []  # no token is made for an open /metrics


# --- who gets in -------------------------------------------------------------------------------


def test_the_admin_endpoints_take_an_admin_key_only() -> None:
    settings = configured(admin_keys=[ADMIN], metrics={"token": TOKEN})
    check_admin_key(settings, bearer(ADMIN), {})
    missing = refusal(check_admin_key, settings, None)
    assert (missing.status, missing.code) == (401, "missing_key")
    for key in (READ, WRITE, INGEST):
        error = refusal(check_admin_key, settings, bearer(key))
        assert (error.status, error.code) == (403, "admin_key_required"), key
        assert "admin key" in error.message and "admin_keys" in error.message
    for key in (TOKEN, "ak_Unknown_admin_key_1"):
        error = refusal(check_admin_key, settings, bearer(key))
        assert (error.status, error.code) == (401, "invalid_key")
    error = refusal(check_admin_key, settings, None, key=ADMIN)
    assert (error.status, error.code) == (400, "key_in_url")


def test_metrics_take_the_token_or_an_admin_key_unless_opened() -> None:
    settings = configured(admin_keys=[ADMIN], metrics={"token": TOKEN})
    check_metrics_key(settings, bearer(TOKEN), {})
    check_metrics_key(settings, bearer(ADMIN), {})
    missing = refusal(check_metrics_key, settings, None)
    assert (missing.status, missing.code) == (401, "missing_key")
    assert "metrics token" in missing.message
    assert refusal(check_metrics_key, settings, bearer("mt_wrong_token_0001")).status == 401
    assert refusal(check_metrics_key, settings, bearer(READ)).status == 403
    assert refusal(check_metrics_key, settings, None, token=TOKEN).code == "key_in_url"
    check_metrics_key(configured(metrics={"auth": "none"}), None, {})


def test_an_open_metrics_endpoint_on_a_public_address_is_warned_about() -> None:
    keyed = {"write_auth": "key", "write_keys": [WRITE], "read_keys": [READ]}
    public = {"server": {"host": "0.0.0.0"}, "default_site": "shop", "sites": {"shop": keyed}}
    public["logs"] = {"forward": {"enabled": False}}
    assert check_exposure(settings_from_mapping(public)) == []
    opened = settings_from_mapping({**public, "metrics": {"auth": "none"}})
    (warning,) = check_exposure(opened)
    assert "/metrics answers without a token (metrics.auth: none), on 0.0.0.0" in warning
    loopback = settings_from_mapping({**public, "server": {}, "metrics": {"auth": "none"}})
    assert check_exposure(loopback) == []
