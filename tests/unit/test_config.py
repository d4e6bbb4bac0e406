from __future__ import annotations

from pathlib import Path

import pytest

from metronome.config import ConfigError, env_overrides, load_settings, settings_from_mapping

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
