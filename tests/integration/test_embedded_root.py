"""The embedded node answers like a node of the Elasticsearch distribution to the calls that
Kibana, Grafana, Logstash and the official clients make first: ``GET /`` (and ``HEAD /``), the
nodes' versions and addresses, and the cluster's health, each with ``X-Elastic-Product``.

Every member of ``GET /`` is checked for its type and shape, as the 8.x API specification
declares them all required. Without the ``metronome-root`` module (embedded-es/src/.../root),
``GET /`` is a 405 and these tests fail.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from elasticsearch import Elasticsearch

from metronome.config import EmbeddedSettings
from metronome.es.data_version import VERSION_FILE, home_version
from metronome.es.embedded import EmbeddedElasticsearch, EmbeddedError
from tests.conftest import ROOT, free_port

VERSION = re.compile(r"^\d+\.\d+\.\d+$")
# What the official 8.x clients send: the compatibility media type, JSON either way.
COMPATIBLE = "application/vnd.elasticsearch+json; compatible-with=8"


def _get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, timeout=10)


def _product(response: requests.Response) -> str | None:
    return response.headers.get("X-Elastic-Product")  # requests' headers ignore case


def test_root_has_every_member_of_a_real_node(es_url: str) -> None:
    response = _get(f"{es_url}/")
    assert response.status_code == 200
    assert _product(response) == "Elasticsearch"
    assert response.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()

    assert set(body) == {"name", "cluster_name", "cluster_uuid", "version", "tagline"}
    assert isinstance(body["name"], str) and body["name"]
    assert isinstance(body["cluster_name"], str) and body["cluster_name"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", body["cluster_uuid"]), body["cluster_uuid"]
    assert body["tagline"] == "You Know, for Search"

    version = body["version"]
    assert set(version) == {
        "number",
        "build_flavor",
        "build_type",
        "build_hash",
        "build_date",
        "build_snapshot",
        "lucene_version",
        "minimum_wire_compatibility_version",
        "minimum_index_compatibility_version",
    }
    assert VERSION.match(version["number"])
    assert version["build_flavor"] == "default"
    assert version["build_type"] in {"tar", "zip", "docker", "deb", "rpm"}
    assert re.fullmatch(r"[0-9a-f]{40}", version["build_hash"])
    assert datetime.fromisoformat(version["build_date"][:26].rstrip("Z") + "+00:00")
    assert version["build_snapshot"] is False
    assert VERSION.match(version["lucene_version"])
    assert VERSION.match(version["minimum_wire_compatibility_version"])
    assert VERSION.match(version["minimum_index_compatibility_version"])
    major = int(version["number"].split(".")[0])
    assert int(version["minimum_wire_compatibility_version"].split(".")[0]) == major - 1


def test_root_is_the_release_metronome_resolved(es_url: str) -> None:
    if not es_url.startswith("http://127.0.0.1"):
        pytest.skip("METRONOME_ES_URL names another cluster")
    resolved = home_version(ROOT / "var" / "es-dist")
    assert resolved is not None
    assert _get(f"{es_url}/").json()["version"]["number"] == resolved


def test_root_honours_the_clients_media_type_and_pretty(es_url: str) -> None:
    response = _get(f"{es_url}/?pretty", Accept=COMPATIBLE)
    assert response.status_code == 200
    assert _product(response) == "Elasticsearch"
    assert response.headers["Content-Type"].startswith("application/vnd.elasticsearch+json")
    assert response.text.startswith('{\n  "name" : ')
    filtered = _get(f"{es_url}/?filter_path=version.number,tagline").json()
    assert set(filtered) == {"version", "tagline"} and set(filtered["version"]) == {"number"}


def test_head_root_is_200_without_a_body(es_url: str) -> None:
    response = requests.head(f"{es_url}/", timeout=10)
    assert response.status_code == 200
    assert _product(response) == "Elasticsearch"
    assert response.content == b""


def test_the_python_client_accepts_the_node(es_url: str) -> None:
    # elasticsearch-py checks the product header on the first answer it gets; info() is GET /.
    with Elasticsearch(es_url, request_timeout=10) as client:
        info = client.info()
    assert info["tagline"] == "You Know, for Search"
    assert VERSION.match(info["version"]["number"])


def test_nodes_as_kibana_reads_them(es_url: str) -> None:
    path = "/_nodes?filter_path=nodes.*.version,nodes.*.http.publish_address,nodes.*.ip"
    response = _get(es_url + path, Accept=COMPATIBLE)
    assert response.status_code == 200
    assert _product(response) == "Elasticsearch"
    nodes = response.json()["nodes"]
    assert len(nodes) >= 1
    root = _get(f"{es_url}/").json()
    for node in nodes.values():
        assert set(node) == {"version", "http", "ip"}
        assert node["version"] == root["version"]["number"]
        assert re.fullmatch(r"[0-9.]+", node["ip"])
        host, port = node["http"]["publish_address"].rsplit(":", 1)
        assert host.endswith(node["ip"]) and port.isdigit()


def test_cluster_health_as_grafana_reads_it(es_url: str) -> None:
    response = _get(f"{es_url}/_cluster/health?wait_for_status=yellow&timeout=10s")
    assert response.status_code == 200
    assert _product(response) == "Elasticsearch"
    body = response.json()
    assert body["status"] in {"green", "yellow"}
    assert body["cluster_name"] == _get(f"{es_url}/").json()["cluster_name"]
    assert isinstance(body["number_of_nodes"], int) and body["number_of_nodes"] >= 1


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/no-such-index-for-the-test/_search", 404), ("POST", "/", 405)],
)
def test_error_answers_carry_the_product_header_too(
    es_url: str, method: str, path: str, status: int
) -> None:
    response = requests.request(method, es_url + path, timeout=10)
    assert response.status_code == status
    assert _product(response) == "Elasticsearch"


def test_data_a_newer_release_wrote_is_refused_before_the_jvm_starts(tmp_path: Path) -> None:
    home = ROOT / "var" / "es-dist"
    release = home_version(home)
    assert release is not None
    major, minor, patch = (int(part) for part in release.split("."))
    (tmp_path / "data" / "_state").mkdir(parents=True)
    (tmp_path / VERSION_FILE).write_text(f"{major}.{minor}.{patch + 1}\n")
    node = EmbeddedElasticsearch(
        EmbeddedSettings(home=home, data_dir=tmp_path, http_port=free_port(), heap="256m"),
        say=lambda message: None,
    )
    with pytest.raises(EmbeddedError, match="newer than the") as raised:
        node.start()
    assert "move the directory aside" in str(raised.value)
    assert not node.pid_file.exists() and not node.log_file.exists()
