from __future__ import annotations

from pathlib import Path

import pytest

from metronome.config import (
    ConfigError,
    ForwardTlsSettings,
    env_overrides,
    load_settings,
    settings_from_mapping,
)
from metronome.es.client import client_options

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "metronome.yml"


def test_defaults_listen_on_localhost_8080_with_an_open_default_site() -> None:
    settings = settings_from_mapping({})
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8080)
    assert settings.elasticsearch.url is None
    assert settings.elasticsearch.index_prefix == "metronome"
    default = settings.site("default")
    assert default is not None
    assert default.write_auth == "none"
    assert default.public_tock


def test_example_config_file_loads_and_matches_the_documented_defaults() -> None:
    settings = load_settings(EXAMPLE, environ={})
    assert settings.server.port == 8080
    assert settings.elasticsearch.url is None
    assert settings.elasticsearch.embedded.data_dir == Path("var/es")
    assert settings.default_site == "default"


def test_environment_overrides_the_file() -> None:
    settings = load_settings(
        EXAMPLE,
        environ={
            "METRONOME_SERVER__PORT": "9091",
            "METRONOME_ES_URL": "http://es.internal:9200/",
            "METRONOME_ELASTICSEARCH__EMBEDDED__HEAP": "2g",
            "UNRELATED": "x",
        },
    )
    assert settings.server.port == 9091
    assert settings.elasticsearch.url == "http://es.internal:9200"
    assert settings.elasticsearch.embedded.heap == "2g"
    assert settings.elasticsearch.embedded.nice == 0  # the default, unless overridden


def test_the_embedded_nodes_priority_can_be_set_from_the_environment() -> None:
    settings = load_settings(EXAMPLE, environ={"METRONOME_ELASTICSEARCH__EMBEDDED__NICE": "12"})
    assert settings.elasticsearch.embedded.nice == 12


