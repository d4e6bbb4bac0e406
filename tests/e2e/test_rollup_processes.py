"""`metronome scheduler` runs the rollup job under its lease: killed with SIGKILL in the middle
of a run that recomputes the buckets of late hits (while the state says work is pending), and
started again (with more late hits that arrived meanwhile), its rollups end equal to the raw
events, and its watermarks reach the buckets that ended before the restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from elasticsearch import Elasticsearch, NotFoundError

from metronome.es.templates import create_templated_index, install_templates
from metronome.query.rollup_schema import read_watermarks
from metronome.rollups.buckets import GRAINS, floor
from tests.conftest import ROOT
from tests.rollup_job_data import hit, raw_counts, rolled, store

METRONOME = [sys.executable, "-m", "metronome.cli"]


def _wait(condition: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _state(es: Elasticsearch, prefix: str) -> dict[str, Any]:
    try:
        return dict(es.get(index=f"{prefix}-rollup-state", id="job:hits")["_source"])
    except NotFoundError:
        return {}


def _start(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*METRONOME, "scheduler"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def late_hits(now: datetime, name: str, shift: int) -> list[dict[str, Any]]:
    """One hit in each of fifteen hours of the last five days (other hours for another
    ``shift``)."""
    return [
        hit(now - timedelta(days=day, hours=5 * hour + shift, minutes=11), id=name)
        for day in range(1, 6)
        for hour in range(3)
    ]


@pytest.mark.e2e
def test_a_scheduler_killed_mid_run_leaves_rollups_equal_to_raw_after_restart(
    es_url: str, es: Elasticsearch, index_prefix: str, tmp_path: Path
) -> None:
    install_templates(es, index_prefix)
    create_templated_index(es, index_prefix, f"{index_prefix}-rollup-state")  # read while made
    now = datetime.now(UTC)
    documents = [
        hit(now - timedelta(minutes=37 * n), event=("view", "download")[n % 2], id=f"i{n % 7}")
        for n in range(1, 260)  # a week of hours
    ]
    store(es, index_prefix, documents)
    config = tmp_path / "metronome.yml"
    names = ["g0", "g1"]
    groups = [{"name": name, "dimensions": ["event", "id"]} for name in names]
    config.write_text(
        yaml.safe_dump(
            {
                "elasticsearch": {"url": es_url, "index_prefix": index_prefix},
                "spool": {"dir": str(tmp_path / "spool")},
                "logs": {"forward": {"enabled": False}},
                "scheduler": {"lease_ttl": 2},
                "rollups": {
                    "interval": 1,
                    "groups": {"hits": groups, "logs": [], "github": [], "s3": [], "metrics": []},
                },
            }
        )
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "METRONOME_CONFIG": str(config)}
    scheduler = _start(tmp_path, env)
    try:
        _wait(lambda: bool(_state(es, index_prefix).get("last_run")))  # the first run is done
        # Hits that reach Elasticsearch days late, in many hours: the next run's work.
        store(es, index_prefix, late_hits(now, "late", 0))
        _wait(lambda: bool(_state(es, index_prefix).get("pending")))  # mid-run
        os.kill(scheduler.pid, signal.SIGKILL)
        scheduler.wait()
        left = _state(es, index_prefix)
        assert left["pending"], "the run ended before the kill"
        killed_at = datetime.now(UTC)

        # More late hits while no scheduler runs.
        store(es, index_prefix, late_hits(now, "later", 2))
        scheduler = _start(tmp_path, env)

        def current() -> bool:
            """A run begun after the kill has ended, and the watermarks it wrote reach the
            buckets that ended before the kill (less rollups.settle)."""
            state = _state(es, index_prefix)
            at = state.get("last_run", {}).get("at")
            if state.get("pending") or not at or datetime.fromisoformat(at) <= killed_at:
                return False
            marks = read_watermarks(es, index_prefix, "hits")
            frontier = killed_at - timedelta(seconds=30)
            return all(
                grain in marks and marks[grain].complete_through >= floor(frontier, grain)
                for grain in GRAINS
            )

        _wait(current)
    finally:  # a run it may have begun since replaces rollups with the same values
        scheduler.kill()
        scheduler.wait()
    print(f"\nkilled with {len(left['pending'])} ranges pending")
    marks = read_watermarks(es, index_prefix, "hits")
    for grain in GRAINS:
        through = marks[grain].complete_through
        expected = raw_counts(es, index_prefix, grain, through, ["event", "id"])
        assert sum(expected.values()) > 0
        for name in names:
            assert rolled(es, index_prefix, name, grain, through) == expected, (name, grain)
