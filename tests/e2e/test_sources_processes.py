"""`metronome sources ...` and `metronome scheduler` as real processes.

The source type comes from a third-party package registered by an entry point (a dist-info
written into a directory on PYTHONPATH), so this also proves that plug-in route end to end.
Two schedulers run at once: exactly one runs the sources; kill -9 it and the other takes over.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from elasticsearch import Elasticsearch

from metronome.es.templates import install_templates
from tests.conftest import ROOT
from tests.integration.sources.contract import Scenario
from tests.integration.sources.scenarios.paged_example import scenario

METRONOME = [sys.executable, "-m", "metronome.cli"]
ENTRY_POINT = "paged_example = tests.integration.sources.scenarios.paged_example:PagedExampleSource"


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[Scenario]:
    with scenario(tmp_path) as built:
        yield built


@pytest.fixture
def plugin_path(tmp_path: Path, es: Elasticsearch, index_prefix: str) -> str:
    """PYTHONPATH with the plug-in's dist-info (and the templates of this test's prefix)."""
    install_templates(es, index_prefix)
    dist = tmp_path / "plugins" / "metronome_example-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: metronome-example\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[metronome.sources]\n{ENTRY_POINT}\n")
    return os.pathsep.join([str(tmp_path / "plugins"), str(ROOT)])


@pytest.fixture
def cli(
    es_url: str, index_prefix: str, tmp_path: Path, remote: Scenario, plugin_path: str
) -> Callable[..., subprocess.CompletedProcess[str]]:
    config = tmp_path / "metronome.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "elasticsearch": {"url": es_url, "index_prefix": index_prefix},
                "spool": {"dir": str(tmp_path / "spool")},
                "scheduler": {"lease_ttl": 2, "run_lease_ttl": 2, "attempts": 2},
                "sources": {"remote": {"type": "paged_example", "interval": 1, **remote.options}},
            }
        )
    )
    env = {**os.environ, "PYTHONPATH": plugin_path, "METRONOME_CONFIG": str(config)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*METRONOME, *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            env=env,
            check=False,
        )

    run.env = env  # type: ignore[attr-defined]
    return run


def _count(es: Elasticsearch, index_prefix: str) -> int:
    es.indices.refresh(index=f"{index_prefix}-example-*", allow_no_indices=True)
    found = es.count(index=f"{index_prefix}-example-*", allow_no_indices=True)
    return int(found["count"])


@pytest.mark.e2e
def test_run_status_backfill_and_a_failing_source_from_the_command_line(
    cli: Callable[..., subprocess.CompletedProcess[str]],
    remote: Scenario,
    es: Elasticsearch,
    index_prefix: str,
) -> None:
    listed = cli("sources", "list")
    assert listed.returncode == 0, listed.stderr
    assert "remote: paged_example -> stream example, site default, every 1s" in listed.stdout

    first = cli("sources", "run", "remote")
    assert first.returncode == 0, first.stderr
    assert "up to record 4" in first.stdout  # progress, page by page
    assert "10 documents (10 new" in first.stdout
    assert _count(es, index_prefix) == 10

    backfill = cli("sources", "backfill", "remote", "--from", "2024-05-01", "--to", "2024-05-02")
    assert backfill.returncode == 0, backfill.stderr
    assert "back-filling 2024-05-01..2024-05-02" in backfill.stdout
    assert "(0 new" in backfill.stdout and _count(es, index_prefix) == 10

    status = cli("sources", "status", "--json")
    assert status.returncode == 0, status.stderr
    row = json.loads(status.stdout)["sources"][0]
    assert row["cursor"] == {"after": 10} and row["documents_total"] == 10  # back-fill kept it

    remote.fail()
    failed = cli("sources", "run", "remote")
    assert failed.returncode == 1
    assert "FAILED" in failed.stdout and "503" in failed.stdout
    status = cli("sources", "status")
    assert status.returncode == 1  # a failing source makes `status` fail, for cron checks
    assert "failing (1 runs)" in status.stdout

    unknown = cli("sources", "run", "nope")
    assert unknown.returncode == 2 and "no source named 'nope' (remote)" in unknown.stderr
    backwards = cli("sources", "backfill", "remote", "--from", "2024-05-02", "--to", "2024-05-01")
    assert backwards.returncode == 2 and "starts" in backwards.stderr


def _holder(cli: Callable[..., subprocess.CompletedProcess[str]]) -> str | None:
    status = json.loads(cli("sources", "status", "--json").stdout)
    scheduler: dict[str, Any] | None = status["scheduler"]
    return None if scheduler is None else str(scheduler["holder"])


def _wait(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


@pytest.mark.e2e
def test_two_schedulers_run_each_source_once_and_the_survivor_takes_over_a_kill_9(
    cli: Callable[..., subprocess.CompletedProcess[str]],
    remote: Scenario,
    es: Elasticsearch,
    index_prefix: str,
    tmp_path: Path,
) -> None:
    env = cli.env  # type: ignore[attr-defined]
    schedulers = [
        subprocess.Popen(
            [*METRONOME, "scheduler"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        _wait(lambda: _count(es, index_prefix) == 10)
        holder = _holder(cli)
        assert holder is not None
        pid = int(holder.split(":")[1])
        assert pid in {p.pid for p in schedulers}
        remote.add_data()
        _wait(lambda: _count(es, index_prefix) == 13)  # the interval (1 s) runs it again

        os.kill(pid, signal.SIGKILL)
        survivor = next(p for p in schedulers if p.pid != pid)
        _wait(lambda: (h := _holder(cli)) is not None and h.split(":")[1] == str(survivor.pid))
        remote.add_data()
        _wait(lambda: _count(es, index_prefix) == 16)
        assert survivor.poll() is None
    finally:
        for process in schedulers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in schedulers:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    found = es.search(
        index=f"{index_prefix}-example-*",
        size=0,
        aggs={"ids": {"cardinality": {"field": "record_id"}}},
    )
    assert found["aggregations"]["ids"]["value"] == 16  # each record once
    assert _holder(cli) is None  # the survivor released its lease on SIGTERM


@pytest.mark.e2e
def test_an_unreachable_elasticsearch_is_a_one_line_error(
    cli: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    env = {**cli.env, "METRONOME_ES_URL": "http://127.0.0.1:9"}  # type: ignore[attr-defined]
    for command in (["sources", "status"], ["sources", "run", "remote"]):
        answer = subprocess.run(
            [*METRONOME, *command], capture_output=True, text=True, timeout=120, cwd=tmp_path,
            env=env, check=False,
        )  # fmt: skip
        assert answer.returncode == 1
        assert answer.stderr.startswith("Error: Elasticsearch did not answer"), answer.stderr
        assert "Traceback" not in answer.stderr