def test_env_overrides_become_nested_paths() -> None:
    assert env_overrides({"METRONOME_A__B__C": "1", "METRONOME_CONFIG": "x"}) == {
        "a": {"b": {"c": "1"}}
    }


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ({"elasticsearch": {"url": "not a url"}}, "elasticsearch.url"),
        ({"server": {"port": 70000}}, "server.port"),
        ({"server": {"prot": 1}}, "server.prot: Unknown setting"),
        ({"elasticsearch": {"index_prefix": "Bad Prefix"}}, "elasticsearch.index_prefix"),
        ({"sites": {"shop": {"write_auth": "key"}}}, "sites.shop.value.write_keys"),
        ({"default_site": "nope"}, "default_site"),
        ({"elasticsearch": {"embedded": {"heap": "lots"}}}, "elasticsearch.embedded.heap"),
        ({"elasticsearch": {"embedded": {"nice": 20}}}, "elasticsearch.embedded.nice"),
        ({"elasticsearch": {"embedded": {"nice": -5}}}, "elasticsearch.embedded.nice"),
        ({"elasticsearch": {"username": "elastic"}}, "elasticsearch.password: Set both"),
        ({"elasticsearch": {"password": "x"}}, "elasticsearch.username: Set both"),
        (
            {"elasticsearch": {"api_key": "k", "username": "u", "password": "p"}},
            "elasticsearch.api_key: Set api_key or username/password",
        ),
        ({"elasticsearch": {"ca_certs": "/nonexistent/ca.pem"}}, "elasticsearch.ca_certs: No such"),
        ({"elasticsearch": {"ssl_assert_fingerprint": "abc"}}, "ssl_assert_fingerprint: Use the"),
        ({"privacy": {"keep_query_params": ["a&b"]}}, "privacy.keep_query_params.0"),
        ({"server": {"request_timeout": 0}}, "server.request_timeout"),
        ({"server": {"threads": 8, "worker_connections": 8}}, "server.worker_connections"),
    ],
)
def test_a_wrong_setting_is_named_in_the_error(raw: dict[str, object], names: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping(raw)
    assert names in str(caught.value)


def test_key_cannot_be_both_read_and_write() -> None:
    with pytest.raises(ConfigError, match="both a write key and a read key"):
        settings_from_mapping(
            {"sites": {"default": {"write_keys": ["k" * 10], "read_keys": ["k" * 10]}}}
        )


def test_broken_yaml_is_reported_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m.yml"
    path.write_text("server: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(path, environ={})


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "absent.yml", environ={})


def test_the_forward_listeners_tls_limits_and_cap_are_settings() -> None:
    forward = settings_from_mapping(
        {
            "logs": {
                "forward": {
                    "tls": {"cert_file": "tls/forward.pem", "key_file": "tls/forward.key"},
                    "max_connections": 10,
                    "max_message_bytes": 1_048_576,
                    "max_map_length": 1000,
                }
            }
        }
    ).logs.forward
    assert forward.tls == ForwardTlsSettings(Path("tls/forward.pem"), Path("tls/forward.key"))
    assert (forward.max_connections, forward.max_message_bytes) == (10, 1_048_576)
    assert (forward.max_map_length, forward.max_array_length) == (1000, 1_000_000)
    example = load_settings(EXAMPLE, environ={}).logs.forward
    assert (example.host, example.tls, example.max_connections) == ("127.0.0.1", None, 256)


@pytest.mark.parametrize(
    ("forward", "names"),
    [
        ({"tls": {"cert_file": "c.pem"}}, "logs.forward.tls.key_file"),
        ({"max_connections": 0}, "logs.forward.max_connections"),
        ({"max_message_bytes": 100}, "logs.forward.max_message_bytes"),
        ({"max_array_length": 1}, "logs.forward.max_array_length"),
    ],
)
def test_a_wrong_forward_setting_is_named(forward: dict[str, object], names: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping({"logs": {"forward": forward}})
    assert names in str(caught.value)


def test_the_shared_key_stays_out_of_the_settings_repr() -> None:
    forward = settings_from_mapping({"logs": {"forward": {"shared_key": "s3cret"}}}).logs.forward
    assert forward.shared_key == "s3cret"
    assert "s3cret" not in repr(forward)


def test_cluster_credentials_and_kept_query_parameters_come_from_the_environment(
    tmp_path: Path,
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = load_settings(
        EXAMPLE,
        environ={
            "METRONOME_ELASTICSEARCH__API_KEY": "id:secret",
            "METRONOME_ELASTICSEARCH__CA_CERTS": str(ca),
            "METRONOME_ELASTICSEARCH__SSL_ASSERT_FINGERPRINT": "AB:" * 31 + "AB",
            "METRONOME_ELASTICSEARCH__VERIFY_CERTS": "false",
            "METRONOME_PRIVACY__KEEP_QUERY_PARAMS": "utm_*, page",
        },
    )
    es = settings.elasticsearch
    assert (es.api_key, es.ca_certs, es.verify_certs) == ("id:secret", ca, False)
    assert es.ssl_assert_fingerprint == "AB:" * 31 + "AB"
    assert settings.privacy.keep_query_params == ("utm_*", "page")
    assert load_settings(EXAMPLE, environ={}).privacy.keep_query_params == ("utm_*", "ref")
    none = load_settings(EXAMPLE, environ={"METRONOME_PRIVACY__KEEP_QUERY_PARAMS": ""})
    assert none.privacy.keep_query_params == ()


def test_client_options_carry_only_what_is_set() -> None:
    plain = settings_from_mapping({"elasticsearch": {"url": "http://127.0.0.1:9200"}})
    assert client_options(plain.elasticsearch) == {}
    pair = settings_from_mapping({"elasticsearch": {"api_key": "id:key"}}).elasticsearch
    assert client_options(pair) == {"api_key": ("id", "key")}
    encoded = settings_from_mapping({"elasticsearch": {"api_key": "aWQ6a2V5"}}).elasticsearch
    assert client_options(encoded) == {"api_key": "aWQ6a2V5"}
    basic = {"username": "u", "password": "p", "verify_certs": False}
    assert client_options(settings_from_mapping({"elasticsearch": basic}).elasticsearch) == {
        "basic_auth": ("u", "p"),
        "verify_certs": False,
        "ssl_show_warn": False,
    }
