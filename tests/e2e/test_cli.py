"""The `metronome` command as a user runs it: serve, setup, and the embedded node's es commands."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from elasticsearch import ApiError, Elasticsearch

from tests.conftest import ROOT, free_port

METRONOME = [sys.executable, "-m", "metronome.cli"]


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*METRONOME, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=False,
    )


def wait_for(url: str, timeout: float = 60) -> requests.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = requests.get(url, timeout=1)
            if response.ok:
                return response
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {timeout}s")
        time.sleep(0.2)


def stored(es: Elasticsearch, index: str) -> int:
    """Documents in ``index``; 0 while its shards are still starting (Elasticsearch answers 503
    to a search of an index created a moment ago)."""
    try:
        return int(es.count(index=index)["count"])
    except ApiError as error:
        if error.meta.status != 503:
            raise
        return 0


@pytest.mark.e2e
def test_serve_with_a_configured_url_stores_and_answers_then_stops_on_ctrl_c(
    es_url: str, es: Elasticsearch, index_prefix: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "METRONOME_ES_URL": es_url,
        "METRONOME_SERVER__PORT": str(port),
        "METRONOME_SERVER__WORKERS": "1",
        "METRONOME_ELASTICSEARCH__INDEX_PREFIX": index_prefix,
        "METRONOME_SPOOL__DIR": str(tmp_path / "spool"),
        "METRONOME_LOGS__FORWARD__PORT": str(forward_port := free_port()),
    }
    process = subprocess.Popen(
        [*METRONOME, "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/readyz")
        sent = requests.post(
            f"{base}/tick", json={"id": "e2e", "event": "download", "format": "csv"}
        )
        assert sent.status_code == 202
        sent_at = time.monotonic()
        # The shipper makes it searchable within seconds; /tock is asked once it is (the public
        # /tock cache would keep an answer asked for earlier, empty, for 10 s).
        hits = f"{index_prefix}-hits-*"
        while stored(es, hits) == 0 and time.monotonic() - sent_at < 25:
            time.sleep(0.1)
        while True:
            answer = requests.get(f"{base}/tock/e2e", timeout=10).json()
            if "error" in answer:
                process.send_signal(signal.SIGINT)
                raise AssertionError(f"{answer}\n{process.communicate(timeout=60)[0]}")
            # Within seconds, plus the public /tock cache's 10 s (an empty answer is kept too).
            if answer["downloads"] or time.monotonic() - sent_at > 25:
                break
            time.sleep(0.1)
        assert answer["downloads"] == {"csv": 1}
        assert requests.get(f"{base}/metrics", timeout=5).status_code == 401  # not open
        token = (tmp_path / "keys" / "metrics.token").read_text().strip()
        scrape = {"Authorization": f"Bearer {token}"}  # as Prometheus's credentials_file
        metrics = requests.get(f"{base}/metrics", headers=scrape, timeout=5).text
        assert 'metronome_hits_accepted_total{site="default"} 1.0' in metrics
        assert 'metronome_shipped_total{stream="hits"} 1.0' in metrics
        socket.create_connection(("127.0.0.1", forward_port), timeout=5).close()  # listening
        deadline = time.monotonic() + 10  # the listener reports its counters every second
        while 'metronome_forward_total{what="connections"} 1.0' not in metrics:
            assert time.monotonic() < deadline, metrics
            time.sleep(0.2)
            metrics = requests.get(f"{base}/metrics", headers=scrape, timeout=5).text
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert f"Using Elasticsearch at {es_url}" in output
    assert f"curl -s {base}/tock/dataset-42" in output
    assert f"Fluentd / Fluent Bit forward: 127.0.0.1:{forward_port}" in output
    keys = tmp_path / "keys"
    assert (
        f"Metrics token (generated now, shown once; kept in {keys / 'metrics.token'}): {token}"
        in output
    )
    admin = (keys / "admin.key").read_text().strip()
    assert f"Admin key (generated now, shown once; kept in {keys / 'admin.key'}): {admin}" in output
    assert "exited" not in output  # the shipper and the forward listener ran the whole time
    assert "Starting Elasticsearch" not in output  # a configured URL never starts a node
    assert es.cluster.health()["status"] in ("green", "yellow")  # and is left running


@pytest.mark.e2e
def test_es_start_status_stop_on_their_own(tmp_path: Path) -> None:
    port = str(free_port())
    where = ["--data-dir", str(tmp_path / "es"), "--port", port]
    started = run("es", "start", *where)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        status = run("es", "status", "--json", *where)
        assert status.returncode == 0
        report = json.loads(status.stdout)
        assert report["running"] is True
        assert report["health"] in ("green", "yellow")
        health = requests.get(f"http://127.0.0.1:{port}/_cluster/health", timeout=5).json()
        assert health["number_of_nodes"] == 1

        again = run("es", "start", *where)
        assert "already running" in again.stdout
    finally:
        stopped = run("es", "stop", *where)
    assert stopped.returncode == 0
    assert "stopped" in stopped.stdout
    after = run("es", "status", *where)
    assert after.returncode == 1
    assert "not running" in after.stdout
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/_cluster/health", timeout=2)


@pytest.mark.e2e
def test_setup_installs_templates_into_the_configured_cluster(
    es_url: str, es: Elasticsearch, index_prefix: str
) -> None:
    result = run(
        "setup",
        env={"METRONOME_ES_URL": es_url, "METRONOME_ELASTICSEARCH__INDEX_PREFIX": index_prefix},
    )
    assert result.returncode == 0, result.stderr
    assert f"installed index template {index_prefix}-hits" in result.stdout
    assert es.indices.exists_index_template(name=f"{index_prefix}-hits")


@pytest.mark.e2e
def test_a_wrong_setting_stops_start_up_naming_it() -> None:
    result = run("serve", env={"METRONOME_SERVER__PORT": "not-a-port"})
    assert result.returncode != 0
    assert "server.port: Not a valid integer." in result.stderr


@pytest.mark.e2e
def test_serve_refuses_a_port_in_use_at_once_without_starting_anything() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        # No elasticsearch.url: a check made after start-up would first start the embedded node.
        result = run("serve", env={"METRONOME_SERVER__PORT": str(port)}, timeout=30)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr
    assert "Starting Elasticsearch" not in result.stdout + result.stderr
