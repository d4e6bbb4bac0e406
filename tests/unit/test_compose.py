"""docker-compose.yml: valid for compose, secured, and nothing in it works without your .env."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"
FILLED = {
    "ELASTIC_PASSWORD": "Hb4kq0Zr8wVt2L",
    "KIBANA_PASSWORD": "Pq7nX2m0sLk3Rw",
    "GRAFANA_ADMIN_PASSWORD": "Gv5tY8u1Jh4Ns6",
    "GRAFANA_ES_PASSWORD": "Rf3dE9w2Qa7Zx1",
    "METRONOME_WRITE_KEY": "pk_Zt83nVq0pLw2x",
    "METRONOME_READ_KEY": "sk_Wm29rTk4vB8yq",
    "METRONOME_VISITOR_SECRET": "9f2c81e0b4d7a36e5c1f",
}


def compose_config(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    command = shutil.which("docker-compose")
    assert command, "make test installs docker-compose (make test-tools)"
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in env.items()))
    return subprocess.run(
        [command, "--env-file", str(env_file), "-f", str(COMPOSE), "config"],
        capture_output=True,
        check=False,
        text=True,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin"},
        timeout=60,
    )


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = compose_config(FILLED, tmp_path_factory.mktemp("compose"))
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert isinstance(config, dict)
    return config


def test_compose_validates_the_file(resolved: dict[str, Any]) -> None:
    assert set(resolved["services"]) == {
        "setup", "elasticsearch", "kibana", "grafana", "metronome",
    }  # fmt: skip


@pytest.mark.parametrize("missing", sorted(FILLED))
def test_a_missing_secret_stops_compose_naming_it(missing: str, tmp_path: Path) -> None:
    result = compose_config({k: v for k, v in FILLED.items() if k != missing}, tmp_path)
    assert result.returncode != 0
    assert missing in result.stderr


def test_elasticsearch_has_security_and_tls_on_and_is_not_published(
    resolved: dict[str, Any],
) -> None:
    es = resolved["services"]["elasticsearch"]
    assert es["environment"]["xpack.security.enabled"] == "true"
    assert es["environment"]["xpack.security.http.ssl.enabled"] == "true"
    assert "ports" not in es


def test_kibana_grafana_and_metronome_are_published_on_loopback_only(
    resolved: dict[str, Any],
) -> None:
    for name in ("kibana", "grafana", "metronome"):
        for port in resolved["services"][name]["ports"]:
            host_ip = port["host_ip"] if isinstance(port, dict) else str(port).split(":")[0]
            assert host_ip == "127.0.0.1", (name, port)


def test_metronome_talks_to_elasticsearch_over_tls_with_a_password(
    resolved: dict[str, Any],
) -> None:
    env = resolved["services"]["metronome"]["environment"]
    assert env["METRONOME_ELASTICSEARCH__URL"].startswith("https://")
    assert env["METRONOME_ELASTICSEARCH__PASSWORD"] == FILLED["ELASTIC_PASSWORD"]
    assert env["METRONOME_SITES__DEFAULT__WRITE_AUTH"] == "key"
    assert env["METRONOME_SITES__DEFAULT__PUBLIC_TOCK"] == "false"


def test_grafana_is_provisioned_from_the_shipped_files_with_a_read_only_user(
    resolved: dict[str, Any],
) -> None:
    grafana = resolved["services"]["grafana"]
    mounts = {}
    for volume in grafana["volumes"]:  # "source:target:mode" (compose v1) or a mapping (v2)
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        if source.startswith("/"):  # a file of the repository, not a named volume
            mounts[Path(source).relative_to(ROOT).as_posix()] = target
    assert mounts == {
        "grafana/compose/datasources.yaml": "/etc/grafana/provisioning/datasources/metronome.yaml",
        "grafana/provisioning/dashboards/metronome.yaml":
            "/etc/grafana/provisioning/dashboards/metronome.yaml",
        "grafana/dashboards": "/var/lib/grafana/dashboards/metronome",
    }  # fmt: skip
    for source in mounts:
        assert (ROOT / source).exists(), source
    sources = yaml.safe_load((ROOT / "grafana/compose/datasources.yaml").read_text())
    for source in sources["datasources"]:
        assert source["url"] == resolved["services"]["kibana"]["environment"]["ELASTICSEARCH_HOSTS"]
        assert source["basicAuthUser"] == "metronome_grafana"
        password_env = source["secureJsonData"]["basicAuthPassword"]
        assert password_env == "$__env{GRAFANA_ES_PASSWORD}"
    assert grafana["environment"]["GRAFANA_ES_PASSWORD"] == FILLED["GRAFANA_ES_PASSWORD"]
    setup = resolved["services"]["setup"]["command"][-1]
    assert "_security/user/metronome_grafana" in setup and '"read","view_index_metadata"' in setup
